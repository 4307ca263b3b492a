package dev.switchboard.kafka;

import dev.switchboard.transport.Message;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * Reads a range of one partition straight from the log, keeping the records of one Switchboard
 * topic (by key): the fallback when a read reaches further back than a node's index. Costs one
 * sequential read of the range, whatever the topic's share of it.
 */
final class LogScan {
  private LogScan() {}

  /** Turns a record's value into a message. */
  @FunctionalInterface
  interface Decoder {
    Message decode(int partition, long offset, byte[] value);
  }

  /**
   * @param truncated the range started before the log's start (retention removed part of it)
   * @param anchor the topic's record at the anchor offset, or null when there is none
   * @param count the topic's records after the anchor
   * @param first the first {@code limit} of them
   * @param last the offset of the last of them, or -1
   * @param offsets every one's offset, when asked for (else empty)
   */
  record Result(boolean truncated, Message anchor, int count, List<KafkaIndex.Entry> first, long last, long[] offsets) {}

  /**
   * Reads {@code [from, to)} of {@code tp} (from the log's start if it begins later).
   *
   * @param anchor an offset whose record is returned as {@code anchor} if it is the topic's;
   *     only records after it are counted (-1: all)
   * @param timeout the longest the read may make no progress before it fails
   * @throws TimeoutException when Kafka does not answer
   */
  static Result scan(KafkaConsumer<byte[], byte[]> c, TopicPartition tp, long from, long to, long anchor,
      String topic, int limit, boolean keepOffsets, Duration timeout, Decoder decoder) {
    c.assign(List.of(tp));
    long begin = c.beginningOffsets(List.of(tp), timeout).get(tp);
    boolean truncated = from < begin;
    long pos = Math.max(from, begin);
    byte[] key = topic.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Message anchorMessage = null;
    int count = 0;
    long last = -1;
    List<KafkaIndex.Entry> first = new ArrayList<>();
    long[] offsets = new long[keepOffsets ? 16 : 0];
    if (pos < to) {
      c.seek(tp, pos);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (pos < to) {
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("reading " + tp + " from " + pos + " made no progress within " + timeout.toMillis() + " ms");
      }
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100)).records(tp)) {
        if (r.offset() >= to) {
          break;
        }
        if (r.value() == null || !Arrays.equals(r.key(), key)) {
          continue;
        }
        if (r.offset() == anchor) {
          anchorMessage = decoder.decode(tp.partition(), r.offset(), r.value());
        } else if (r.offset() > anchor) {
          if (first.size() < limit) {
            first.add(new KafkaIndex.Entry(r.offset(), decoder.decode(tp.partition(), r.offset(), r.value()), 0, 0));
          }
          if (keepOffsets) {
            if (count == offsets.length) {
              offsets = Arrays.copyOf(offsets, count * 2);
            }
            offsets[count] = r.offset();
          }
          count++;
          last = r.offset();
        }
      }
      long now = c.position(tp);
      if (now > pos) {
        pos = now;
        deadline = System.nanoTime() + timeout.toNanos();
      }
    }
    return new Result(truncated, anchorMessage, count, first, last, keepOffsets ? Arrays.copyOf(offsets, count) : new long[0]);
  }

}
