package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded single-node {@link Broker}: a bounded ring buffer of history per topic and direct
 * fan-out to listeners on the publishing thread.
 *
 * <p>Ids have the form {@code <epoch>-<sequence>}: the epoch is random per broker instance, so an id
 * from before a restart (or from another node) is recognised as unrecoverable and yields a
 * {@code history_gap} rather than a silent gap. Thread-safe.
 */
public final class InMemoryBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(InMemoryBroker.class);

  /** Default messages kept per topic. */
  public static final int DEFAULT_HISTORY_SIZE = 1000;
  /** Default limit on topics held at once. */
  public static final int DEFAULT_MAX_TOPICS = 100_000;

  private final int historySize;
  private final int maxTopics;
  private final Clock clock;
  private final String epoch;
  private final ConcurrentHashMap<String, Topic> topics = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** A broker keeping {@value #DEFAULT_HISTORY_SIZE} messages per topic. */
  public InMemoryBroker() {
    this(DEFAULT_HISTORY_SIZE);
  }

  /** @throws IllegalArgumentException if {@code historySize < 1} */
  public InMemoryBroker(int historySize) {
    this(historySize, Clock.systemUTC());
  }

  /** @throws IllegalArgumentException if {@code historySize < 1} */
  public InMemoryBroker(int historySize, Clock clock) {
    this(historySize, DEFAULT_MAX_TOPICS, clock);
  }

  /**
   * @param maxTopics topics held at once (with history or live listeners); publishing to a new topic
   *     beyond it fails with UNAVAILABLE ({@code too_many_topics}). A topic with no message and no
   *     listener is not held.
   * @throws IllegalArgumentException if {@code historySize < 1} or {@code maxTopics < 1}
   */
  public InMemoryBroker(int historySize, int maxTopics, Clock clock) {
    if (historySize < 1) {
      throw new IllegalArgumentException("historySize must be >= 1: " + historySize);
    }
    if (maxTopics < 1) {
      throw new IllegalArgumentException("maxTopics must be >= 1: " + maxTopics);
    }
    this.maxTopics = maxTopics;
    this.historySize = historySize;
    this.clock = clock;
    this.epoch = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40, 1L << 41), 36);
  }

  /** Messages retained per topic. */
  public int historySize() {
    return historySize;
  }

  @Override
  public CompletionStage<Message> publish(Message draft) {
    if (closed) {
      return CompletableFuture.failedFuture(
          new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    Topic t = topics.get(draft.topic());
    if (t == null) {
      if (topics.size() >= maxTopics) {
        return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "too_many_topics",
            "the broker holds its limit of " + maxTopics + " topics", null, null));
      }
      t = topic(draft.topic());
    }
    return CompletableFuture.completedFuture(t.append(draft));
  }

  @Override
  public AutoCloseable subscribe(String topic, Listener listener) {
    while (true) {
      Topic t = topic(topic);
      synchronized (t) {
        if (t.removed) {
          continue; // lost a race with the removal of an empty topic
        }
        t.listeners.add(listener);
      }
      return () -> {
        synchronized (t) {
          t.listeners.remove(listener);
          if (t.listeners.isEmpty() && t.lastSeq == 0) {
            // Nothing to keep: a topic only subscribed to must not stay forever.
            t.removed = true;
            topics.remove(topic, t);
          }
        }
      };
    }
  }

  /** Topics held now. */
  public int topicCount() {
    return topics.size();
  }

  /** Ids are {@code <epoch>-<sequence>}; within one broker the sequence orders them. */
  @Override
  public java.util.Comparator<String> idOrder() {
    return ID_ORDER;
  }

  private static final java.util.Comparator<String> ID_ORDER =
      java.util.Comparator.comparingLong(InMemoryBroker::sequenceOf);

  private static long sequenceOf(String id) {
    try {
      return Long.parseLong(id.substring(id.lastIndexOf('-') + 1));
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE; // not one of ours: never taken for an old message
    }
  }

  @Override
  public CompletionStage<History> history(String topic, String afterId, int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0: " + limit);
    }
    Topic t = topics.get(topic);
    long after;
    boolean sameEpoch = true;
    if (afterId == null) {
      after = -1;
    } else {
      ParsedId id = parse(afterId);
      // Not one of our ids (garbage, another broker's): a gap, like an id from another epoch.
      sameEpoch = id != null && id.epoch.equals(epoch);
      after = sameEpoch ? id.seq : -1;
    }
    if (t == null) {
      // No message was ever published here, so an id to resume from cannot be one of ours.
      return CompletableFuture.completedFuture(new History(List.of(), afterId == null, null));
    }
    return CompletableFuture.completedFuture(t.read(after, sameEpoch, afterId != null, limit));
  }

  @Override
  public CompletionStage<Optional<Message>> get(String topic, String id) {
    Topic t = topics.get(topic);
    ParsedId p = parse(id);
    if (t == null || p == null || !p.epoch.equals(epoch)) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return CompletableFuture.completedFuture(t.get(p.seq));
  }

  @Override
  public void close() {
    closed = true;
  }

  private Topic topic(String name) {
    return topics.computeIfAbsent(name, Topic::new);
  }

  private ParsedId parse(String id) {
    int dash = id.indexOf('-');
    if (dash <= 0 || dash == id.length() - 1 || id.length() > 64) {
      return null;
    }
    try {
      long seq = Long.parseLong(id.substring(dash + 1));
      return seq < 1 ? null : new ParsedId(id.substring(0, dash), seq);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private record ParsedId(String epoch, long seq) {}

  private final class Topic {
    final String name;
    final Message[] ring = new Message[historySize];
    final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    long lastSeq; // guarded by this
    boolean removed; // guarded by this

    Topic(String name) {
      this.name = name;
    }

    /** Appends and dispatches under the lock, so dispatch order equals id order. */
    synchronized Message append(Message draft) {
      if (removed) {
        // Removed while empty between our lookup and now: publish into the live instance instead.
        return topic(name).append(draft);
      }
      long seq = ++lastSeq;
      Message stored = draft.toBuilder().id(epoch + "-" + seq).time(clock.instant()).build();
      ring[(int) (seq % historySize)] = stored;
      for (Listener l : listeners) {
        try {
          l.onMessage(stored);
        } catch (RuntimeException e) {
          log.warn("listener on topic {} threw; others still get the message", name, e);
        }
      }
      return stored;
    }

    synchronized History read(long after, boolean sameEpoch, boolean hadAfter, int limit) {
      long oldest = Math.max(1, lastSeq - historySize + 1);
      String latest = lastSeq == 0 ? null : epoch + "-" + lastSeq;
      boolean recovered;
      long from;
      if (!hadAfter) {
        recovered = true;
        from = oldest;
      } else if (!sameEpoch) {
        recovered = false;
        from = oldest;
      } else if (after > lastSeq || after + 1 < oldest) {
        // Never issued for this topic, or already evicted: resuming would hide a gap.
        recovered = false;
        from = oldest;
      } else {
        recovered = true;
        from = after + 1;
      }
      List<Message> out = new ArrayList<>((int) Math.min(limit, Math.max(0, lastSeq - from + 1)));
      for (long s = from; s <= lastSeq && out.size() < limit; s++) {
        out.add(ring[(int) (s % historySize)]);
      }
      return new History(out, recovered, latest);
    }

    synchronized Optional<Message> get(long seq) {
      long oldest = Math.max(1, lastSeq - historySize + 1);
      if (seq < oldest || seq > lastSeq) {
        return Optional.empty();
      }
      return Optional.of(ring[(int) (seq % historySize)]);
    }
  }
}
