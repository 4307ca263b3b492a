package dev.switchboard.webhook.subscriptions;

import dev.switchboard.webhook.Delivery;
import dev.switchboard.webhook.DeliveryStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The sender's store for subscription deliveries: in memory, keyed by endpoint and delivery id
 * (the delivery id is the message id, unique per endpoint at a time, not across endpoints), without
 * dead letters (the attempt log shows them; the cursor and the broker's history are what is
 * durable). Adding a delivery an endpoint already has pending keeps the pending one. Thread-safe.
 */
final class LaneDeliveryStore implements DeliveryStore {
  private static final Comparator<Delivery> BY_DUE = Comparator.comparing(Delivery::nextAttempt).thenComparing(Delivery::id);

  private static final class Queue {
    final Map<String, Delivery> pending = new HashMap<>();
    final TreeSet<Delivery> due = new TreeSet<>(BY_DUE);
    final Set<String> leased = new HashSet<>();
  }

  private final Map<String, Queue> queues = new HashMap<>();
  private int size;

  @Override
  public synchronized void add(Delivery d) {
    Queue q = queues.computeIfAbsent(d.endpointId(), k -> new Queue());
    if (q.pending.putIfAbsent(d.id(), d) == null) {
      q.due.add(d);
      size++;
    }
  }

  @Override
  public synchronized List<Delivery> due(String endpointId, Instant now, int max) {
    Queue q = queues.get(endpointId);
    List<Delivery> out = new ArrayList<>();
    if (q == null) {
      return out;
    }
    for (Delivery d : q.due) {
      if (out.size() >= max || d.nextAttempt().isAfter(now)) {
        break;
      }
      if (q.leased.add(d.id())) {
        out.add(d);
      }
    }
    return out;
  }

  @Override
  public synchronized void release(Delivery d) {
    Queue q = queues.get(d.endpointId());
    if (q != null) {
      q.leased.remove(d.id());
    }
  }

  @Override
  public synchronized void update(Delivery d) {
    Queue q = queues.get(d.endpointId());
    Delivery old = q == null ? null : q.pending.get(d.id());
    if (old != null) {
      q.due.remove(old);
      q.pending.put(d.id(), d);
      q.due.add(d);
      q.leased.remove(d.id());
    }
  }

  @Override
  public synchronized void remove(Delivery d) {
    Queue q = queues.get(d.endpointId());
    Delivery old = q == null ? null : q.pending.remove(d.id());
    if (old != null) {
      q.due.remove(old);
      q.leased.remove(d.id());
      size--;
      if (q.pending.isEmpty()) {
        queues.remove(d.endpointId());
      }
    }
  }

  @Override
  public synchronized void remove(String id) {
    for (Queue q : new ArrayList<>(queues.values())) {
      Delivery d = q.pending.get(id);
      if (d != null) {
        remove(d);
        return;
      }
    }
  }

  @Override
  public void deadLetter(Delivery d) {
    remove(d);
  }

  @Override
  public List<Delivery> deadLetters() {
    return List.of();
  }

  @Override
  public Optional<Delivery> takeDeadLetter(String id) {
    return Optional.empty();
  }

  @Override
  public synchronized int pendingCount() {
    return size;
  }

  /** Drops every pending delivery of an endpoint (disabled or deleted). */
  synchronized void purge(String endpointId) {
    Queue q = queues.remove(endpointId);
    if (q != null) {
      size -= q.pending.size();
    }
  }
}
