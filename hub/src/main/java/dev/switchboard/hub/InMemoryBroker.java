package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded single-node {@link Broker}: history per topic in memory and direct fan-out to
 * listeners on the publishing thread.
 *
 * <p><strong>Ids</strong> have the form {@code <epoch>-<sequence>}: the epoch is random per broker
 * instance, so an id from before a restart (or from another node) is recognised as unrecoverable and
 * yields a {@code history_gap} rather than a silent gap. The sequence is counted across the whole
 * broker: it increases within a topic but is not contiguous, and an id is never issued twice by one
 * broker, even for a topic that was dropped and published to again.
 *
 * <p><strong>Memory</strong> grows with what the broker holds, never with its capacity (a topic with
 * one message takes well under a kilobyte). What is held is counted in estimated bytes: per message
 * its payload, headers, event, topic name and content type plus a fixed
 * {@value #MESSAGE_OVERHEAD_BYTES} bytes (id, time, the message object and its slot), per topic its
 * name plus {@value #TOPIC_OVERHEAD_BYTES} bytes. The bounds ({@link Builder}):
 *
 * <ul>
 *   <li>per topic, {@linkplain Builder#maxMessagesPerTopic messages} (default
 *       {@value #DEFAULT_HISTORY_SIZE}) and {@linkplain Builder#maxBytesPerTopic bytes} (default 16 MiB):
 *       past either, the topic's oldest messages go. The newest message is always kept, even when it
 *       alone is larger than the byte bound.
 *   <li>over all topics, {@linkplain Builder#maxTotalBytes a byte budget} (default a quarter of the
 *       maximum heap, {@link Runtime#maxMemory()}): a publish that would exceed it first evicts the
 *       oldest messages of all topics (lowest ids first, down to 15/16 of the budget so that one sweep
 *       makes room for many publishes); a topic emptied this way that has no listener is dropped.
 *       When that cannot make room (what is held belongs to topics busy at that moment, or to topics
 *       that are only listened to), the publish fails with UNAVAILABLE ({@code
 *       history_budget_exhausted}) and nothing is stored. A message larger than the whole budget
 *       fails with PAYLOAD_TOO_LARGE.
 *   <li>{@linkplain Builder#maxTopics topics} held at once (default {@value #DEFAULT_MAX_TOPICS}):
 *       publishing to a new topic beyond it fails with UNAVAILABLE ({@code too_many_topics}).
 * </ul>
 *
 * <p>A resume from before the oldest retained message is reported as a gap ({@code recovered} false,
 * a {@code history_gap} for subscribers), starting at the oldest retained message. So is a resume on
 * a topic that was dropped, even from its last id.
 *
 * <p>Thread-safe. Listeners of one topic are called under that topic's lock, in id order, on the
 * publishing thread; a listener that throws is logged and the others still get the message.
 */
public final class InMemoryBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(InMemoryBroker.class);

  /** Default messages kept per topic. */
  public static final int DEFAULT_HISTORY_SIZE = 1000;
  /** Default bytes (estimated) kept per topic: 16 MiB. */
  public static final long DEFAULT_MAX_BYTES_PER_TOPIC = 16L << 20;
  /** Default limit on topics held at once. */
  public static final int DEFAULT_MAX_TOPICS = 100_000;
  /** Estimated bytes of a stored message besides its payload, headers and strings. */
  public static final int MESSAGE_OVERHEAD_BYTES = 320;
  /** Estimated bytes of a held topic besides its name and messages. */
  public static final int TOPIC_OVERHEAD_BYTES = 256;
  /** Estimated bytes of a string besides its characters, and of one header besides its text. */
  private static final int STRING_OVERHEAD_BYTES = 40;
  private static final int HEADER_OVERHEAD_BYTES = 2 * STRING_OVERHEAD_BYTES + 40;

  private static final Message[] NO_MESSAGES = new Message[0];
  private static final long[] NO_SEQUENCES = new long[0];
  private static final Listener[] NO_LISTENERS = new Listener[0];

  private final int maxMessagesPerTopic;
  private final long maxBytesPerTopic;
  private final long maxTotalBytes;
  private final int maxTopics;
  private final Clock clock;
  private final String epoch;
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong heldBytes = new AtomicLong();
  /** Held while evicting for the budget: one sweep at a time frees room for everyone waiting. */
  private final ReentrantLock sweeping = new ReentrantLock();
  private final ConcurrentHashMap<String, Topic> topics = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** A broker with the default bounds. */
  public InMemoryBroker() {
    this(builder());
  }

  /**
   * A broker keeping {@code historySize} messages per topic, other bounds at their defaults.
   *
   * @throws IllegalArgumentException if {@code historySize < 1}
   */
  public InMemoryBroker(int historySize) {
    this(builder().maxMessagesPerTopic(historySize));
  }

  /** @throws IllegalArgumentException if {@code historySize < 1} */
  public InMemoryBroker(int historySize, Clock clock) {
    this(builder().maxMessagesPerTopic(historySize).clock(clock));
  }

  /**
   * @param maxTopics topics held at once (see {@link Builder#maxTopics})
   * @throws IllegalArgumentException if {@code historySize < 1} or {@code maxTopics < 1}
   */
  public InMemoryBroker(int historySize, int maxTopics, Clock clock) {
    this(builder().maxMessagesPerTopic(historySize).maxTopics(maxTopics).clock(clock));
  }

  private InMemoryBroker(Builder b) {
    this.maxMessagesPerTopic = b.maxMessagesPerTopic;
    this.maxBytesPerTopic = b.maxBytesPerTopic;
    this.maxTotalBytes = b.maxTotalBytes > 0 ? b.maxTotalBytes : defaultMaxTotalBytes();
    this.maxTopics = b.maxTopics;
    this.clock = b.clock;
    this.epoch = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40, 1L << 41), 36);
  }

  /** A builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The default budget over all topics: a quarter of the maximum heap ({@link Runtime#maxMemory()}),
   * or 1 GiB when the heap has no limit.
   */
  public static long defaultMaxTotalBytes() {
    long max = Runtime.getRuntime().maxMemory();
    return max == Long.MAX_VALUE ? 1L << 30 : max / 4;
  }

  /** Messages retained per topic. */
  public int historySize() {
    return maxMessagesPerTopic;
  }

  /** Estimated bytes retained per topic. */
  public long maxBytesPerTopic() {
    return maxBytesPerTopic;
  }

  /** The byte budget over all topics. */
  public long maxTotalBytes() {
    return maxTotalBytes;
  }

  /** Estimated bytes held now (messages and topics). */
  public long heldBytes() {
    return heldBytes.get();
  }

  /** Topics held now. */
  public int topicCount() {
    return topics.size();
  }

  @Override
  public CompletionStage<Message> publish(Message draft) {
    if (closed) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    long size = messageBytes(draft);
    if (size > maxTotalBytes) {
      return CompletableFuture.failedFuture(SwitchboardException.of(Status.PAYLOAD_TOO_LARGE, "payload_too_large",
          "a message of " + size + " bytes (estimated, with overhead) is larger than the broker's history budget of "
              + maxTotalBytes + " bytes"));
    }
    Topic t = topics.get(draft.topic());
    if (t == null && topics.size() >= maxTopics) {
      return CompletableFuture.failedFuture(SwitchboardException.of(Status.UNAVAILABLE, "too_many_topics",
          "the broker holds its limit of " + maxTopics + " topics"));
    }
    // A new topic's own bytes count too, so a flood of new topics meets the budget like any other.
    long topicBytes = t == null ? topicBytes(draft.topic()) : 0;
    if (!reserve(size + topicBytes)) {
      return CompletableFuture.failedFuture(SwitchboardException.of(Status.UNAVAILABLE, "history_budget_exhausted",
          "the broker's history holds its budget of " + maxTotalBytes + " bytes and no older message could be"
              + " evicted; retry later"));
    }
    return CompletableFuture.completedFuture(append(t, draft, size, topicBytes));
  }

  /**
   * Stores under the topic's lock (the reserved {@code size} becomes the topic's) and dispatches.
   * {@code prepaid} bytes were reserved for creating the topic; whatever is not spent on it is given
   * back, and so is {@code size} if nothing was stored.
   */
  private Message append(Topic t, Message draft, long size, long prepaid) {
    boolean stored = false;
    try {
      while (true) {
        if (t == null) {
          Topic fresh = new Topic(draft.topic());
          t = topics.putIfAbsent(fresh.name, fresh);
          if (t == null) {
            t = fresh;
            if (prepaid > 0) {
              prepaid = 0;
            } else {
              heldBytes.addAndGet(topicBytes(fresh.name));
            }
          }
        }
        Topic locked = t;
        locked.lock();
        try {
          if (locked.removed) {
            t = null; // dropped between our lookup and now: publish into the live instance instead
            continue;
          }
          long seq = sequence.incrementAndGet();
          Message message = draft.toBuilder().id(epoch + "-" + seq).time(clock.instant()).build();
          locked.add(seq, message, size);
          stored = true;
          locked.dispatch(message);
          return message;
        } finally {
          locked.unlock();
        }
      }
    } finally {
      heldBytes.addAndGet(-(prepaid + (stored ? 0 : size)));
    }
  }

  /**
   * Adds {@code size} to the bytes held, evicting the oldest messages of all topics if that exceeds
   * the budget.
   *
   * @return false (nothing added) when no room could be made
   */
  private boolean reserve(long size) {
    if (heldBytes.addAndGet(size) <= maxTotalBytes) {
      return true;
    }
    sweep();
    if (heldBytes.get() <= maxTotalBytes) {
      return true;
    }
    heldBytes.addAndGet(-size);
    return false;
  }

  /**
   * Evicts messages in id order across topics until the bytes held are at 15/16 of the budget. A
   * topic's lock is only tried, never waited for: a listener may publish while its topic is locked,
   * so waiting here could deadlock; a busy topic is skipped in this sweep.
   */
  private void sweep() {
    sweeping.lock();
    try {
      if (heldBytes.get() <= maxTotalBytes) {
        return; // another publisher's sweep made room while we waited
      }
      long target = maxTotalBytes - maxTotalBytes / 16;
      PriorityQueue<Oldest> byId = new PriorityQueue<>();
      for (Topic t : topics.values()) {
        long oldest = t.oldestSeq;
        if (oldest > 0) {
          byId.add(new Oldest(oldest, t));
        }
      }
      while (heldBytes.get() > target) {
        Oldest o = byId.poll();
        if (o == null) {
          break;
        }
        Topic t = o.topic;
        if (!t.tryLock()) {
          continue;
        }
        try {
          if (t.removed || t.count == 0) {
            continue;
          }
          if (t.oldestSeq == o.seq) {
            t.evictOldest();
          }
          if (t.count > 0) {
            byId.add(new Oldest(t.oldestSeq, t));
          } else {
            t.dropIfUnused();
          }
        } finally {
          t.unlock();
        }
      }
    } finally {
      sweeping.unlock();
    }
  }

  private record Oldest(long seq, Topic topic) implements Comparable<Oldest> {
    @Override
    public int compareTo(Oldest o) {
      return Long.compare(seq, o.seq);
    }
  }

  @Override
  public AutoCloseable subscribe(String topic, Listener listener) {
    Objects.requireNonNull(listener, "listener");
    while (true) {
      Topic t = topic(topic);
      t.lock();
      try {
        if (t.removed) {
          continue; // lost a race with the removal of an empty topic
        }
        t.listeners = Arrays.copyOf(t.listeners, t.listeners.length + 1);
        t.listeners[t.listeners.length - 1] = listener;
      } finally {
        t.unlock();
      }
      return () -> {
        t.lock();
        try {
          t.removeListener(listener);
          t.dropIfUnused(); // a topic only subscribed to must not stay forever
        } finally {
          t.unlock();
        }
      };
    }
  }

  /** Ids are {@code <epoch>-<sequence>}; within one broker the sequence orders them. */
  @Override
  public Comparator<String> idOrder() {
    return ID_ORDER;
  }

  private static final Comparator<String> ID_ORDER = Comparator.comparingLong(InMemoryBroker::sequenceOf);

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
    long after = -1;
    boolean sameEpoch = true;
    if (afterId != null) {
      ParsedId id = parse(afterId);
      // Not one of our ids (garbage, another broker's): a gap, like an id from another epoch.
      sameEpoch = id != null && id.epoch.equals(epoch);
      after = sameEpoch ? id.seq : -1;
    }
    if (t == null) {
      // Nothing held here, so an id to resume from cannot be resumed exactly.
      return CompletableFuture.completedFuture(new History(List.of(), afterId == null, null));
    }
    t.lock();
    try {
      return CompletableFuture.completedFuture(t.read(after, sameEpoch, afterId != null, limit));
    } finally {
      t.unlock();
    }
  }

  @Override
  public CompletionStage<Optional<Message>> get(String topic, String id) {
    Topic t = topics.get(topic);
    ParsedId p = parse(id);
    if (t == null || p == null || !p.epoch.equals(epoch)) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    t.lock();
    try {
      int i = t.indexOf(p.seq);
      return CompletableFuture.completedFuture(i < 0 ? Optional.empty() : Optional.of(t.at(i)));
    } finally {
      t.unlock();
    }
  }

  @Override
  public void close() {
    closed = true;
  }

  private Topic topic(String name) {
    return topics.computeIfAbsent(name, n -> {
      heldBytes.addAndGet(topicBytes(n));
      return new Topic(n);
    });
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

  /**
   * Estimated heap bytes of a stored message: the same for a draft and the message stored from it,
   * so what a publish reserves is what its eviction gives back. Characters count two bytes.
   */
  static long messageBytes(Message m) {
    long bytes = MESSAGE_OVERHEAD_BYTES + (long) m.payloadSize() + 2L * (m.topic().length() + m.contentType().length());
    if (m.event() != null) {
      bytes += STRING_OVERHEAD_BYTES + 2L * m.event().length();
    }
    for (Map.Entry<String, String> h : m.headers().entrySet()) {
      bytes += HEADER_OVERHEAD_BYTES + 2L * (h.getKey().length() + h.getValue().length());
    }
    return bytes;
  }

  static long topicBytes(String name) {
    return TOPIC_OVERHEAD_BYTES + 2L * name.length();
  }

  /**
   * One topic: its retained messages in a ring that grows and shrinks with them (with their
   * sequences alongside), its listeners and its lock (the topic is the lock, which saves an object
   * per topic). Fields other than {@link #oldestSeq} are guarded by the lock.
   */
  @SuppressWarnings("serial") // never serialised
  private final class Topic extends ReentrantLock {
    final String name;
    Message[] messages = NO_MESSAGES;
    long[] seqs = NO_SEQUENCES;
    int head;
    int count;
    long bytes;
    long lastSeq;
    /** The sequence of the last message evicted: resuming after it is still exact. */
    long lastEvictedSeq;
    /** The sequence of the oldest retained message, 0 when none; read without the lock by sweeps. */
    volatile long oldestSeq;
    Listener[] listeners = NO_LISTENERS;
    boolean removed;

    Topic(String name) {
      this.name = name;
    }

    /** Appends, then trims to the topic's bounds (the newest message always stays). */
    void add(long seq, Message m, long size) {
      if (count == maxMessagesPerTopic) {
        evictOldest();
      }
      if (count == messages.length) {
        resize(Math.min(Math.max(1, messages.length * 2), maxMessagesPerTopic));
      }
      int slot = (head + count) % messages.length;
      messages[slot] = m;
      seqs[slot] = seq;
      count++;
      bytes += size;
      lastSeq = seq;
      if (count == 1) {
        oldestSeq = seq;
      }
      while (bytes > maxBytesPerTopic && count > 1) {
        evictOldest();
      }
    }

    void dispatch(Message m) {
      for (Listener l : listeners) {
        try {
          l.onMessage(m);
        } catch (RuntimeException e) {
          log.warn("listener on topic {} threw; others still get the message", name, e);
        }
      }
    }

    void evictOldest() {
      Message m = messages[head];
      lastEvictedSeq = seqs[head];
      messages[head] = null;
      head = (head + 1) % messages.length;
      count--;
      long size = messageBytes(m);
      bytes -= size;
      heldBytes.addAndGet(-size);
      if (count == 0) {
        messages = NO_MESSAGES;
        seqs = NO_SEQUENCES;
        head = 0;
        oldestSeq = 0;
      } else {
        oldestSeq = seqs[head];
        if (messages.length > 4 && count <= messages.length / 4) {
          resize(messages.length / 2);
        }
      }
    }

    private void resize(int capacity) {
      Message[] m = new Message[capacity];
      long[] s = new long[capacity];
      for (int i = 0; i < count; i++) {
        int from = (head + i) % messages.length;
        m[i] = messages[from];
        s[i] = seqs[from];
      }
      messages = m;
      seqs = s;
      head = 0;
    }

    Message at(int i) {
      return messages[(head + i) % messages.length];
    }

    private long seqAt(int i) {
      return seqs[(head + i) % seqs.length];
    }

    /** The index of the retained message with this sequence, or -1. */
    int indexOf(long seq) {
      int lo = 0;
      int hi = count - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        long s = seqAt(mid);
        if (s < seq) {
          lo = mid + 1;
        } else if (s > seq) {
          hi = mid - 1;
        } else {
          return mid;
        }
      }
      return -1;
    }

    History read(long after, boolean sameEpoch, boolean hadAfter, int limit) {
      String latest = lastSeq == 0 ? null : epoch + "-" + lastSeq;
      boolean recovered;
      int from;
      if (!hadAfter) {
        recovered = true;
        from = 0;
      } else if (!sameEpoch) {
        recovered = false;
        from = 0;
      } else if (after == lastSeq) {
        recovered = true;
        from = count;
      } else if (after == lastEvictedSeq) {
        recovered = true; // the message just before the oldest retained
        from = 0;
      } else {
        // Retained: resume right after it. Otherwise never issued for this topic, or already
        // evicted: resuming would hide a gap.
        int i = indexOf(after);
        recovered = i >= 0;
        from = i + 1;
      }
      int n = Math.min(limit, count - from);
      List<Message> out = new ArrayList<>(Math.max(0, n));
      for (int i = from; i < from + n; i++) {
        out.add(at(i));
      }
      return new History(out, recovered, latest);
    }

    void removeListener(Listener listener) {
      for (int i = 0; i < listeners.length; i++) {
        if (listeners[i] == listener) {
          Listener[] rest = new Listener[listeners.length - 1];
          System.arraycopy(listeners, 0, rest, 0, i);
          System.arraycopy(listeners, i + 1, rest, i, rest.length - i);
          listeners = rest.length == 0 ? NO_LISTENERS : rest;
          return;
        }
      }
    }

    /** Stops holding a topic with no message and no listener. */
    void dropIfUnused() {
      if (count == 0 && listeners.length == 0 && !removed) {
        removed = true;
        topics.remove(name, this);
        heldBytes.addAndGet(-topicBytes(name));
      }
    }
  }

  /**
   * Builds an {@link InMemoryBroker}. Not thread-safe; setters fail fast with
   * {@link IllegalArgumentException} on bad values.
   */
  public static final class Builder {
    private int maxMessagesPerTopic = DEFAULT_HISTORY_SIZE;
    private long maxBytesPerTopic = DEFAULT_MAX_BYTES_PER_TOPIC;
    private long maxTotalBytes; // 0: derived from the heap at build time
    private int maxTopics = DEFAULT_MAX_TOPICS;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /** Messages kept per topic (default {@value InMemoryBroker#DEFAULT_HISTORY_SIZE}). */
    public Builder maxMessagesPerTopic(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("historySize (maxMessagesPerTopic) must be >= 1: " + n);
      }
      this.maxMessagesPerTopic = n;
      return this;
    }

    /** Estimated bytes kept per topic (default 16 MiB); the newest message stays even if larger. */
    public Builder maxBytesPerTopic(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxBytesPerTopic must be >= 1: " + bytes);
      }
      this.maxBytesPerTopic = bytes;
      return this;
    }

    /**
     * Estimated bytes held over all topics (default {@link InMemoryBroker#defaultMaxTotalBytes()}, a
     * quarter of the maximum heap). Size it with the rest of the heap in mind: connections' queues,
     * idempotency caches and the application.
     */
    public Builder maxTotalBytes(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxTotalBytes must be >= 1: " + bytes);
      }
      this.maxTotalBytes = bytes;
      return this;
    }

    /**
     * Topics held at once, with history or live listeners (default
     * {@value InMemoryBroker#DEFAULT_MAX_TOPICS}); publishing to a new topic beyond it fails with
     * UNAVAILABLE ({@code too_many_topics}). A topic with no message and no listener is not held.
     */
    public Builder maxTopics(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxTopics must be >= 1: " + n);
      }
      this.maxTopics = n;
      return this;
    }

    /** The clock that stamps messages' times. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public InMemoryBroker build() {
      return new InMemoryBroker(this);
    }
  }
}
