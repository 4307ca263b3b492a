package dev.switchboard.bench;

import io.grpc.ManagedChannel;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The soak: the demo hub, forked with its own defaults under {@code -Xmx512m} and
 * {@code -XX:+ExitOnOutOfMemoryError} ({@link SoakHub}), under a bounded run of
 * <ul>
 *   <li>steady subscribers on every transport, over the project's {@code Channel} and over raw
 *   clients, each checking every message once and in order ({@link SteadySubscribers},
 *   {@link SequenceCheck});
 *   <li>churning short-lived subscribers that resume, close abruptly or never read ({@link Churners});
 *   <li>publishers on five paths: REST with and without Idempotency-Key, WebSocket, gRPC unary and
 *   gRPC Connect, each topic's lanes numbering their messages ({@link SoakPublishers},
 *   {@link SoakLedger}).
 * </ul>
 * It samples the hub's descriptors and threads, and its live heap after a full GC once a minute.
 * When the churn ends it waits (up to a minute) for the descriptors to come back to their level
 * before it, stops the publishers, waits for the steady subscribers to catch up, and judges the goals:
 * no silent gap, no duplicate, in order, intact payloads, no OutOfMemoryError, the heap flat over the
 * second half, descriptors back ({@link SoakReport#goals}). It prints a table, writes JSON (the hub's
 * log and GC log go next to it) and exits 1 when a goal failed.
 *
 * <p>Usage: {@code Soak [--minutes 20] [--smoke] [--topics 50] [--steady 300] [--churn-per-second 30]
 * [--publishes-per-second 500] [--out benchmarks/target/soak.json] [--demo-jar examples/target/switchboard-demo.jar]}.
 * {@code --smoke} is the 2-minute CI run (8 topics, 16 steady, 4 churners/s, 40 publishes/s).
 */
public final class Soak {
  private static final Duration SAMPLE_EVERY = Duration.ofSeconds(5);

  private Soak() {}

  /**
   * On a machine with two cores the common pool has one thread, and CompletableFuture then starts a
   * new thread for every async step; the JDK's HttpClient takes one such step at the end of every
   * {@code sendAsync}, so the soak's clients would start hundreds of threads a second. Set before
   * anything uses CompletableFuture (here, and in the smoke test's JVM by the module's pom).
   */
  static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

  public static void main(String[] args) throws Exception {
    if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
      System.setProperty(COMMON_POOL_PARALLELISM, "4");
    }
    SoakSettings s;
    try {
      s = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("soak: " + e.getMessage());
      System.err.println("usage: Soak [--minutes 20] [--smoke] [--topics 50] [--steady 300] [--churn-per-second 30]"
          + " [--publishes-per-second 500] [--out FILE.json] [--demo-jar switchboard-demo.jar]");
      System.exit(2);
      return;
    }
    SoakReport r = run(s, System.out);
    System.exit(r.passed() ? 0 : 1);
  }

  /** @throws IllegalArgumentException naming a bad or unknown option */
  static SoakSettings parse(String[] args) {
    boolean smoke = List.of(args).contains("--smoke");
    SoakSettings s = smoke ? SoakSettings.smoke() : SoakSettings.full(20);
    int topics = s.topics();
    int steady = s.steadySubscribers();
    double churn = s.churnPerSecond();
    double publishes = s.publishesPerSecond();
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--smoke": break;
          case "--minutes": s = s.withDuration(Duration.ofSeconds(Math.round(Double.parseDouble(value(args, ++i)) * 60)));
            break;
          case "--topics": topics = Integer.parseInt(value(args, ++i)); break;
          case "--steady": steady = Integer.parseInt(value(args, ++i)); break;
          case "--churn-per-second": churn = Double.parseDouble(value(args, ++i)); break;
          case "--publishes-per-second": publishes = Double.parseDouble(value(args, ++i)); break;
          case "--out": s = s.withOut(Path.of(value(args, ++i))); break;
          case "--demo-jar": s = s.withDemoJar(Path.of(value(args, ++i))); break;
          default: throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a number: " + e.getMessage());
    }
    return s.withLoad(topics, steady, churn, publishes);
  }

  private static String value(String[] args, int i) {
    if (i >= args.length) {
      throw new IllegalArgumentException(args[i - 1] + " needs a value");
    }
    return args[i];
  }

  /** Runs the soak, printing progress and the table to {@code out}; writes the JSON report. */
  static SoakReport run(SoakSettings s, PrintStream out) throws Exception {
    Instant startedAt = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    long t0 = System.nanoTime();
    Path json = s.out().toAbsolutePath();
    Path dir = json.getParent().resolve(json.getFileName().toString().replaceFirst("\\.json$", "") + "-hub");
    out.printf(Locale.ROOT, "soak: starting the demo hub (-Xmx%s, logs in %s)%n", s.hubHeap(), dir);
    SoakReport report;
    try (SoakHub hub = SoakHub.start(s, dir)) {
      report = new Run(s, hub, out, t0, startedAt).run();
    }
    out.println();
    out.print(report.table());
    Files.createDirectories(json.getParent());
    Files.writeString(json, report.json());
    out.println("wrote " + json);
    return report;
  }

  /** One run against a started hub: the phases in order. */
  private static final class Run {
    private final SoakSettings s;
    private final SoakHub hub;
    private final PrintStream out;
    private final long t0;
    private final Instant startedAt;
    private final List<SoakReport.HeapSample> heap = new ArrayList<>();
    private SoakReport.Sample peak = new SoakReport.Sample(0, 0, 0);
    /** The minute of the churn at which the hub was found gone; -1 while it runs. */
    private double exitedAtMinute = -1;

    Run(SoakSettings s, SoakHub hub, PrintStream out, long t0, Instant startedAt) {
      this.s = s;
      this.hub = hub;
      this.out = out;
      this.t0 = t0;
      this.startedAt = startedAt;
    }

    SoakReport run() throws Exception {
      // The first jcmd makes the hub open its attach socket: take it before the idle sample.
      heap.add(new SoakReport.HeapSample(-1, hub.liveHeapAfterGc(), hub.descriptors(), hub.threads(), 0, 0,
          machineLoad()));
      SoakReport.Sample idle = sample();
      SoakLedger ledger = new SoakLedger(s.topics());
      try (SoakClients clients = new SoakClients(hub.httpUrl(), hub.grpcPort())) {
        ManagedChannel unary = clients.newGrpcChannel();
        try (SoakPublishers publishers = new SoakPublishers(s, ledger, hub.httpUrl(), hub.grpcPort(), unary);
            SteadySubscribers steady = new SteadySubscribers(clients, s, ledger);
            Churners churn = new Churners(clients, s, ledger, steady)) {
          publishers.start();
          int notStarted = steady.awaitStarted(Duration.ofMinutes(1));
          log("%d steady subscribers connected, %d without a message yet; warming up", steady.size(), notStarted);
          Thread.sleep(warmUp().toMillis());
          SoakReport.Sample baseline = baseline();
          java.util.Map<String, Integer> kindsAtBaseline = hub.descriptorKinds();
          SoakReport.HeapSample before = heapSample(0, steady, churn);
          heap.add(before);
          log("baseline: %d descriptors, %d threads, live heap %s; churning for %.1f min", baseline.descriptors(),
              baseline.threads(), mb(before.liveBytes()), s.duration().toSeconds() / 60.0);

          long churnStart = System.nanoTime();
          publishers.resetLatency();
          churn.start();
          churnUntil(churnStart, steady, churn, publishers);
          long stopped = System.nanoTime();
          churn.stop();
          SoakReport.Sample afterChurn;
          java.util.Map<String, Integer> kindsAfterChurn = java.util.Map.of();
          double returnSeconds = -1;
          if (hub.alive()) {
            int bound = SoakReport.descriptorBound(baseline.descriptors());
            afterChurn = awaitDescriptors(bound, s.descriptorWait());
            kindsAfterChurn = hub.descriptorKinds();
            if (afterChurn.descriptors() >= 0 && afterChurn.descriptors() <= bound) {
              returnSeconds = (System.nanoTime() - stopped) / 1e9;
            }
            log("churn stopped after %d churners; descriptors %d (baseline %d) %s", churn.started(),
                afterChurn.descriptors(), baseline.descriptors(), returnSeconds >= 0
                    ? String.format(Locale.ROOT, "back within %.1f s", returnSeconds) : "NOT back");
          } else {
            afterChurn = sample();
          }
          publishers.stop();
          double settleSeconds = -1;
          if (hub.alive()) {
            settleSeconds = steady.settle(Duration.ofSeconds(30)).toNanos() / 1e9;
            heap.add(heapSample(minutesSince(churnStart), steady, churn));
          }
          Integer exit = hub.exitCode();
          // Every client goes now (closing twice is harmless), so the hub's own level can be measured.
          steady.close();
          publishers.close();
          churn.close();
          unary.shutdownNow();
          clients.close();
          SoakReport.Sample afterAll = hub.alive() ? awaitDescriptors(
              SoakReport.descriptorBound(idle.descriptors()), Duration.ofSeconds(30)) : sample();
          return new SoakReport(s, startedAt.toString(), (System.nanoTime() - t0) / 1e9, hub.pid(), notStarted,
              idle, baseline, peak, afterChurn, returnSeconds, afterAll, kindsAtBaseline, kindsAfterChurn, heap, steady.sizeByKind(),
              steady.countsByKind(), churn.startedBy(), churn.counts(), churn.withoutCheckpoint(),
              publishers.stats(), publishers.failures(), clients.events(), hub.outOfMemory(), exit, exitedAtMinute,
              hub.logSummary(), settleSeconds);
        }
      }
    }

    /** A tenth of the run, between 10 s and 30 s: connections settle and the JIT warms up before the baseline. */
    private Duration warmUp() {
      long seconds = Math.max(10, Math.min(30, s.duration().toSeconds() / 10));
      return Duration.ofSeconds(seconds);
    }

    /** The highest of five samples a second apart: the level the churn must come back to. */
    private SoakReport.Sample baseline() throws InterruptedException {
      SoakReport.Sample best = sample();
      for (int i = 0; i < 4; i++) {
        Thread.sleep(1000);
        SoakReport.Sample x = sample();
        if (x.descriptors() > best.descriptors()) {
          best = x;
        }
      }
      return best;
    }

    /** Churns for the run's duration, sampling every 5 s and the heap every minute; ends early if the hub dies. */
    private void churnUntil(long churnStart, SteadySubscribers steady, Churners churn, SoakPublishers publishers)
        throws InterruptedException {
      long end = churnStart + s.duration().toNanos();
      long nextHeap = churnStart + Duration.ofMinutes(1).toNanos();
      while (System.nanoTime() < end) {
        Thread.sleep(Math.min(SAMPLE_EVERY.toMillis(), Math.max(1, (end - System.nanoTime()) / 1_000_000)));
        if (!hub.alive()) {
          exitedAtMinute = Math.round(minutesSince(churnStart) * 10) / 10.0;
          log("the hub exited with code %d%s; stopping", hub.exitCode(), hub.outOfMemory() ? " (OutOfMemoryError)" : "");
          return;
        }
        sample();
        if (System.nanoTime() >= nextHeap) {
          nextHeap += Duration.ofMinutes(1).toNanos();
          SoakReport.HeapSample h = heapSample(minutesSince(churnStart), steady, churn);
          heap.add(h);
          SequenceCheck.Counts c = steady.countsByKind().values().stream()
              .reduce(SequenceCheck.Counts.ZERO, SequenceCheck.Counts::plus);
          log("minute %.0f: live heap %s, %d descriptors, %d threads; %d deliveries (%d gaps, %d dups), %d churned"
              + " (%d live), %d published (%d failed); machine load %.1f", h.minute(), mb(h.liveBytes()),
              h.descriptors(), h.threads(), h.deliveries(), c.gaps(), c.duplicates(), h.churned(), churn.live(),
              publishers.acked(), publishers.failed(), h.load());
        }
      }
    }

    private SoakReport.Sample awaitDescriptors(int bound, Duration wait) throws InterruptedException {
      long deadline = System.nanoTime() + wait.toNanos();
      SoakReport.Sample x = sample();
      while ((x.descriptors() < 0 || x.descriptors() > bound) && System.nanoTime() < deadline && hub.alive()) {
        Thread.sleep(500);
        x = sample();
      }
      return x;
    }

    private SoakReport.HeapSample heapSample(double minute, SteadySubscribers steady, Churners churn) {
      long live = hub.liveHeapAfterGc();
      return new SoakReport.HeapSample(Math.round(minute * 10) / 10.0, live, hub.descriptors(), hub.threads(),
          steady.delivered(), churn.started(), machineLoad());
    }

    /** The 1-minute load average: the soak shares its machine, and a loaded one slows everything. */
    private static double machineLoad() {
      try {
        return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
      } catch (java.io.IOException | RuntimeException e) {
        return -1;
      }
    }

    private SoakReport.Sample sample() {
      SoakReport.Sample x = new SoakReport.Sample((System.nanoTime() - t0) / 1e9, hub.descriptors(), hub.threads());
      if (x.descriptors() > peak.descriptors()) {
        peak = new SoakReport.Sample(x.atSeconds(), x.descriptors(), Math.max(x.threads(), peak.threads()));
      } else if (x.threads() > peak.threads()) {
        peak = new SoakReport.Sample(peak.atSeconds(), peak.descriptors(), x.threads());
      }
      return x;
    }

    private static double minutesSince(long start) {
      return (System.nanoTime() - start) / 60e9;
    }

    private static String mb(long bytes) {
      return bytes < 0 ? "?" : String.format(Locale.ROOT, "%.1f MB", bytes / 1048576.0);
    }

    private void log(String format, Object... args) {
      out.printf(Locale.ROOT, "%6.1fs %s%n", (System.nanoTime() - t0) / 1e9, String.format(Locale.ROOT, format, args));
    }
  }
}
