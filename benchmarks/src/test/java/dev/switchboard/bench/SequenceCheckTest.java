package dev.switchboard.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The soak's judge: the sequence check must count each fault it exists to find (a silent gap, a
 * duplicate, a reorder, a corrupt payload, a resume that does not continue where it should) and
 * nothing else (a failed publish, a reset, a late start).
 */
class SequenceCheckTest {
  private static final int R = SoakLedger.LANES.indexOf('r');
  private static final int W = SoakLedger.LANES.indexOf('w');

  private final SoakLedger ledger = new SoakLedger(1);
  private final SequenceCheck check = new SequenceCheck(ledger, 0);
  private int ids;

  /** Publishes the next sequence number of {@code lane} and records its outcome, as a lane does. */
  private long publish(int lane, boolean ok) {
    SoakLedger.Lane l = ledger.lane(0, lane);
    long seq = l.issue();
    if (ok) {
      l.acked(seq);
    } else {
      l.failed(seq);
    }
    return seq;
  }

  private void deliver(int lane, long seq) {
    check.onMessage("id" + (++ids), SoakLedger.payload(lane, seq, 100 + (int) seq));
  }

  @Test
  void inOrderOnEveryLane_countsDeliveriesOnly() {
    for (int i = 0; i < 5; i++) {
      deliver(R, publish(R, true));
      deliver(W, publish(W, true));
    }
    assertEquals(new SequenceCheck.Counts(10, 0, 0, 0, 0, 0), check.counts());
    assertEquals(0, check.behind());
  }

  @Test
  void skippedAcknowledgedMessage_isAGap_butAFailedPublishIsNot() {
    deliver(R, publish(R, true)); // 1
    publish(R, true); // 2: acknowledged, never delivered
    publish(R, false); // 3: failed, never delivered
    deliver(R, publish(R, true)); // 4
    assertEquals(1, check.counts().gaps());
  }

  @Test
  void lateArrival_isAReorder_notAGap() {
    deliver(R, publish(R, true)); // 1
    long two = publish(R, true);
    deliver(R, publish(R, true)); // 3 before 2
    deliver(R, two);
    SequenceCheck.Counts c = check.counts();
    assertEquals(0, c.gaps());
    assertEquals(1, c.reorders());
  }

  @Test
  void sameMessageTwice_isADuplicate() {
    long one = publish(R, true);
    deliver(R, one);
    deliver(R, one);
    assertEquals(1, check.counts().duplicates());
  }

  @Test
  void alteredOrTruncatedPayload_isCorrupt() {
    publish(R, true);
    byte[] p = SoakLedger.payload(R, 1, 200);
    p[150] = 'X';
    check.onMessage("a", p);
    check.onMessage("b", java.util.Arrays.copyOf(SoakLedger.payload(R, 1, 200), 199));
    check.onMessage("c", "{\"price\":1}".getBytes(StandardCharsets.UTF_8));
    assertEquals(3, check.counts().corrupt());
    assertNull(SoakLedger.parse(p));
  }

  @Test
  void reset_startsEachLaneAfresh_soTheReportedLossIsNoGap() {
    deliver(R, publish(R, true)); // 1
    publish(R, true); // 2, 3: lost, but the hub said so
    publish(R, true);
    check.onReset();
    deliver(R, publish(R, true)); // 4
    assertEquals(new SequenceCheck.Counts(2, 0, 0, 0, 0, 1), check.counts());
  }

  @Test
  void tail_acknowledgedButNeverDelivered_isBehind_andAGapOnceClosed() {
    deliver(R, publish(R, true));
    publish(R, true);
    publish(R, false);
    assertEquals(1, check.behind(), "the failed one is not owed");
    check.closeTail();
    assertEquals(1, check.counts().gaps());
  }

  @Test
  void resumeFromCheckpoint_mustContinueRightAfterIt() {
    for (int i = 0; i < 16; i++) {
      deliver(R, publish(R, true)); // the 16th message records a checkpoint at sequence 16
    }
    SequenceCheck.Checkpoint cp = check.checkpoint();
    assertNotNull(cp);
    assertEquals(16, cp.lastSeq()[R]);
    assertEquals(-1, cp.lastSeq()[W], "a lane not seen yet is unknown");

    publish(R, true); // 17
    long eighteen = publish(R, true);
    SequenceCheck resumed = new SequenceCheck(ledger, 0);
    resumed.resumeFrom(cp);
    assertEquals(cp.id(), resumed.lastId());
    resumed.onMessage("x", SoakLedger.payload(R, eighteen, 300)); // 17 never came
    assertEquals(1, resumed.counts().gaps());

    SequenceCheck good = new SequenceCheck(ledger, 0);
    good.resumeFrom(cp);
    good.onMessage("y", SoakLedger.payload(R, 17, 300));
    good.onMessage("z", SoakLedger.payload(R, 18, 300));
    assertEquals(new SequenceCheck.Counts(2, 0, 0, 0, 0, 0), good.counts());
  }

  @Test
  void payload_isExactlyTheRequestedSize_andParsesBack() {
    for (int size : new int[] {32, 100, 8192}) {
      byte[] p = SoakLedger.payload(W, 12345, size);
      assertEquals(size, p.length);
      assertEquals(new SoakLedger.Parsed(W, 12345), SoakLedger.parse(p));
    }
  }
}
