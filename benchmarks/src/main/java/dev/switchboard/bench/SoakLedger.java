package dev.switchboard.bench;

import java.nio.charset.StandardCharsets;
import java.util.BitSet;

/**
 * What the soak's publishers published: for each topic and each publishing lane, the sequence numbers
 * issued, which of them failed, and the last one acknowledged. A lane publishes its next sequence
 * number only after the previous publish has completed, so by the time a subscriber sees sequence
 * {@code n} of a lane, the outcome of every earlier one is recorded here, and a subscriber can tell a
 * silent gap (a missing sequence that was acknowledged) from a publish that failed.
 *
 * <p>Payload format, text: {@code <lane>:<seq>:<length>:} followed by one filler letter
 * ({@code 'a' + seq % 26}) up to {@code length} bytes in all; {@link #parse} checks all of it, so a
 * truncated or altered payload is noticed.
 *
 * <p>Thread-safe.
 */
final class SoakLedger {
  /** The lane letters, one per publishing path (see {@link SoakPublishers.Kind}). */
  static final String LANES = "rpwgc";

  private final Lane[][] lanes;

  SoakLedger(int topics) {
    lanes = new Lane[topics][LANES.length()];
    for (int t = 0; t < topics; t++) {
      for (int l = 0; l < LANES.length(); l++) {
        lanes[t][l] = new Lane();
      }
    }
  }

  Lane lane(int topic, int lane) {
    return lanes[topic][lane];
  }

  int topics() {
    return lanes.length;
  }

  /** One lane of one topic. Sequence numbers start at 1. */
  static final class Lane {
    private long issued; // guarded by this
    private long lastAcked; // guarded by this
    private final BitSet failed = new BitSet(); // guarded by this

    /** The next sequence number, now issued. */
    synchronized long issue() {
      return ++issued;
    }

    synchronized void acked(long seq) {
      lastAcked = Math.max(lastAcked, seq);
    }

    /** The publish of {@code seq} failed: it may or may not have been stored. */
    synchronized void failed(long seq) {
      failed.set(Math.toIntExact(seq));
    }

    synchronized boolean isFailed(long seq) {
      return failed.get(Math.toIntExact(seq));
    }

    synchronized long issued() {
      return issued;
    }

    synchronized long lastAcked() {
      return lastAcked;
    }

    /** Sequence numbers in {@code [from, to]} that did not fail: each must reach every subscriber. */
    synchronized long owed(long from, long to) {
      long n = 0;
      for (long s = Math.max(1, from); s <= to; s++) {
        if (!failed.get(Math.toIntExact(s))) {
          n++;
        }
      }
      return n;
    }
  }

  /** A payload of exactly {@code size} bytes for sequence {@code seq} of lane {@code lane}. */
  static byte[] payload(int lane, long seq, int size) {
    String prefix = LANES.charAt(lane) + ":" + seq + ":" + size + ":";
    byte[] p = new byte[Math.max(size, prefix.length())];
    byte[] head = prefix.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(head, 0, p, 0, head.length);
    java.util.Arrays.fill(p, head.length, p.length, filler(seq));
    return p;
  }

  private static byte filler(long seq) {
    return (byte) ('a' + (int) (seq % 26));
  }

  /** A parsed payload: lane index and sequence number. */
  record Parsed(int lane, long seq) {}

  /** Parses and verifies a payload; null when it is not exactly what {@link #payload} wrote. */
  static Parsed parse(byte[] p) {
    if (p.length < 7 || p[1] != ':') {
      return null;
    }
    int lane = LANES.indexOf(p[0]);
    int i = 2;
    long seq = 0;
    while (i < p.length && p[i] >= '0' && p[i] <= '9' && i < 20) {
      seq = seq * 10 + (p[i++] - '0');
    }
    if (lane < 0 || seq < 1 || i >= p.length || p[i++] != ':') {
      return null;
    }
    long size = 0;
    int digits = 0;
    while (i < p.length && p[i] >= '0' && p[i] <= '9' && digits++ < 9) {
      size = size * 10 + (p[i++] - '0');
    }
    if (i >= p.length || p[i++] != ':' || size != p.length) {
      return null;
    }
    byte f = filler(seq);
    for (; i < p.length; i++) {
      if (p[i] != f) {
        return null;
      }
    }
    return new Parsed(lane, seq);
  }
}
