package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * CI's soak: the 2-minute run of {@link Soak} ({@link SoakSettings#smoke}) against the demo hub forked
 * under {@code -Xmx512m}. It asserts the run's goals (no silent gap, no duplicate, in order, intact
 * payloads, no OutOfMemoryError, descriptors back to their level before the churn within a minute),
 * and that every kind of actor really took part, so that a quiet run cannot pass for a clean one. It
 * asserts no timing. The table is in this test's output, the JSON and the hub's log in
 * {@code target/soak-smoke*}.
 */
class SoakSmokeTest {
  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // a safety net: every wait of the run is bounded, ~9 min in all
  void twoMinuteSoak_deliversEveryMessageOnceInOrder_andTheHubGivesBackItsDescriptors() throws Exception {
    Path out = Path.of("target/soak-smoke.json");
    SoakReport r = Soak.run(SoakSettings.smoke().withOut(out), System.out);
    String table = "\n" + r.table();

    SequenceCheck.Counts total = r.total();
    assertEquals(0, total.gaps(), "silent gaps" + table);
    assertEquals(0, total.duplicates(), "duplicates" + table);
    assertEquals(0, total.reorders(), "reorders" + table);
    assertEquals(0, total.corrupt(), "corrupt payloads" + table);
    assertFalse(r.outOfMemory(), "the hub ran out of memory" + table);
    assertNull(r.hubExit(), "the hub exited during the run" + table);
    assertEquals(0, r.steadyNotStarted(), "steady subscribers without a message" + table);
    assertTrue(r.descriptorReturnSeconds() >= 0, "the hub's descriptors did not come back to "
        + SoakReport.descriptorBound(r.baseline().descriptors()) + " within "
        + r.settings().descriptorWait().toSeconds() + " s of the churn's end" + table);

    for (Map.Entry<String, SequenceCheck.Counts> e : r.steady().entrySet()) {
      assertTrue(r.steadySizes().get(e.getKey()) > 0, e.getKey() + " had no steady subscriber" + table);
      assertTrue(e.getValue().delivered() > 0, "steady " + e.getKey() + " received nothing" + table);
    }
    for (Map.Entry<String, Long> e : r.churnStarted().entrySet()) {
      assertTrue(e.getValue() > 0, "no churner " + e.getKey() + " started" + table);
      boolean reads = !e.getKey().startsWith("slow-");
      assertEquals(reads, r.churn().get(e.getKey()).delivered() > 0,
          "churner " + e.getKey() + (reads ? " read nothing" : " read although it never asks to") + table);
    }
    for (SoakPublishers.KindStats k : r.publishes()) {
      assertTrue(k.acked() > 0, "no publish by " + k.kind() + " was acknowledged" + table);
    }
    assertTrue(r.heap().stream().allMatch(h -> h.liveBytes() > 0), "live heap not measured" + table);
    assertTrue(r.baseline().descriptors() > r.idle().descriptors() && r.peak().descriptors() > r.baseline().descriptors(),
        "descriptors did not follow the connections (idle, baseline, peak): " + table);
    assertTrue(r.passed(), "a goal failed" + table);

    String json = Files.readString(out);
    try (com.fasterxml.jackson.core.JsonParser p = new com.fasterxml.jackson.core.JsonFactory().createParser(json)) {
      while (p.nextToken() != null) {
        // a malformed document throws
      }
    }
    assertTrue(json.contains("\"passed\" : true"), json);
    assertTrue(Files.size(out.resolveSibling("soak-smoke-hub").resolve("hub.log")) > 0);
  }
}
