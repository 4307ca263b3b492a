package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The soak's verdict: which goals a run met, judged from its figures alone. */
class SoakReportTest {
  private static final SoakSettings FULL = SoakSettings.full(20);
  private static final long MB = 1 << 20;

  @Test
  void cleanRun_passesEveryGoal_andItsJsonParses() throws Exception {
    SoakReport r = report(FULL, SequenceCheck.Counts.ZERO, heap(100, 150, 152, 151), null, 12.5);
    assertTrue(r.passed(), r.table());
    assertTrue(r.table().contains("PASSED"));
    try (com.fasterxml.jackson.core.JsonParser p = new com.fasterxml.jackson.core.JsonFactory().createParser(r.json())) {
      while (p.nextToken() != null) {
        // a malformed document throws
      }
    }
  }

  @Test
  void gapOrDuplicate_failsItsGoal() {
    SoakReport gap = report(FULL, new SequenceCheck.Counts(10, 1, 0, 0, 0, 0), heap(100, 150, 150), null, 1);
    assertEquals(List.of("no silent gaps"), failed(gap));
    SoakReport dup = report(FULL, new SequenceCheck.Counts(10, 0, 2, 0, 0, 0), heap(100, 150, 150), null, 1);
    assertEquals(List.of("no duplicates"), failed(dup));
  }

  @Test
  void heapStillGrowingOverTheSecondHalf_isNotFlat() {
    // samples every 4 minutes; nearest the middle: minute 8, 250 MB; at the end 400 MB > 250 + 32 + 25
    SoakReport r = report(FULL, SequenceCheck.Counts.ZERO, heap(100, 200, 250, 300, 350, 400), null, 1);
    assertEquals(List.of("heap flat"), failed(r));
  }

  @Test
  void shortRun_doesNotJudgeTheHeap() {
    SoakReport r = report(SoakSettings.smoke(), SequenceCheck.Counts.ZERO, heap(30, 60, 90), null, 1);
    assertTrue(r.passed(), r.table());
    assertTrue(r.heapGoal().detail().startsWith("not judged"));
  }

  @Test
  void descriptorsNotBack_failsThatGoal() {
    SoakReport r = report(FULL, SequenceCheck.Counts.ZERO, heap(100, 150, 150), null, -1);
    assertEquals(List.of("descriptors back to baseline"), failed(r));
    assertTrue(r.table().contains("NOT back"), r.table());
  }

  @Test
  void hubThatExited_failsHubHeapAndDescriptorGoals_sayingWhen() {
    SoakReport r = report(FULL, SequenceCheck.Counts.ZERO, heap(60, 115, 229, 505), 3, -1);
    assertEquals(List.of("hub up to the end", "heap flat", "descriptors back to baseline"), failed(r));
    String table = r.table();
    assertTrue(table.contains("exited with code 3 at minute 3.2"), table);
    assertTrue(table.contains("live heap 60 MB at minute 0, 505 MB at minute 3.0"), table);
    assertTrue(table.contains("not measured: the hub exited"), table);
  }

  private static List<String> failed(SoakReport r) {
    return r.goals().stream().filter(g -> !g.met()).map(SoakReport.Goal::name).collect(Collectors.toList());
  }

  /** Heap samples at minutes 0, 1, 2, ... of the given MB, spread over the run's duration. */
  private static List<SoakReport.HeapSample> heap(long... mb) {
    return java.util.stream.IntStream.range(0, mb.length).mapToObj(i -> new SoakReport.HeapSample(
        i == 0 ? 0 : i * 20.0 / (mb.length - 1), mb[i] * MB, 300, 100, i * 1000L, i * 100L, 1.0)).toList();
  }

  private static SoakReport report(SoakSettings s, SequenceCheck.Counts steady, List<SoakReport.HeapSample> heap,
      Integer exit, double descriptorSeconds) {
    if (exit != null) {
      heap = heap.stream().map(h -> new SoakReport.HeapSample(h.minute() == 0 ? 0 : h.minute() / 20 * 3, h.liveBytes(),
          h.descriptors(), h.threads(), h.deliveries(), h.churned(), h.load())).toList();
    }
    SoakReport.Sample sample = new SoakReport.Sample(1, 300, 100);
    SoakReport.Sample after = new SoakReport.Sample(2, descriptorSeconds >= 0 ? 300 : 400, 100);
    return new SoakReport(s, "2026-11-30T00:00:00Z", 1300, 42, 0, new SoakReport.Sample(0, 25, 33), sample,
        new SoakReport.Sample(1, 900, 200), after, descriptorSeconds, new SoakReport.Sample(3, 25, 90),
        Map.of("http ESTABLISHED", 270), Map.of("http ESTABLISHED", 270), heap, Map.of("raw-sse", 1),
        Map.of("raw-sse", steady), Map.of("resume-sse", 1L), Map.of("resume-sse", SequenceCheck.Counts.ZERO), 0,
        List.of(new SoakPublishers.KindStats("rest", 10, 10, 0, 0, 1000, 2000, 3000)), Map.of(), Map.of(), false,
        exit, exit == null ? -1 : 3.2, new SoakHub.LogSummary(0, 0, 0, Map.of()), exit == null ? 0.5 : -1);
  }
}
