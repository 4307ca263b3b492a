package dev.switchboard.webhook;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

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

  /** Pending deliveries ordered by due time per endpoint, leases and dead letters, under one lock. */
  final class InMemory implements DeliveryStore {
    private static final Comparator<Delivery> BY_DUE =
        Comparator.comparing(Delivery::nextAttempt).thenComparing(Delivery::id);
    private final Map<String, Delivery> pending = new HashMap<>();
    private final Map<String, TreeSet<Delivery>> byEndpoint = new HashMap<>();
    private final Set<String> leased = new HashSet<>();
    private final Map<String, Delivery> dead = new LinkedHashMap<>();

    private InMemory() {}

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
