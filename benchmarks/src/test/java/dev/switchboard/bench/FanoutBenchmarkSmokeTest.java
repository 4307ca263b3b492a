package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves the harness still works end to end (forked servers, load client, every target delivers)
 * in quick mode. It asserts that messages were delivered and measured, never how fast.
 */
class FanoutBenchmarkSmokeTest {
  @Test
  void quickRun_deliversOnEveryTargetAndReportsFigures() throws Exception {
    List<FanoutBenchmark.Result> results = FanoutBenchmark.run(List.of(20), 1, true, null);
    assertEquals(FanoutBenchmark.TARGETS.size(), results.size());
    for (FanoutBenchmark.Result r : results) {
      assertTrue(r.maxDeliveredPerSec() > 0, r.target() + " delivered nothing");
      assertTrue(r.steps().get(0).complete(), r.target() + " lost messages at the lowest rate: " + r.steps().get(0));
      assertTrue(r.half().delivered() == r.half().expected(), r.target() + " at half rate: " + r.half());
    }
    String table = FanoutBenchmark.table(results);
    assertTrue(table.contains("switchboard-sse") && table.contains("raw-jetty-sse") && table.contains("switchboard-ws")
        && table.contains("switchboard-grpc") && table.contains("raw-grpc"), table);
    assertTrue(FanoutBenchmark.json(results).startsWith("[\n  {\"target\":\"raw-jetty-sse\""));
  }
}
