package dev.switchboard.webhook.subscriptions;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** The recent attempts of one endpoint, newest kept, bounded by count and estimated bytes. Thread-safe. */
final class AttemptLog {
  static final int OVERHEAD_BYTES = 96;
  private final ArrayDeque<WebhookSubscriptions.AttemptRecord> records = new ArrayDeque<>();
  private final int maxRecords;
  private final long maxBytes;
  private long bytes;

  AttemptLog(int maxRecords, long maxBytes) {
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
  }

  static long bytes(WebhookSubscriptions.AttemptRecord r) {
    return OVERHEAD_BYTES + 2L * (r.deliveryId().length() + (r.error() == null ? 0 : r.error().length())
        + (r.responseExcerpt() == null ? 0 : r.responseExcerpt().length()));
  }

  synchronized void add(WebhookSubscriptions.AttemptRecord r) {
    records.addLast(r);
    bytes += bytes(r);
    while (records.size() > maxRecords || (bytes > maxBytes && records.size() > 1)) {
      bytes -= bytes(records.removeFirst());
    }
  }

  /** Newest first, at most {@code limit}. */
  synchronized List<WebhookSubscriptions.AttemptRecord> newest(int limit) {
    List<WebhookSubscriptions.AttemptRecord> out = new ArrayList<>();
    for (Iterator<WebhookSubscriptions.AttemptRecord> it = records.descendingIterator(); it.hasNext() && out.size() < limit; ) {
      out.add(it.next());
    }
    return out;
  }

  synchronized long bytes() {
    return bytes;
  }
}
