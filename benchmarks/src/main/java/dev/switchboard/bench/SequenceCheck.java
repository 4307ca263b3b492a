package dev.switchboard.bench;

import java.util.Arrays;
import java.util.BitSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Checks one subscription's messages against the {@link SoakLedger}: per publishing lane, every
 * sequence number once and in order. It counts
 * <ul>
 *   <li><b>gaps</b>: a sequence number skipped (a later one of the same lane arrived first) that was
 *   acknowledged to its publisher and never arrived afterwards, with no reset between: silent loss;
 *   at the end of a steady subscription also what was acknowledged after its last message and never
 *   came ({@link #closeTail});
 *   <li><b>duplicates</b>: a sequence number that arrived again;
 *   <li><b>reorders</b>: a sequence number that arrived after a later one of its lane;
 *   <li><b>corrupt</b>: a payload that is not exactly what was published;
 *   <li><b>resets</b>: the server said it could not resume ({@code history_gap}): the messages between
 *   are reported lost, not silently, so they are not gaps.
 * </ul>
 * A live subscription starts each lane at the first message it sees; one resumed from a
 * {@link Checkpoint} of another subscription expects each lane to continue exactly where the
 * checkpoint was. Every 16th message it records a checkpoint that others may resume from.
 *
 * <p>Thread-safe.
 */
final class SequenceCheck {
  /** The counts of one or many subscriptions. */
  record Counts(long delivered, long gaps, long duplicates, long reorders, long corrupt, long resets) {
    static final Counts ZERO = new Counts(0, 0, 0, 0, 0, 0);

    Counts plus(Counts o) {
      return new Counts(delivered + o.delivered, gaps + o.gaps, duplicates + o.duplicates, reorders + o.reorders,
          corrupt + o.corrupt, resets + o.resets);
    }
  }

  /** A message id and, per lane, the last sequence number delivered up to it (-1: none yet). */
  record Checkpoint(String id, long[] lastSeq) {}

  private static final int CHECKPOINT_EVERY = 16;
  private static final int CHECKPOINTS_KEPT = 32;

  private final SoakLedger.Lane[] lanes;
  private final long[] expectedNext;
  private final BitSet[] seen;
  private final BitSet[] missing;
  private final Checkpoint[] checkpoints = new Checkpoint[CHECKPOINTS_KEPT];
  private long delivered;
  private long duplicates;
  private long reorders;
  private long corrupt;
  private long resets;
  private long tailGaps;
  private String lastId;

  SequenceCheck(SoakLedger ledger, int topic) {
    int n = SoakLedger.LANES.length();
    lanes = new SoakLedger.Lane[n];
    expectedNext = new long[n];
    seen = new BitSet[n];
    missing = new BitSet[n];
    for (int l = 0; l < n; l++) {
      lanes[l] = ledger.lane(topic, l);
      expectedNext[l] = -1;
      seen[l] = new BitSet();
      missing[l] = new BitSet();
    }
  }

  /** Expects each lane the checkpoint knows to continue right after it. */
  synchronized void resumeFrom(Checkpoint cp) {
    for (int l = 0; l < expectedNext.length; l++) {
      expectedNext[l] = cp.lastSeq()[l] < 0 ? -1 : cp.lastSeq()[l] + 1;
    }
    lastId = cp.id();
  }

  synchronized void onMessage(String id, byte[] payload) {
    delivered++;
    SoakLedger.Parsed p = SoakLedger.parse(payload);
    if (p == null) {
      corrupt++;
      return;
    }
    lastId = id;
    int l = p.lane();
    int seq = Math.toIntExact(p.seq());
    if (seen[l].get(seq)) {
      duplicates++;
      return;
    }
    seen[l].set(seq);
    long next = expectedNext[l];
    if (next < 0) {
      expectedNext[l] = seq + 1L;
    } else if (seq == next) {
      expectedNext[l] = seq + 1L;
    } else if (seq > next) {
      for (long s = next; s < seq; s++) {
        if (!lanes[l].isFailed(s)) {
          missing[l].set(Math.toIntExact(s)); // a gap unless it still comes (then it is a reorder)
        }
      }
      expectedNext[l] = seq + 1L;
    } else if (!lanes[l].isFailed(seq)) {
      reorders++;
      missing[l].clear(seq);
    }
    // else: a publish its client gave up on (a timeout, say) that the hub stored after all, later than
    // the lane's next one; the lane promises order only for acknowledged publishes.
    if (delivered % CHECKPOINT_EVERY == 0) {
      long[] last = new long[expectedNext.length];
      for (int i = 0; i < last.length; i++) {
        last[i] = expectedNext[i] < 0 ? -1 : expectedNext[i] - 1;
      }
      checkpoints[(int) (delivered / CHECKPOINT_EVERY % CHECKPOINTS_KEPT)] = new Checkpoint(id, last);
    }
  }

  /** The server could not resume ({@code history_gap}): each lane starts afresh at its next message. */
  synchronized void onReset() {
    resets++;
    Arrays.fill(expectedNext, -1);
  }

  /** The id of the last message delivered, or of the checkpoint resumed from; null when none. */
  synchronized String lastId() {
    return lastId;
  }

  /** One of the recent checkpoints, at random, or null when there is none yet. */
  synchronized Checkpoint checkpoint() {
    int start = ThreadLocalRandom.current().nextInt(CHECKPOINTS_KEPT);
    for (int i = 0; i < CHECKPOINTS_KEPT; i++) {
      Checkpoint c = checkpoints[(start + i) % CHECKPOINTS_KEPT];
      if (c != null) {
        return c;
      }
    }
    return null;
  }

  /** Whether this subscription has seen any message yet. */
  synchronized boolean started() {
    return delivered > 0;
  }

  /**
   * Messages acknowledged to the publishers (and not failed) after this subscription's last one of
   * each lane, that it has not received yet: zero once it has caught up.
   */
  synchronized long behind() {
    long n = 0;
    for (int l = 0; l < lanes.length; l++) {
      if (expectedNext[l] > 0) {
        n += lanes[l].owed(expectedNext[l], lanes[l].issued());
      }
    }
    return n;
  }

  /** Ends the check of a steady subscription: what it is still {@link #behind} by counts as gaps. */
  synchronized void closeTail() {
    tailGaps = behind();
  }

  synchronized Counts counts() {
    long gaps = tailGaps;
    for (BitSet m : missing) {
      gaps += m.cardinality();
    }
    return new Counts(delivered, gaps, duplicates, reorders, corrupt, resets);
  }
}
