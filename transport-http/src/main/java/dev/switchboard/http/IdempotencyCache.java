package dev.switchboard.http;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remembers publish requests by {@code Idempotency-Key}: bounded by entry count (oldest evicted
 * first) and by age. Thread-safe (one lock; entries are tiny and operations O(1)).
 */
final class IdempotencyCache {
  /** What a key currently maps to. */
  static final class Entry {
    final String fingerprint;
    final Instant created;
    volatile byte[] responseBody; // null while in flight
    volatile String location;

    Entry(String fingerprint, Instant created) {
      this.fingerprint = fingerprint;
      this.created = created;
    }

    boolean inFlight() {
      return responseBody == null;
    }
  }

  private final int maxEntries;
  private final Duration ttl;
  private final Clock clock;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

  IdempotencyCache(int maxEntries, Duration ttl, Clock clock) {
    this.maxEntries = maxEntries;
    this.ttl = ttl;
    this.clock = clock;
  }

  /**
   * Claims {@code key} for a new request, or returns the existing entry (in flight or completed).
   *
   * @return null when the caller now owns the key and must {@link #complete} or {@link #release} it
   */
  synchronized Entry claim(String key, String fingerprint) {
    Instant now = clock.instant();
    expire(now);
    Entry existing = entries.get(key);
    if (existing != null) {
      return existing;
    }
    entries.put(key, new Entry(fingerprint, now));
    while (entries.size() > maxEntries) {
      Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
      it.next();
      it.remove();
    }
    return null;
  }

  synchronized void complete(String key, byte[] body, String location) {
    Entry e = entries.get(key);
    if (e != null) {
      e.location = location;
      e.responseBody = body;
    }
  }

  /** Forgets a key whose request failed, so a retry runs again. */
  synchronized void release(String key) {
    entries.remove(key);
  }

  synchronized int size() {
    return entries.size();
  }

  private void expire(Instant now) {
    Iterator<Entry> it = entries.values().iterator();
    while (it.hasNext()) {
      Entry e = it.next();
      if (Duration.between(e.created, now).compareTo(ttl) <= 0) {
        break; // insertion order: the rest are younger
      }
      it.remove();
    }
  }
}
