package dev.switchboard.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of one {@link Soak} run, the goals judged from them, and their table and JSON.
 *
 * @param hubExit the hub's exit code when it ended by itself during the run; null when it ran until
 *     the soak stopped it
 * @param hubExitedAtMinute the minute of the churn at which the hub was found gone; -1 when it was not
 * @param heap live heap after a full GC: one sample before the churn starts, one a minute during it,
 *     one at the end
 * @param descriptorReturnSeconds how long after the churners stopped the hub's descriptors took to
 *     come back to the baseline; -1 when they did not within the wait
 * @param kindsAtBaseline the hub's descriptors by kind at the baseline ({@link SoakHub#descriptorKinds})
 * @param kindsAfterChurn the same once they came back, or at the end of the wait when they did not
 */
record SoakReport(SoakSettings settings, String startedAt, double seconds, long hubPid, int steadyNotStarted,
    Sample idle, Sample baseline, Sample peak, Sample afterChurn, double descriptorReturnSeconds, Sample afterAll,
    Map<String, Integer> kindsAtBaseline, Map<String, Integer> kindsAfterChurn,
    List<HeapSample> heap, Map<String, Integer> steadySizes, Map<String, SequenceCheck.Counts> steady,
    Map<String, Long> churnStarted, Map<String, SequenceCheck.Counts> churn, long churnWithoutCheckpoint,
    List<SoakPublishers.KindStats> publishes, Map<String, Long> publishFailures, Map<String, Long> events,
    boolean outOfMemory, Integer hubExit, double hubExitedAtMinute, SoakHub.LogSummary log, double settleSeconds) {

  /** Descriptors and threads of the hub process at one moment. */
  record Sample(double atSeconds, int descriptors, int threads) {}

  /**
   * Live heap after GC at a minute of the churn (-1: the idle hub before any client; 0: just before
   * the churn started), with the deliveries so far and the machine's load (its 1-minute load
   * average, {@code /proc/loadavg}; -1 when unknown).
   */
  record HeapSample(double minute, long liveBytes, int descriptors, int threads, long deliveries, long churned,
      double load) {}

  /** One goal and whether the run met it. */
  record Goal(String name, boolean met, String detail) {}

  /** Descriptors count as back at the baseline within this many of it, plus 1 %. */
  static final int DESCRIPTOR_SLACK = 2;

  static int descriptorBound(int baseline) {
    return baseline + DESCRIPTOR_SLACK + baseline / 100;
  }

  SequenceCheck.Counts steadyTotal() {
    return steady.values().stream().reduce(SequenceCheck.Counts.ZERO, SequenceCheck.Counts::plus);
  }

  SequenceCheck.Counts churnTotal() {
    return churn.values().stream().reduce(SequenceCheck.Counts.ZERO, SequenceCheck.Counts::plus);
  }

  SequenceCheck.Counts total() {
    return steadyTotal().plus(churnTotal());
  }

  List<Goal> goals() {
    List<Goal> goals = new ArrayList<>();
    SequenceCheck.Counts t = total();
    goals.add(new Goal("no silent gaps", t.gaps() == 0, t.gaps() + " messages acknowledged to a publisher never"
        + " reached a subscriber that should have had them"));
    goals.add(new Goal("no duplicates", t.duplicates() == 0, t.duplicates() + " delivered twice"));
    goals.add(new Goal("in order", t.reorders() == 0, t.reorders() + " delivered after a later one of their lane"));
    goals.add(new Goal("payloads intact", t.corrupt() == 0, t.corrupt() + " payloads not as published"));
    goals.add(new Goal("every steady subscriber delivering", steadyNotStarted == 0,
        steadyNotStarted + " of " + steadySizes.values().stream().mapToInt(Integer::intValue).sum()
            + " had no message within a minute"));
    goals.add(new Goal("no OutOfMemoryError", !outOfMemory, outOfMemory ? "the hub ran out of heap (see its log)"
        : "none in the hub's output"));
    goals.add(new Goal("hub up to the end", hubExit == null, hubExit == null ? "it ran until the soak stopped it"
        : String.format(Locale.ROOT, "it exited with code %d at minute %.1f of the churn", hubExit,
            hubExitedAtMinute)));
    goals.add(heapGoal());
    if (hubExit != null) {
      goals.add(new Goal("descriptors back to baseline", false, "not measured: the hub exited during the run"));
      return goals;
    }
    goals.add(new Goal("descriptors back to baseline", descriptorReturnSeconds >= 0,
        descriptorReturnSeconds >= 0
            ? String.format(Locale.ROOT, "%d -> %d within %.1f s (bound %d)", baseline.descriptors(),
                afterChurn.descriptors(), descriptorReturnSeconds, descriptorBound(baseline.descriptors()))
            : String.format(Locale.ROOT, "%d after %d s, baseline %d (bound %d)", afterChurn.descriptors(),
                settings.descriptorWait().toSeconds(), baseline.descriptors(),
                descriptorBound(baseline.descriptors()))));
    return goals;
  }

  /**
   * The live heap is flat when it grew by at most {@code heapSlackBytes} + 10 % over the second half
   * of the run (from the sample nearest the middle of the churn to the last one, taken once the
   * subscribers have caught up). Not judged on runs
   * shorter than {@link SoakSettings#MIN_FOR_HEAP_JUDGEMENT}: history is still filling.
   */
  Goal heapGoal() {
    if (!settings.judgesHeap()) {
      return new Goal("heap flat", true, "not judged: runs under " + SoakSettings.MIN_FOR_HEAP_JUDGEMENT.toMinutes()
          + " minutes are too short (history still filling)");
    }
    List<HeapSample> during = heap.stream().filter(h -> h.minute() > 0 && h.liveBytes() >= 0).toList();
    if (hubExit != null) {
      HeapSample start = heap.stream().filter(h -> h.minute() == 0).findFirst().orElse(null);
      HeapSample last = during.isEmpty() ? start : during.get(during.size() - 1);
      return new Goal("heap flat", false, start == null || last == null ? "the hub exited before it was measured"
          : String.format(Locale.ROOT, "the hub exited at minute %.1f; live heap %.0f MB at minute 0, %.0f MB at"
              + " minute %.1f", hubExitedAtMinute, mb(start.liveBytes()), mb(last.liveBytes()), last.minute()));
    }
    if (during.size() < 2 || during.size() < heap.stream().filter(h -> h.minute() > 0).count()) {
      return new Goal("heap flat", false, "not measured through the run (" + during.size() + " samples)");
    }
    double end = during.get(during.size() - 1).minute();
    HeapSample mid = during.stream().min(java.util.Comparator.comparingDouble(h -> Math.abs(h.minute() - end / 2)))
        .orElseThrow();
    HeapSample last = during.get(during.size() - 1);
    long bound = mid.liveBytes() + settings.heapSlackBytes() + mid.liveBytes() / 10;
    return new Goal("heap flat", last.liveBytes() <= bound, String.format(Locale.ROOT,
        "%.0f MB at minute %.0f, %.0f MB at minute %.0f (bound %.0f MB)", mb(mid.liveBytes()), mid.minute(),
        mb(last.liveBytes()), last.minute(), mb(bound)));
  }

  boolean passed() {
    return goals().stream().allMatch(Goal::met);
  }

  private static double mb(long bytes) {
    return bytes / 1048576.0;
  }

  /** The summary table printed at the end of a run. */
  String table() {
    StringBuilder sb = new StringBuilder();
    SoakSettings s = settings;
    sb.append(String.format(Locale.ROOT, "Switchboard soak, %s: %.1f min of churn, %d topics, %d steady subscribers,"
        + " %.0f churners/s, %.0f publishes/s of %d-%d B; demo hub -Xmx%s (pid %d)%n", startedAt,
        s.duration().toSeconds() / 60.0, s.topics(), s.steadySubscribers(), s.churnPerSecond(),
        s.publishesPerSecond(), s.minPayload(), s.maxPayload(), s.hubHeap(), hubPid));
    sb.append(String.format(Locale.ROOT, "%n%-24s %6s %11s %6s %6s %8s %8s %7s%n", "subscribers", "n", "deliveries",
        "gaps", "dups", "reorders", "corrupt", "resets"));
    steady.forEach((kind, c) -> row(sb, "steady " + kind, steadySizes.getOrDefault(kind, 0), c));
    churn.forEach((kind, c) -> row(sb, "churn " + kind, churnStarted.getOrDefault(kind, 0L), c));
    row(sb, "total", steadySizes.values().stream().mapToLong(Integer::longValue).sum()
        + churnStarted.values().stream().mapToLong(Long::longValue).sum(), total());
    if (churnWithoutCheckpoint > 0) {
      sb.append(churnWithoutCheckpoint).append(" resume churners found no checkpoint yet and subscribed live\n");
    }
    sb.append(String.format(Locale.ROOT, "%n%-14s %9s %9s %7s %8s %8s %8s %8s%n", "publishes", "attempted", "acked",
        "failed", "skipped", "p50 ms", "p99 ms", "max ms"));
    for (SoakPublishers.KindStats k : publishes) {
      sb.append(String.format(Locale.ROOT, "%-14s %9d %9d %7d %8d %8.1f %8.1f %8.1f%n", k.kind(), k.attempted(),
          k.acked(), k.failed(), k.skippedBusy(), k.p50() / 1000.0, k.p99() / 1000.0, k.max() / 1000.0));
    }
    publishFailures.forEach((k, v) -> sb.append("  failed: ").append(k).append(" x").append(v).append('\n'));
    sb.append(String.format(Locale.ROOT, "%n%-12s %6s %9s %6s %12s %10s%n", "hub", "idle", "baseline", "peak",
        "after churn", "after all"));
    sb.append(String.format(Locale.ROOT, "%-12s %6d %9d %6d %12d %10d%n", "descriptors", idle.descriptors(),
        baseline.descriptors(), peak.descriptors(), afterChurn.descriptors(), afterAll.descriptors()));
    sb.append(String.format(Locale.ROOT, "%-12s %6d %9d %6d %12d %10d%n", "threads", idle.threads(),
        baseline.threads(), peak.threads(), afterChurn.threads(), afterAll.threads()));
    sb.append(hubExit != null ? "descriptors not measured after the churn: the hub exited\n"
        : descriptorReturnSeconds >= 0
        ? String.format(Locale.ROOT, "descriptors back to baseline %.1f s after the churners stopped%n",
            descriptorReturnSeconds)
        : String.format(Locale.ROOT, "descriptors NOT back to baseline %d s after the churners stopped%n",
            settings.descriptorWait().toSeconds()));
    java.util.Set<String> kinds = new java.util.TreeSet<>(kindsAtBaseline.keySet());
    kinds.addAll(kindsAfterChurn.keySet());
    sb.append(String.format(Locale.ROOT, "%-24s %9s %12s%n", "hub descriptors by kind", "baseline", "after churn"));
    for (String k : kinds) {
      sb.append(String.format(Locale.ROOT, "  %-22s %9d %12d%n", k, kindsAtBaseline.getOrDefault(k, 0),
          kindsAfterChurn.getOrDefault(k, 0)));
    }
    sb.append(String.format(Locale.ROOT, "%n%-8s %8s %11s %7s %11s %8s %13s%n", "minute", "heap MB", "descriptors",
        "threads", "deliveries", "churned", "machine load"));
    for (HeapSample h : heap) {
      sb.append(String.format(Locale.ROOT, "%8s %8s %11d %7d %11d %8d %13.1f%n",
          h.minute() < 0 ? "idle" : String.format(Locale.ROOT, "%.1f", h.minute()),
          h.liveBytes() < 0 ? "?" : String.format(Locale.ROOT, "%.1f", mb(h.liveBytes())), h.descriptors(),
          h.threads(), h.deliveries(), h.churned(), h.load()));
    }
    sb.append(String.format(Locale.ROOT, "(heap: live after a full GC; load: 1-minute load average of this"
        + " %d-core machine)%n", Runtime.getRuntime().availableProcessors()));
    sb.append(String.format(Locale.ROOT, "%nhub log: %d WARN, %d ERROR, %d stack-trace lines%n", log.warnLines(),
        log.errorLines(), log.stackTraceLines()));
    log.messages().forEach((m, n) -> sb.append("  x").append(n).append(' ').append(m).append('\n'));
    if (!events.isEmpty()) {
      sb.append("\nconnection events:\n");
      events.forEach((k, v) -> sb.append("  ").append(k).append(" x").append(v).append('\n'));
    }
    sb.append(settleSeconds >= 0
        ? String.format(Locale.ROOT, "%nsteady subscribers caught up %.1f s after the publishers stopped%n",
            settleSeconds)
        : String.format(Locale.ROOT, "%nsteady subscribers were not waited for (the hub was gone)%n"));
    sb.append("\ngoals:\n");
    for (Goal g : goals()) {
      sb.append(g.met() ? "  [ok]   " : "  [FAIL] ").append(g.name()).append(": ").append(g.detail()).append('\n');
    }
    sb.append(passed() ? "PASSED\n" : "FAILED\n");
    return sb.toString();
  }

  private static void row(StringBuilder sb, String name, long n, SequenceCheck.Counts c) {
    sb.append(String.format(Locale.ROOT, "%-24s %6d %11d %6d %6d %8d %8d %7d%n", name, n, c.delivered(), c.gaps(),
        c.duplicates(), c.reorders(), c.corrupt(), c.resets()));
  }

  /** The report as a JSON document. */
  String json() {
    StringWriter w = new StringWriter();
    try (JsonGenerator g = new JsonFactory().createGenerator(w).useDefaultPrettyPrinter()) {
      g.writeStartObject();
      g.writeStringField("startedAt", startedAt);
      g.writeObjectFieldStart("settings");
      g.writeNumberField("minutes", settings.duration().toSeconds() / 60.0);
      g.writeNumberField("topics", settings.topics());
      g.writeNumberField("steadySubscribers", settings.steadySubscribers());
      g.writeNumberField("churnPerSecond", settings.churnPerSecond());
      g.writeNumberField("publishesPerSecond", settings.publishesPerSecond());
      g.writeNumberField("minPayload", settings.minPayload());
      g.writeNumberField("maxPayload", settings.maxPayload());
      g.writeStringField("hubHeap", settings.hubHeap());
      g.writeEndObject();
      g.writeNumberField("cores", Runtime.getRuntime().availableProcessors());
      g.writeNumberField("seconds", seconds);
      g.writeBooleanField("passed", passed());
      g.writeArrayFieldStart("goals");
      for (Goal goal : goals()) {
        g.writeStartObject();
        g.writeStringField("name", goal.name());
        g.writeBooleanField("met", goal.met());
        g.writeStringField("detail", goal.detail());
        g.writeEndObject();
      }
      g.writeEndArray();
      writeCounts(g, "total", total());
      g.writeObjectFieldStart("steady");
      for (Map.Entry<String, SequenceCheck.Counts> e : steady.entrySet()) {
        writeCounts(g, e.getKey(), e.getValue(), "subscribers", steadySizes.getOrDefault(e.getKey(), 0));
      }
      g.writeEndObject();
      g.writeObjectFieldStart("churn");
      for (Map.Entry<String, SequenceCheck.Counts> e : churn.entrySet()) {
        writeCounts(g, e.getKey(), e.getValue(), "started", churnStarted.getOrDefault(e.getKey(), 0L));
      }
      g.writeEndObject();
      g.writeNumberField("churnWithoutCheckpoint", churnWithoutCheckpoint);
      g.writeArrayFieldStart("publishes");
      for (SoakPublishers.KindStats k : publishes) {
        g.writeStartObject();
        g.writeStringField("kind", k.kind());
        g.writeNumberField("attempted", k.attempted());
        g.writeNumberField("acked", k.acked());
        g.writeNumberField("failed", k.failed());
        g.writeNumberField("skippedBusy", k.skippedBusy());
        g.writeNumberField("p50Micros", k.p50());
        g.writeNumberField("p99Micros", k.p99());
        g.writeNumberField("maxMicros", k.max());
        g.writeEndObject();
      }
      g.writeEndArray();
      writeMap(g, "publishFailures", publishFailures);
      g.writeObjectFieldStart("hub");
      g.writeNumberField("pid", hubPid);
      writeSample(g, "idle", idle);
      writeSample(g, "baseline", baseline);
      writeSample(g, "peak", peak);
      writeSample(g, "afterChurn", afterChurn);
      writeSample(g, "afterAll", afterAll);
      g.writeNumberField("descriptorReturnSeconds", descriptorReturnSeconds);
      writeMap(g, "descriptorKindsAtBaseline", kindsAtBaseline);
      writeMap(g, "descriptorKindsAfterChurn", kindsAfterChurn);
      g.writeNumberField("descriptorBound", descriptorBound(baseline.descriptors()));
      g.writeBooleanField("outOfMemory", outOfMemory);
      if (hubExit != null) {
        g.writeNumberField("exitedDuringRun", hubExit);
        g.writeNumberField("exitedAtMinute", hubExitedAtMinute);
      }
      g.writeArrayFieldStart("liveHeapAfterGc");
      for (HeapSample h : heap) {
        g.writeStartObject();
        g.writeNumberField("minute", h.minute());
        g.writeNumberField("bytes", h.liveBytes());
        g.writeNumberField("descriptors", h.descriptors());
        g.writeNumberField("threads", h.threads());
        g.writeNumberField("deliveries", h.deliveries());
        g.writeNumberField("churned", h.churned());
        g.writeNumberField("machineLoad", h.load());
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeObjectFieldStart("log");
      g.writeNumberField("warnLines", log.warnLines());
      g.writeNumberField("errorLines", log.errorLines());
      g.writeNumberField("stackTraceLines", log.stackTraceLines());
      writeMap(g, "messages", log.messages());
      g.writeEndObject();
      g.writeEndObject();
      writeMap(g, "events", events);
      g.writeNumberField("settleSeconds", settleSeconds);
      g.writeEndObject();
    } catch (IOException e) {
      throw new IllegalStateException(e); // a StringWriter does not fail
    }
    return w + "\n";
  }

  private static void writeCounts(JsonGenerator g, String name, SequenceCheck.Counts c) throws IOException {
    writeCounts(g, name, c, null, 0);
  }

  private static void writeCounts(JsonGenerator g, String name, SequenceCheck.Counts c, String sizeName, long size)
      throws IOException {
    g.writeObjectFieldStart(name);
    if (sizeName != null) {
      g.writeNumberField(sizeName, size);
    }
    g.writeNumberField("deliveries", c.delivered());
    g.writeNumberField("gaps", c.gaps());
    g.writeNumberField("duplicates", c.duplicates());
    g.writeNumberField("reorders", c.reorders());
    g.writeNumberField("corrupt", c.corrupt());
    g.writeNumberField("resets", c.resets());
    g.writeEndObject();
  }

  private static void writeSample(JsonGenerator g, String name, Sample s) throws IOException {
    g.writeObjectFieldStart(name);
    g.writeNumberField("atSeconds", s.atSeconds());
    g.writeNumberField("descriptors", s.descriptors());
    g.writeNumberField("threads", s.threads());
    g.writeEndObject();
  }

  private static void writeMap(JsonGenerator g, String name, Map<String, ? extends Number> m) throws IOException {
    g.writeObjectFieldStart(name);
    for (Map.Entry<String, ? extends Number> e : m.entrySet()) {
      g.writeNumberField(e.getKey(), e.getValue().longValue());
    }
    g.writeEndObject();
  }
}
