package dev.switchboard.webhook;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where pending deliveries and dead letters live. The in-memory default loses them on restart; a
 * durable implementation (JDBC, Redis) lets a new sender pick up what a crashed one left.
 *
 * <p>Implementations are thread-safe.
 */
public interface DeliveryStore {
  /** Adds a pending delivery. */
  void add(Delivery d);

  /** Pending deliveries due at {@code now}, oldest first, at most {@code max}. */
  List<Delivery> due(Instant now, int max);

  /**
   * Gives back a delivery that {@link #due} returned but the sender did not attempt (its endpoint
   * was busy). A store that leases due deliveries to one sender makes it due again at once; the
   * default does nothing.
   */
  default void release(Delivery d) {
  }

  /** Replaces a pending delivery's progress. */
  void update(Delivery d);

  /** Removes a pending delivery (delivered). */
  void remove(String id);

  /** Moves a pending delivery to the dead letters. */
  void deadLetter(Delivery d);

  /** Dead letters, oldest first. */
  List<Delivery> deadLetters();

  /** Takes a dead letter out (for replay). */
  Optional<Delivery> takeDeadLetter(String id);

  /** Pending deliveries (tests, metrics). */
  int pendingCount();

  /** The in-memory default. */
  static DeliveryStore inMemory() {
    return new InMemory();
  }

  /** Pending deliveries ordered by due time, and dead letters, under one lock. */
  final class InMemory implements DeliveryStore {
    private static final Comparator<Delivery> BY_DUE =
        Comparator.comparing(Delivery::nextAttempt).thenComparing(Delivery::id);
    private final Map<String, Delivery> pending = new java.util.HashMap<>();
    private final java.util.TreeSet<Delivery> byDue = new java.util.TreeSet<>(BY_DUE);
    private final Map<String, Delivery> dead = new LinkedHashMap<>();

    private InMemory() {}

    @Override
    public synchronized void add(Delivery d) {
      Delivery old = pending.put(d.id(), d);
      if (old != null) {
        byDue.remove(old);
      }
      byDue.add(d);
    }

    @Override
    public synchronized List<Delivery> due(Instant now, int max) {
      List<Delivery> out = new ArrayList<>();
      for (Delivery d : byDue) {
        if (d.nextAttempt().isAfter(now) || out.size() >= max) {
          break;
        }
        out.add(d);
      }
      return out;
    }

    @Override
    public synchronized void update(Delivery d) {
      Delivery old = pending.get(d.id());
      if (old != null) {
        byDue.remove(old);
        pending.put(d.id(), d);
        byDue.add(d);
      }
    }

    @Override
    public synchronized void remove(String id) {
      Delivery old = pending.remove(id);
      if (old != null) {
        byDue.remove(old);
      }
    }

    @Override
    public synchronized void deadLetter(Delivery d) {
      remove(d.id());
      dead.put(d.id(), d);
    }

    @Override
    public synchronized List<Delivery> deadLetters() {
      return new ArrayList<>(dead.values());
    }

    @Override
    public synchronized Optional<Delivery> takeDeadLetter(String id) {
      return Optional.ofNullable(dead.remove(id));
    }

    @Override
    public synchronized int pendingCount() {
      return pending.size();
    }
  }
}
