package dev.switchboard.kafka;

import dev.switchboard.transport.Message;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A node's local index of recent messages, per Switchboard topic, filled by the consumer thread in
 * log order and bounded by estimated bytes (oldest evicted first, over all topics) and, optionally,
 * by messages per topic (the resume window). For each topic it knows every record of that topic at
 * offsets from {@code coverFrom} up to what the node has consumed; older records may exist in the log
 * (before the node started, or evicted) and are read from the log when needed. Thread-safe: every
 * method holds the index's lock, and only copies leave it.
 */
final class KafkaIndex {
  /** One indexed record. */
  record Entry(long offset, Message message, long bytes, long seq) {}

  /**
   * What a history read needs to know about one topic, copied under the lock.
   *
   * @param coverFrom the index holds every record of the topic at offsets from here on
   * @param lastEvicted the offset of the newest record of the topic evicted from the index, or -1
   * @param size the topic's records in the index
   * @param hasAnchor whether the anchor offset asked for is one of the topic's indexed records
   * @param page up to {@code limit} records: those after the anchor, or the oldest indexed
   * @param latest the newest indexed record's offset, or -1
   */
  record View(long coverFrom, long lastEvicted, int size, boolean hasAnchor, List<Entry> page, long latest) {}

  private static final class Topic {
    final String name;
    final int partition;
    Entry[] ring = new Entry[4];
    int head;
    int size;
    long coverFrom;
    long lastEvicted = -1;

    Topic(String name, int partition, long coverFrom) {
      this.name = name;
      this.partition = partition;
      this.coverFrom = coverFrom;
    }

    Entry get(int i) {
      return ring[(head + i) % ring.length];
    }

    Entry first() {
      return ring[head];
    }

    void addLast(Entry e) {
      if (size == ring.length) {
        Entry[] bigger = new Entry[ring.length * 2];
        for (int i = 0; i < size; i++) {
          bigger[i] = get(i);
        }
        ring = bigger;
        head = 0;
      }
      ring[(head + size) % ring.length] = e;
      size++;
    }

    Entry pollFirst() {
      Entry e = ring[head];
      ring[head] = null;
      head = (head + 1) % ring.length;
      size--;
      if (size > 16 && size < ring.length / 4) {
        Entry[] smaller = new Entry[ring.length / 2];
        for (int i = 0; i < size; i++) {
          smaller[i] = get(i);
        }
        ring = smaller;
        head = 0;
      }
      return e;
    }

    /** Index of the first entry with an offset greater than {@code offset}. */
    int firstAfter(long offset) {
      int lo = 0;
      int hi = size;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (get(mid).offset() <= offset) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }
  }

  private final Map<String, Topic> topics = new HashMap<>();
  /** Topics with entries, oldest head first: eviction order over all topics. */
  private final TreeSet<Topic> byAge = new TreeSet<>(
      Comparator.<Topic>comparingLong(t -> t.first().seq()).thenComparing(t -> t.name));
  private final long[] start;
  private final long[] evictedUpTo;
  private final long maxBytes;
  private final int maxPerTopic;
  private long bytes;
  private long seq;

  /**
   * @param start per partition, the offset this node began consuming at
   * @param maxBytes estimated bytes held at most
   * @param maxPerTopic messages held per topic at most (0 = no count bound)
   */
  KafkaIndex(long[] start, long maxBytes, int maxPerTopic) {
    this.start = start.clone();
    this.evictedUpTo = new long[start.length];
    this.maxBytes = maxBytes;
    this.maxPerTopic = maxPerTopic;
  }

  /** Estimated heap of one indexed message. */
  static long estimate(Message m) {
    long b = 384 + (long) m.payloadSize() + 2L * (m.topic().length() + m.contentType().length() + m.id().length());
    for (Map.Entry<String, String> h : m.headers().entrySet()) {
      b += 64 + 2L * (h.getKey().length() + h.getValue().length());
    }
    return b;
  }

  /** Adds the next record of a partition (called in log order, by the consumer thread). */
  synchronized void add(int partition, long offset, Message m) {
    Topic t = topics.get(m.topic());
    if (t == null) {
      t = new Topic(m.topic(), partition, Math.max(start[partition], evictedUpTo[partition]));
      topics.put(t.name, t);
    }
    long size = estimate(m);
    if (size > maxBytes) {
      // Larger than the whole index: not held, so the topic's coverage starts after it.
      if (t.size > 0) {
        byAge.remove(t);
      }
      while (t.size > 0) {
        evictFirst(t, false);
      }
      t.lastEvicted = offset;
      t.coverFrom = offset + 1;
      evictedUpTo[partition] = Math.max(evictedUpTo[partition], offset + 1);
      topics.remove(t.name);
      return;
    }
    boolean wasEmpty = t.size == 0;
    if (!wasEmpty && maxPerTopic > 0 && t.size >= maxPerTopic) {
      byAge.remove(t);
      evictFirst(t, true);
      wasEmpty = t.size == 0;
      if (!wasEmpty) {
        byAge.add(t);
      }
    }
    t.addLast(new Entry(offset, m, size, seq++));
    bytes += size;
    if (wasEmpty) {
      byAge.add(t);
    }
    while (bytes > maxBytes && !byAge.isEmpty()) {
      Topic oldest = byAge.pollFirst();
      evictFirst(oldest, false);
      if (oldest.size > 0) {
        byAge.add(oldest);
      } else {
        topics.remove(oldest.name);
      }
    }
  }

  /** Removes a topic's oldest entry; the caller keeps {@link #byAge} right. */
  private void evictFirst(Topic t, boolean window) {
    Entry e = t.pollFirst();
    bytes -= e.bytes();
    t.lastEvicted = e.offset();
    t.coverFrom = e.offset() + 1;
    if (!window) {
      // A record evicted for bytes may belong to a topic that is later forgotten: topics first seen
      // after this point are known only from past it.
      evictedUpTo[t.partition] = Math.max(evictedUpTo[t.partition], e.offset() + 1);
    }
  }

  /**
   * What the index knows of {@code topic}: with {@code anchor} >= 0, the records after it (and
   * whether it is one of the topic's); with -1, the oldest indexed. At most {@code limit} records.
   */
  synchronized View view(String topic, int partition, long anchor, int limit) {
    Topic t = topics.get(topic);
    if (t == null) {
      return new View(Math.max(start[partition], evictedUpTo[partition]), -1, 0, false, List.of(), -1);
    }
    int from = 0;
    boolean hasAnchor = false;
    if (anchor >= 0) {
      from = t.firstAfter(anchor);
      hasAnchor = from > 0 && t.get(from - 1).offset() == anchor;
    }
    List<Entry> page = new ArrayList<>(Math.min(limit, t.size - from));
    for (int i = from; i < t.size && page.size() < limit; i++) {
      page.add(t.get(i));
    }
    long latest = t.size == 0 ? -1 : t.get(t.size - 1).offset();
    return new View(t.coverFrom, t.lastEvicted, t.size, hasAnchor, page, latest);
  }

  /** Estimated bytes held. */
  synchronized long bytes() {
    return bytes;
  }

  /** Topics with at least one indexed message. */
  synchronized int topicCount() {
    return topics.size();
  }
}
