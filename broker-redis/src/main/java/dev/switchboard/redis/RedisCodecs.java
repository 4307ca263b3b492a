package dev.switchboard.redis;

/**
 * Redis stream ids ({@code <ms>-<seq>}). The stored envelope of a message is
 * {@link dev.switchboard.transport.internal.StoredEnvelope}; Pub/Sub carries {@code <id>\n<envelope>}.
 */
final class RedisCodecs {
  private RedisCodecs() {}

  /** Stream ids are {@code <ms>-<seq>}; null when {@code id} is not one. */
  static long[] parseId(String id) {
    int dash = id.indexOf('-');
    if (dash <= 0 || dash == id.length() - 1 || id.length() > 41) {
      return null;
    }
    try {
      long ms = Long.parseLong(id.substring(0, dash));
      long seq = Long.parseLong(id.substring(dash + 1));
      return ms < 0 || seq < 0 ? null : new long[] {ms, seq};
    } catch (NumberFormatException e) {
      return null;
    }
  }

  static int compareIds(long[] a, long[] b) {
    int c = Long.compare(a[0], b[0]);
    return c != 0 ? c : Long.compare(a[1], b[1]);
  }
}
