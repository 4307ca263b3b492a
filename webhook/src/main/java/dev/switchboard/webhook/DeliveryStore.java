package dev.switchboard.webhook;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where pending deliveries and dead letters live. The in-memory default loses them on restart; a
 * durable implementation (JDBC, Redis) lets a new sender pick up what a crashed one left.
 *
 * <p><strong>Leases.</strong> {@link #due} hands each due delivery out once: a delivery it returned is
 * not returned again (to this or any other sender sharing the store) until the sender records its
 * outcome with {@link #update}, {@link #remove} or {@link #deadLetter}, or gives it back with
 * {@link #release}. A durable store bounds the lease in time, so the deliveries of a sender that
 * crashed mid-attempt become due again for the others; an attempt that outlives the lease may then be
 * sent twice, which receivers absorb by deduplicating on the delivery id (as {@link WebhookFilter}
 * does).
 *
 * <p>Implementations are thread-safe.
 */
public interface DeliveryStore {
  /** Adds a pending delivery. */
  void add(Delivery d);

  /**
   * Leases up to {@code max} pending deliveries of one endpoint that are due at {@code now} and not
   * leased already, oldest first. Asked per endpoint so that a backlog for one endpoint never hides
   * another endpoint's deliveries.
   */
  List<Delivery> due(String endpointId, Instant now, int max);

  /** Ends the lease of a delivery that {@link #due} returned but the sender did not attempt. */
  void release(Delivery d);

  /** Replaces a pending delivery's progress. */
  void update(Delivery d);

  /** Removes a pending delivery (delivered). */
  void remove(String id);

  /**
   * Removes a pending delivery (delivered); the sender calls this one. A store whose ids are unique
   * only per endpoint overrides it; the default calls {@link #remove(String)}.
   */
  default void remove(Delivery d) {
    remove(d.id());
  }

  /** Moves a pending delivery to the dead letters. */
  void deadLetter(Delivery d);

  /** Dead letters, oldest first. */
  List<Delivery> deadLetters();

  /** Takes a dead letter out (for replay). */
  Optional<Delivery> takeDeadLetter(String id);

  /** Pending deliveries (tests, metrics). */
  int pendingCount();

  /**
   * Dead letters this store dropped, oldest first, to stay within its bounds (0 for a store that
   * keeps them all, as the durable ones do).
   */
  default long deadLettersEvicted() {
    return 0;
  }

  /**
   * The in-memory default: at most {@value InMemory#DEFAULT_MAX_DEAD_LETTERS} dead letters and
   * {@link InMemory#defaultMaxDeadLetterBytes()} of them.
   */
  static InMemory inMemory() {
    return new InMemory(InMemory.DEFAULT_MAX_DEAD_LETTERS, InMemory.defaultMaxDeadLetterBytes());
  }

  /**
   * An in-memory store keeping at most {@code maxDeadLetters} dead letters of at most
   * {@code maxDeadLetterBytes} (estimated: body, URL and strings plus
   * {@value InMemory#DELIVERY_OVERHEAD_BYTES} bytes each); past either, the oldest are dropped and
   * counted ({@link #deadLettersEvicted()}).
   *
   * @throws IllegalArgumentException if either bound is below 1
   */
  static InMemory inMemory(int maxDeadLetters, long maxDeadLetterBytes) {
    return new InMemory(maxDeadLetters, maxDeadLetterBytes);
  }

  /**
   * Pending deliveries ordered by due time per endpoint, leases and dead letters, under one lock.
   * Pending deliveries are not bounded here (the application decides what it sends); dead letters
   * are, by count and by bytes, oldest dropped first.
   */
  final class InMemory implements DeliveryStore {
    /** Default limit on dead letters kept. */
    public static final int DEFAULT_MAX_DEAD_LETTERS = 10_000;
    /** Estimated bytes of a delivery besides its body, URL and strings. */
    public static final int DELIVERY_OVERHEAD_BYTES = 256;
    private static final Logger log = LoggerFactory.getLogger(DeliveryStore.class);
    private static final Comparator<Delivery> BY_DUE =
        Comparator.comparing(Delivery::nextAttempt).thenComparing(Delivery::id);
    private final Map<String, Delivery> pending = new HashMap<>();
    private final Map<String, TreeSet<Delivery>> byEndpoint = new HashMap<>();
    private final Set<String> leased = new HashSet<>();
    private final Map<String, Delivery> dead = new LinkedHashMap<>();
    private final int maxDeadLetters;
    private final long maxDeadLetterBytes;
    private long deadBytes;
    private long evicted;

    private InMemory(int maxDeadLetters, long maxDeadLetterBytes) {
      if (maxDeadLetters < 1 || maxDeadLetterBytes < 1) {
        throw new IllegalArgumentException("maxDeadLetters and maxDeadLetterBytes must be >= 1: " + maxDeadLetters
            + ", " + maxDeadLetterBytes);
      }
      this.maxDeadLetters = maxDeadLetters;
      this.maxDeadLetterBytes = maxDeadLetterBytes;
    }

    /**
     * The default byte bound on dead letters: a sixteenth of the maximum heap
     * ({@link Runtime#maxMemory()}; 16 MiB under {@code -Xmx256m}), or 64 MiB when the heap has no limit.
     */
    public static long defaultMaxDeadLetterBytes() {
      long max = Runtime.getRuntime().maxMemory();
      return max == Long.MAX_VALUE ? 64L << 20 : max / 16;
    }

    /** Estimated heap bytes of a delivery; characters count two bytes. */
    static long bytes(Delivery d) {
      long chars = d.id().length() + d.endpointId().length() + d.url().toString().length()
          + (d.contentType() == null ? 0 : d.contentType().length()) + (d.lastError() == null ? 0 : d.lastError().length());
      return DELIVERY_OVERHEAD_BYTES + (long) d.body().length + 2 * chars;
    }

    @Override
    public synchronized void add(Delivery d) {
      remove(d.id());
      pending.put(d.id(), d);
      byEndpoint.computeIfAbsent(d.endpointId(), k -> new TreeSet<>(BY_DUE)).add(d);
    }

    @Override
    public synchronized List<Delivery> due(String endpointId, Instant now, int max) {
      TreeSet<Delivery> queue = byEndpoint.get(endpointId);
      if (queue == null || max <= 0) {
        return List.of();
      }
      List<Delivery> out = new ArrayList<>(Math.min(max, 16));
      for (Delivery d : queue) {
        if (d.nextAttempt().isAfter(now) || out.size() >= max) {
          break;
        }
        if (leased.add(d.id())) {
          out.add(d);
        }
      }
      return out;
    }

    @Override
    public synchronized void release(Delivery d) {
      leased.remove(d.id());
    }

    @Override
    public synchronized void update(Delivery d) {
      if (pending.containsKey(d.id())) {
        add(d);
      }
    }

    @Override
    public synchronized void remove(String id) {
      Delivery old = pending.remove(id);
      leased.remove(id);
      if (old != null) {
        TreeSet<Delivery> queue = byEndpoint.get(old.endpointId());
        queue.remove(old);
        if (queue.isEmpty()) {
          byEndpoint.remove(old.endpointId());
        }
      }
    }

    @Override
    public synchronized void deadLetter(Delivery d) {
      remove(d.id());
      Delivery old = dead.remove(d.id());
      if (old != null) {
        deadBytes -= bytes(old);
      }
      dead.put(d.id(), d);
      deadBytes += bytes(d);
      Iterator<Delivery> oldest = dead.values().iterator();
      while ((dead.size() > maxDeadLetters || deadBytes > maxDeadLetterBytes) && oldest.hasNext()) {
        Delivery gone = oldest.next();
        oldest.remove();
        deadBytes -= bytes(gone);
        if (evicted++ == 0) {
          log.warn("webhook dead letters are over their bound ({} letters, {} bytes): the oldest are dropped from"
              + " now on (first: {} to endpoint {}); replay or use a durable store", maxDeadLetters,
              maxDeadLetterBytes, gone.id(), gone.endpointId());
        }
      }
    }

    @Override
    public synchronized List<Delivery> deadLetters() {
      return new ArrayList<>(dead.values());
    }

    @Override
    public synchronized Optional<Delivery> takeDeadLetter(String id) {
      Delivery d = dead.remove(id);
      if (d != null) {
        deadBytes -= bytes(d);
      }
      return Optional.ofNullable(d);
    }

    @Override
    public synchronized int pendingCount() {
      return pending.size();
    }

    @Override
    public synchronized long deadLettersEvicted() {
      return evicted;
    }

    /** Dead letters held now. */
    public synchronized int deadLetterCount() {
      return dead.size();
    }

    /** Estimated bytes of the dead letters held now. */
    public synchronized long deadLetterBytes() {
      return deadBytes;
    }
  }
}
