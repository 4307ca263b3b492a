package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the harness still works end to end in quick mode: forked servers for Switchboard, the raw
 * baselines, Spring and Atmosphere; the load client; every target delivers every message at the
 * lowest rate; the table, JSON and charts are produced. It asserts that messages were delivered and
 * measured, never how fast.
 */
class FanoutBenchmarkSmokeTest {
  @Test
  void quickRun_deliversOnEveryTargetAndReportsFigures(@TempDir Path dir) throws Exception {
    List<FanoutBenchmark.Result> results = FanoutBenchmark.run(List.of(20), 1, true, null);
    assertEquals(FanoutBenchmark.TARGETS.size(), results.size());
    for (FanoutBenchmark.Result r : results) {
      assertTrue(r.maxDeliveredPerSec() > 0, r.target() + " delivered nothing");
      FanoutBenchmark.Step first = r.steps().get(0);
      assertTrue(first.complete(), r.target() + " lost messages at the lowest rate: " + first);
      assertTrue(r.half().delivered() == r.half().expected(), r.target() + " at half rate: " + r.half());
      assertTrue(r.half().serverCpuNanos() > 0, r.target() + ": no server CPU time measured");
      assertTrue(r.cost() != null && r.cost().serverAllocBytes() > 0, r.target() + ": no allocation measured");
      assertTrue(r.connectSeconds() > 0, r.target());
    }
    String table = FanoutBenchmark.table(results);
    for (FanoutBenchmark.Target t : FanoutBenchmark.TARGETS) {
      assertTrue(table.contains(t.name() + " "), t.name() + " missing from\n" + table);
    }
    assertTrue(FanoutBenchmark.json(results).startsWith("[\n  {\"target\":\"raw-jetty-sse\""));
    String costs = FanoutBenchmark.costTable(results);
    assertTrue(costs.contains("switchboard-ws "), costs);

    List<Path> charts = FanoutCharts.write(results, dir);
    assertEquals(5, charts.size(), charts.toString()); // 2 throughput, p50 and p99 for the one N, memory
    for (Path png : charts) {
      BufferedImage image = ImageIO.read(png.toFile());
      assertNotNull(image, png + " is not a readable PNG");
      assertTrue(image.getWidth() >= 800 && image.getHeight() >= 500, png.toString());
    }
  }

  @Test
  void rounds_medianRoundKeepsOneRealRunPerRow_andRatiosPairEachRoundWithItsOwnBaseline() throws Exception {
    List<List<FanoutBenchmark.Result>> rounds = List.of(
        List.of(result("raw-jakarta-ws", 100, 50), result("switchboard-ws", 90, 45)),
        List.of(result("raw-jakarta-ws", 200, 100), result("switchboard-ws", 100, 100)),
        List.of(result("raw-jakarta-ws", 150, 0), result("switchboard-ws", 300, 60)));
    List<FanoutBenchmark.Result> median = FanoutBenchmark.medianRound(rounds);
    assertEquals(150, median.get(0).maxDeliveredPerSec());
    assertEquals(100, median.get(1).maxDeliveredPerSec());
    assertEquals(100, median.get(1).maxSustainedPerSec(), "a row's figures come from the same round");

    String ratios = FanoutBenchmark.roundRatios(rounds);
    // max: 0.90, 0.50, 2.00 -> median 0.90; sustained: 0.90, 1.00 (round 3's baseline sustained nothing) -> 0.95
    assertTrue(ratios.contains("switchboard-ws         N=1000   0.90 0.50 2.00 -> 0.90x | 0.90 1.00 -> 0.95x"), ratios);
    assertTrue(!ratios.contains("raw-jakarta-ws  "), ratios);
    // CPU per delivery: 90/100, 100/200, 300/150 -> 0.90 0.50 2.00; allocation minus raw: -10, -100, +150
    assertTrue(ratios.contains("CPU/delivery 0.90 0.50 2.00 -> 0.90x | alloc B/delivery - raw -10 -100 +150 -> -10 B"),
        ratios);

    String json = FanoutBenchmark.jsonRounds(median, rounds);
    assertTrue(json.startsWith("{\"median\":[\n  {\"target\":\"raw-jakarta-ws\""), json);
    assertTrue(json.contains("\"rounds\":[\n[\n  {\"target\":\"raw-jakarta-ws\""), json);
    assertEquals(3 + 1, json.split("\"target\":\"switchboard-ws\"", -1).length - 1, "median row + three rounds");
    assertTrue(json.contains("\"maxDeliveredPerSecond\":300,"), "round 3's own figures are kept");
    try (com.fasterxml.jackson.core.JsonParser p = new com.fasterxml.jackson.core.JsonFactory().createParser(json)) {
      while (p.nextToken() != null) {
        // a malformed document throws
      }
    }
  }

  @Test
  void json_readsBackWhatItWrote_forReplotting() throws Exception {
    FanoutBenchmark.Step a = new FanoutBenchmark.Step(10, 20_000, 19_990, 9_995, 1_200, 48_000, 51_000, true, 470_000_000);
    FanoutBenchmark.Step b = new FanoutBenchmark.Step(14, 28_000, 20_000, 9_000, 90_000, 1_900_000, 2_000_000, false, 900_000_000);
    FanoutBenchmark.Step half = new FanoutBenchmark.Step(5, 10_000, 10_000, 5_000, 800, 20_000, 30_000, true, 250_000_000);
    FanoutBenchmark.Step cost = new FanoutBenchmark.Step(20, 100_000, 100_000, 20_000, 700, 9_000, 12_000, true,
        150_000_000, 40_000_000);
    List<FanoutBenchmark.Result> written = List.of(
        new FanoutBenchmark.Result("switchboard-sse", 1000, 0.75, 8100, 67_887, 9_996, 9_996, half, List.of(a, b),
            cost),
        result("raw-jetty-sse", 120, 0));
    List<FanoutBenchmark.Result> read = FanoutBenchmark.readJson(FanoutBenchmark.json(written));
    assertEquals(2, read.size());
    FanoutBenchmark.Result r = read.get(0);
    assertEquals("switchboard-sse", r.target());
    assertEquals(1000, r.subscribers());
    assertEquals(8100, r.heapPerConn());
    assertEquals(9_996, r.maxSustainedPerSec());
    assertEquals(List.of(a, b), r.steps(), "every step survives");
    assertEquals(5, r.half().rate());
    assertEquals(20_000, r.half().p99());
    assertEquals(half.cpuMillisPer100k(), r.half().cpuMillisPer100k(), 0.1);
    assertEquals(cost, r.cost(), "the cost step survives");
    assertEquals(400, r.cost().allocBytesPerDelivery(), 0.001);
    assertEquals(FanoutBenchmark.table(written), FanoutBenchmark.table(read), "the replotted table is the same");
    assertEquals(FanoutBenchmark.costTable(written), FanoutBenchmark.costTable(read));

    List<FanoutBenchmark.Result> median = FanoutBenchmark.readJson(
        FanoutBenchmark.jsonRounds(written, List.of(written, written)));
    assertEquals(FanoutBenchmark.table(written), FanoutBenchmark.table(median), "a rounds file gives its median rows");
    java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> FanoutBenchmark.readJson("[{\"target\":\"x\",\"subscribers\":\"many\"}]"));
    assertTrue(e.getMessage().contains("subscribers"), e.getMessage());
  }

  @Test
  void maxDelivered_countsEveryCompleteStep_refinementsIncluded_butNoIncompleteOne() {
    FanoutBenchmark.Step ladder = new FanoutBenchmark.Step(207, 414_000, 414_000, 200_000, 1, 2, 3, true, 0);
    FanoutBenchmark.Step fellBehind = new FanoutBenchmark.Step(289, 578_000, 400_000, 200_000 * 1.5, 1, 2, 3, false, 0);
    FanoutBenchmark.Step refinement = new FanoutBenchmark.Step(245, 490_000, 490_000, 240_000, 1, 2, 3, true, 0);
    assertEquals(240_000, FanoutBenchmark.bestComplete(List.of(ladder, refinement, fellBehind)));
    assertEquals(0, FanoutBenchmark.bestComplete(List.of(fellBehind)));
  }

  @Test
  void settle_waitsOutTheBacklogOfAStepThatFellBehind() throws Exception {
    java.util.concurrent.atomic.AtomicLong delivered = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicBoolean backlogDone = new java.util.concurrent.atomic.AtomicBoolean();
    FanoutClient client = new FanoutClient() {
      @Override public void connect(int n) {}
      @Override public long delivered() { return delivered.get(); }
      @Override public int failed() { return 0; }
      @Override public org.HdrHistogram.Recorder recorder() { return new org.HdrHistogram.Recorder(3); }
      @Override public void close() {}
    };
    Thread backlog = new Thread(() -> {
      for (int i = 0; i < 100; i++) { // a late backlog: a delivery every 5 ms for about half a second
        delivered.incrementAndGet();
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        }
      }
      backlogDone.set(true);
    });
    backlog.start();
    FanoutBenchmark.settle(client);
    assertTrue(backlogDone.get(), "settle returned while the backlog was still arriving");
    backlog.join();
  }

  private static FanoutBenchmark.Result result(String target, double max, double sustained) {
    FanoutBenchmark.Step step = new FanoutBenchmark.Step(1, 1000, 1000, max, 1, 2, 3, true, 1_000_000);
    // The cost step: CPU in proportion to max (so ratios are known), allocation 100 B per delivery + max.
    FanoutBenchmark.Step cost = new FanoutBenchmark.Step(20, 100_000, 100_000, 20_000, 1, 2, 3, true,
        (long) (max * 1_000_000), (long) ((100 + max) * 100_000));
    return new FanoutBenchmark.Result(target, 1000, 1, 1, 1, max, sustained, step, List.of(step), cost);
  }
}
