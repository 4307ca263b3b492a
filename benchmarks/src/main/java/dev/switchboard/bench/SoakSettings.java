package dev.switchboard.bench;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What a {@link Soak} run does: how long it churns, how many topics, steady subscribers, churners and
 * publishes, the payload sizes, and the hub's JVM. {@link #full} is the 20-minute soak;
 * {@link #smoke} the 2-minute version of CI's smoke test, scaled down so that a loaded 2-core machine
 * keeps up, with every kind of actor still present.
 *
 * @param duration how long publishers and churners run (the measured part; start-up, the wait for
 *     descriptors and the final settling come on top)
 * @param topics topics {@code soak-00}, {@code soak-01}, ...
 * @param steadySubscribers subscribers that stay for the whole run, spread over the topics and over
 *     {@link SteadySubscribers#KINDS}
 * @param churnPerSecond short-lived subscribers started per second
 * @param publishesPerSecond publishes per second over all topics and lanes
 * @param minPayload smallest payload in bytes
 * @param maxPayload largest payload in bytes
 * @param hubHeap the hub's {@code -Xmx}
 * @param out where the JSON report goes (the hub's log and GC log go next to it)
 * @param demoJar the demo jar to run, or null for {@code dev.switchboard.examples.DemoHub} from this
 *     JVM's class path
 * @param heapSlackBytes how much the live heap may grow over the second half of the run and still
 *     count as flat (plus 10 % of its mid-run value)
 * @param descriptorWait how long descriptors may take to come back after the churners stop
 */
record SoakSettings(Duration duration, int topics, int steadySubscribers, double churnPerSecond,
    double publishesPerSecond, int minPayload, int maxPayload, String hubHeap, Path out, Path demoJar,
    long heapSlackBytes, Duration descriptorWait) {

  /** Runs shorter than this are too short for a judgement on heap growth (history is still filling). */
  static final Duration MIN_FOR_HEAP_JUDGEMENT = Duration.ofMinutes(4);

  SoakSettings {
    if (duration.isNegative() || duration.isZero() || topics < 1 || steadySubscribers < 1 || churnPerSecond < 0
        || publishesPerSecond <= 0 || minPayload < 32 || maxPayload < minPayload) {
      throw new IllegalArgumentException("invalid soak settings: " + duration + " " + topics + " topics, "
          + steadySubscribers + " steady, " + churnPerSecond + " churn/s, " + publishesPerSecond
          + " publishes/s, payload " + minPayload + "-" + maxPayload + " B (at least 32 B)");
    }
  }

  /** The full soak: 50 topics, 300 steady subscribers, 30 churners and 500 publishes a second. */
  static SoakSettings full(int minutes) {
    return new SoakSettings(Duration.ofMinutes(minutes), 50, 300, 30, 500, 100, 8192, "512m",
        Path.of("benchmarks/target/soak.json"), null, 32L << 20, Duration.ofSeconds(60));
  }

  /**
   * CI's 2-minute soak: 8 topics, 16 steady subscribers (each kind twice), 4 churners and 40 publishes
   * a second; payloads and hub heap as in the full run.
   */
  static SoakSettings smoke() {
    return new SoakSettings(Duration.ofMinutes(2), 8, 16, 4, 40, 100, 8192, "512m",
        Path.of("benchmarks/target/soak-smoke.json"), null, 32L << 20, Duration.ofSeconds(60));
  }

  SoakSettings withDuration(Duration d) {
    return new SoakSettings(d, topics, steadySubscribers, churnPerSecond, publishesPerSecond, minPayload,
        maxPayload, hubHeap, out, demoJar, heapSlackBytes, descriptorWait);
  }

  SoakSettings withOut(Path p) {
    return new SoakSettings(duration, topics, steadySubscribers, churnPerSecond, publishesPerSecond, minPayload,
        maxPayload, hubHeap, p, demoJar, heapSlackBytes, descriptorWait);
  }

  SoakSettings withDemoJar(Path p) {
    return new SoakSettings(duration, topics, steadySubscribers, churnPerSecond, publishesPerSecond, minPayload,
        maxPayload, hubHeap, out, p, heapSlackBytes, descriptorWait);
  }

  SoakSettings withLoad(int topics, int steady, double churn, double publishes) {
    return new SoakSettings(duration, topics, steady, churn, publishes, minPayload, maxPayload, hubHeap, out,
        demoJar, heapSlackBytes, descriptorWait);
  }

  /** The topic name of index {@code i}. */
  String topic(int i) {
    return String.format(java.util.Locale.ROOT, "soak-%02d", i);
  }

  /** Whether the run is long enough to judge heap growth. */
  boolean judgesHeap() {
    return duration.compareTo(MIN_FOR_HEAP_JUDGEMENT) >= 0;
  }
}
