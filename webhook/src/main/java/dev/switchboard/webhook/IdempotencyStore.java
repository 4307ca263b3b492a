package dev.switchboard.webhook;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remembers which webhook deliveries (by id) were processed, so a redelivery is acknowledged without
 * running the handler twice — also when two copies arrive at once. Implementations must make
 * {@link #claim} atomic (across nodes for a shared store).
 *
 * <p>Implementations are thread-safe.
 */
public interface IdempotencyStore {
  /** What a claim found. */
  enum Claim {
    /** Nobody had it: the caller now processes it and must {@link #complete} or {@link #release} it. */
    CLAIMED,
    /** Another copy is being processed right now: answer so the sender retries later. */
    IN_PROGRESS,
    /** Processed already: acknowledge without processing again. */
    DONE
  }

  /** Atomically claims {@code key} for processing; the claim and later the done mark live for {@code ttl}. */
  Claim claim(String key, Duration ttl);

  /** Marks a claimed key as processed. */
  void complete(String key);

  /** Forgets a claimed key whose processing failed, so the next retry runs again. */
  void release(String key);

  /** The in-memory default: at most {@code maxKeys} keys (oldest forgotten first), each for its ttl. */
  static IdempotencyStore inMemory(int maxKeys) {
    return new InMemory(maxKeys, Clock.systemUTC());
  }

  /** The in-memory store with an injected clock (tests). */
  static IdempotencyStore inMemory(int maxKeys, Clock clock) {
    return new InMemory(maxKeys, clock);
  }

  /** Bounded, expiring, one lock; O(1) per call apart from expiring old entries. */
  final class InMemory implements IdempotencyStore {
    private record Entry(boolean done, Instant expires, Duration ttl) {}

    private final int maxKeys;
    private final Clock clock;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    private InMemory(int maxKeys, Clock clock) {
      if (maxKeys < 1) {
        throw new IllegalArgumentException("maxKeys must be >= 1: " + maxKeys);
      }
      this.maxKeys = maxKeys;
      this.clock = clock;
    }

    @Override
    public synchronized Claim claim(String key, Duration ttl) {
      Instant now = clock.instant();
      Entry e = entries.get(key);
      if (e != null && e.expires.isAfter(now)) {
        return e.done ? Claim.DONE : Claim.IN_PROGRESS;
      }
      entries.remove(key);
      entries.put(key, new Entry(false, now.plus(ttl), ttl));
      Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
      while (entries.size() > maxKeys && it.hasNext()) {
        it.next();
        it.remove();
      }
      return Claim.CLAIMED;
    }

    @Override
    public synchronized void complete(String key) {
      Entry e = entries.get(key);
      if (e != null) {
        entries.put(key, new Entry(true, clock.instant().plus(e.ttl), e.ttl));
      }
    }

    @Override
    public synchronized void release(String key) {
      entries.remove(key);
    }

    /** Keys held now (tests, metrics). */
    public synchronized int size() {
      return entries.size();
    }
  }
}
