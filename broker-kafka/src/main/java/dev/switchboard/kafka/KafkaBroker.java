package dev.switchboard.kafka;

import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.StoredEnvelope;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Broker} over Apache Kafka, so several hubs share topics through a durable log: every
 * Switchboard topic lives in <em>one</em> Kafka topic with P partitions, as the record key (so one
 * Switchboard topic stays in one partition, in order, and millions of small topics cost Kafka
 * nothing). A message's id is {@code <partition>-<offset>-<tag>}, the tag naming the Kafka topic's
 * incarnation; ids are opaque to clients and ordered per topic.
 *
 * <pre>{@code
 * Hub hub = Hub.builder().broker(KafkaBroker.builder("kafka1:9092,kafka2:9092").topic("switchboard").build()).build();
 * }</pre>
 *
 * <p>Every node consumes every partition from where it started (live fan-out to its local
 * subscribers) and keeps a bounded local index of recent messages per topic; history and resume are
 * served from that index, and from the log itself (seek to the offset, read forward filtering by
 * key) when a client resumes from further back than the index holds, e.g. on a node started after
 * the client's id was issued. A publish completes only once the record is acknowledged by all
 * in-sync replicas ({@code acks=all}, idempotent producer); when Kafka is unreachable it fails with
 * UNAVAILABLE (a retry hint) within {@link Builder#timeout}. Subscribers are untouched by an outage
 * and get everything published once Kafka is back, in order.
 *
 * <p>Thread-safe. Listeners are called on the broker's consumer thread, in log order.
 */
public final class KafkaBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(KafkaBroker.class);
  private static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final String kafkaTopic;
  private final int partitions;
  private final String tag;
  private final Duration timeout;
  private final int maxPerTopic;
  private final Clock clock;
  private final Admin admin;
  private final KafkaProducer<byte[], byte[]> producer;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Map<String, Object> scanConfig;
  private final List<TopicPartition> tps = new ArrayList<>();
  private final long[] logStartAtStart;
  private final AtomicLongArray consumed;
  private final AtomicLongArray acked;
  private final KafkaIndex index;
  private final Map<String, CopyOnWriteArrayList<Listener>> listeners = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
  private final ExecutorService readers;
  private final ThreadLocal<KafkaConsumer<byte[], byte[]>> scanConsumer = new ThreadLocal<>();
  private final List<KafkaConsumer<byte[], byte[]>> scanConsumers = new CopyOnWriteArrayList<>();
  private final Thread consumerThread;
  private volatile boolean closed;
  private long lastPollWarning;

  private record Waiter(int partition, long target, long deadline, CompletableFuture<Void> done) {}

  private KafkaBroker(Builder b) {
    this.kafkaTopic = b.topic;
    this.timeout = b.timeout;
    this.maxPerTopic = b.maxMessagesPerTopic;
    this.clock = b.clock;
    int ms = (int) b.timeout.toMillis();
    Map<String, Object> common = new HashMap<>(b.properties);
    common.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrapServers);
    common.putIfAbsent(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000);

    Map<String, Object> adminConfig = new HashMap<>(common);
    adminConfig.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms);
    adminConfig.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ms);
    this.admin = Admin.create(adminConfig);
    try {
      TopicDescription d = ensureTopic(b);
      this.partitions = d.partitions().size();
      this.tag = String.format("%08x", (int) (d.topicId().getMostSignificantBits() ^ d.topicId().getLeastSignificantBits()));
      if (partitions != b.partitions) {
        log.info("Kafka topic {} has {} partitions (configured {}); using {}", kafkaTopic, partitions, b.partitions, partitions);
      }
    } catch (RuntimeException e) {
      admin.close(Duration.ZERO);
      throw e;
    }

    Map<String, Object> producerConfig = new HashMap<>(common);
    producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
    producerConfig.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    producerConfig.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    producerConfig.put(ProducerConfig.LINGER_MS_CONFIG, (int) b.linger.toMillis());
    producerConfig.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, ms);
    producerConfig.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.max(1, ms - (int) b.linger.toMillis()));
    producerConfig.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, ms);
    producerConfig.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, b.maxRecordBytes);
    producerConfig.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "switchboard-" + kafkaTopic);
    this.producer = new KafkaProducer<>(producerConfig, new ByteArraySerializer(), new ByteArraySerializer());

    Map<String, Object> consumerConfig = new HashMap<>(common);
    consumerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    consumerConfig.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    consumerConfig.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms);
    consumerConfig.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, ms);
    consumerConfig.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Math.max(b.maxRecordBytes, 50 << 20));
    consumerConfig.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Math.max(b.maxRecordBytes, 1 << 20));
    this.scanConfig = consumerConfig;
    this.consumer = new KafkaConsumer<>(consumerConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    long[] start = new long[partitions];
    this.logStartAtStart = new long[partitions];
    try {
      for (int p = 0; p < partitions; p++) {
        tps.add(new TopicPartition(kafkaTopic, p));
      }
      consumer.assign(tps);
      Map<TopicPartition, Long> ends = consumer.endOffsets(tps, b.timeout);
      Map<TopicPartition, Long> begins = consumer.beginningOffsets(tps, b.timeout);
      for (TopicPartition tp : tps) {
        start[tp.partition()] = ends.get(tp);
        logStartAtStart[tp.partition()] = begins.get(tp);
        consumer.seek(tp, ends.get(tp));
      }
      producer.partitionsFor(kafkaTopic); // metadata now, so a later publish never waits for it
    } catch (RuntimeException e) {
      consumer.close(Duration.ZERO);
      producer.close(Duration.ZERO);
      admin.close(Duration.ZERO);
      throw unavailable("cannot reach Kafka at " + b.bootstrapServers, e);
    }
    this.consumed = new AtomicLongArray(start);
    this.acked = new AtomicLongArray(partitions);
    for (int p = 0; p < partitions; p++) {
      acked.set(p, -1);
    }
    this.index = new KafkaIndex(start, b.indexMaxBytes, b.maxMessagesPerTopic);
    this.readers = Executors.newFixedThreadPool(b.readerThreads, r -> {
      Thread t = new Thread(r, "switchboard-kafka-reader");
      t.setDaemon(true);
      return t;
    });
    this.consumerThread = new Thread(this::consumeLoop, "switchboard-kafka-consumer");
    consumerThread.setDaemon(true);
    consumerThread.start();
  }

  /**
   * A builder for a broker on the Kafka cluster at {@code bootstrapServers}
   * ({@code host:port[,host:port…]}).
   */
  public static Builder builder(String bootstrapServers) {
    return new Builder(bootstrapServers);
  }

  private TopicDescription ensureTopic(Builder b) {
    try {
      return describe(false);
    } catch (UnknownTopicOrPartitionException missing) {
      NewTopic t = new NewTopic(kafkaTopic, Optional.of(b.partitions), b.replicationFactor <= 0
          ? Optional.<Short>empty() : Optional.of((short) b.replicationFactor))
          .configs(Map.of("max.message.bytes", Integer.toString(b.maxRecordBytes)));
      try {
        admin.createTopics(List.of(t)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        log.info("created Kafka topic {} with {} partitions", kafkaTopic, b.partitions);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) { // another node created it first
          throw unavailable("cannot create Kafka topic " + kafkaTopic, e.getCause());
        }
      } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
        interruptIf(e);
        throw unavailable("cannot create Kafka topic " + kafkaTopic, e);
      }
      return describe(true);
    }
  }

  /** @param justCreated wait (within the timeout) for a topic just created to show in metadata */
  private TopicDescription describe(boolean justCreated) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        return admin.describeTopics(List.of(kafkaTopic)).allTopicNames()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(kafkaTopic);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof UnknownTopicOrPartitionException u) {
          if (justCreated && System.nanoTime() < deadline) {
            sleep(100);
            continue;
          }
          throw u;
        }
        throw unavailable("cannot reach Kafka (describing topic " + kafkaTopic + ")", e.getCause());
      } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
        interruptIf(e);
        throw unavailable("cannot reach Kafka (describing topic " + kafkaTopic + ")", e);
      }
    }
  }

  // ---- ids ----

  private String id(int partition, long offset) {
    return partition + "-" + offset + "-" + tag;
  }

  /** {partition, offset} of one of this broker's ids, or null for any other string. */
  private long[] parse(String id) {
    int d1 = id.indexOf('-');
    int d2 = d1 < 0 ? -1 : id.indexOf('-', d1 + 1);
    if (d1 <= 0 || d2 <= d1 + 1 || id.length() > 64 || !id.substring(d2 + 1).equals(tag)) {
      return null;
    }
    try {
      int p = Integer.parseInt(id.substring(0, d1));
      long o = Long.parseLong(id.substring(d1 + 1, d2));
      return p < 0 || p >= partitions || o < 0 ? null : new long[] {p, o};
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** The partition of a Switchboard topic: Kafka's default partitioner on the key. */
  int partitionOf(String topic) {
    return Utils.toPositive(Utils.murmur2(topic.getBytes(StandardCharsets.UTF_8))) % partitions;
  }

  /** Log order (the offset) for this broker's ids; any other id sorts after them. */
  @Override
  public Comparator<String> idOrder() {
    return (x, y) -> {
      long[] a = parse(x);
      long[] b = parse(y);
      return Long.compare(a == null ? Long.MAX_VALUE : a[1], b == null ? Long.MAX_VALUE : b[1]);
    };
  }

  // ---- publish and live ----

  @Override
  public CompletionStage<Message> publish(Message draft) {
    if (closed) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    Instant time = clock.instant();
    int p = partitionOf(draft.topic());
    byte[] value = StoredEnvelope.encode(draft, time);
    CompletableFuture<Message> result = new CompletableFuture<>();
    try {
      producer.send(new ProducerRecord<>(kafkaTopic, p, draft.topic().getBytes(StandardCharsets.UTF_8), value), (md, err) -> {
        if (err != null) {
          result.completeExceptionally(err instanceof RecordTooLargeException
              ? new SwitchboardException(Status.PAYLOAD_TOO_LARGE, "payload_too_large",
                  "the message is larger than Kafka accepts (" + value.length + " bytes stored)", null, err)
              : unavailable("Kafka did not acknowledge the message", err));
          return;
        }
        acked.accumulateAndGet(p, md.offset(), Math::max);
        result.complete(draft.toBuilder().id(id(p, md.offset())).time(time).build());
      });
    } catch (KafkaException | IllegalStateException e) {
      result.completeExceptionally(unavailable("Kafka did not take the message", e));
    }
    return result;
  }

  @Override
  public AutoCloseable subscribe(String topic, Listener listener) {
    if (closed) {
      throw new SwitchboardException(Status.UNAVAILABLE, "broker is closed");
    }
    // Every node consumes every partition from where it started, so registering is all it takes.
    listeners.compute(topic, (k, v) -> {
      CopyOnWriteArrayList<Listener> l = v == null ? new CopyOnWriteArrayList<>() : v;
      l.add(listener);
      return l;
    });
    return () -> listeners.computeIfPresent(topic, (k, v) -> {
      v.remove(listener);
      return v.isEmpty() ? null : v;
    });
  }

  private void consumeLoop() {
    try {
      while (!closed) {
        wakeWaiters(); // also times out reads waiting on a consumer that cannot reach Kafka
        ConsumerRecords<byte[], byte[]> records;
        try {
          records = consumer.poll(Duration.ofMillis(100));
        } catch (WakeupException e) {
          continue;
        } catch (KafkaException e) {
          long now = System.nanoTime();
          if (now - lastPollWarning > TimeUnit.SECONDS.toNanos(30)) {
            lastPollWarning = now;
            log.warn("reading Kafka topic {} failed (retrying): {}", kafkaTopic, e.toString());
          }
          sleep(200);
          continue;
        }
        for (ConsumerRecord<byte[], byte[]> r : records) {
          onRecord(r);
        }
        for (TopicPartition tp : tps) {
          consumed.set(tp.partition(), consumer.position(tp));
        }
      }
    } catch (RuntimeException e) {
      if (!closed) {
        log.error("the Kafka consumer of topic {} stopped; this node no longer delivers live messages", kafkaTopic, e);
      }
    } finally {
      consumer.close(Duration.ofSeconds(1));
      for (Waiter w : waiters) {
        w.done().completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
      }
    }
  }

  private void onRecord(ConsumerRecord<byte[], byte[]> r) {
    if (r.key() == null || r.value() == null) {
      return;
    }
    String topic = new String(r.key(), StandardCharsets.UTF_8);
    Message m;
    try {
      m = StoredEnvelope.decode(topic, id(r.partition(), r.offset()), r.value());
    } catch (RuntimeException e) {
      log.warn("ignoring an unreadable record at {}-{}@{}: {}", kafkaTopic, r.partition(), r.offset(), e.toString());
      return;
    }
    index.add(r.partition(), r.offset(), m);
    List<Listener> ls = listeners.get(topic);
    if (ls != null) {
      for (Listener l : ls) {
        try {
          l.onMessage(m);
        } catch (RuntimeException e) {
          log.warn("listener on topic {} threw; others still get the message", topic, e);
        }
      }
    }
  }

  private void wakeWaiters() {
    if (waiters.isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    for (Waiter w : waiters) {
      if (consumed.get(w.partition()) >= w.target()) {
        waiters.remove(w);
        w.done().complete(null);
      } else if (now > w.deadline()) {
        waiters.remove(w);
        w.done().completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "kafka_unavailable",
            "this node has not read Kafka up to the requested message within " + timeout.toMillis() + " ms",
            RETRY_AFTER, null));
      }
    }
  }

  /** Completes once this node has consumed the partition up to (not including) {@code target}. */
  private CompletableFuture<Void> awaitConsumed(int partition, long target) {
    if (consumed.get(partition) >= target) {
      return CompletableFuture.completedFuture(null);
    }
    Waiter w = new Waiter(partition, target, System.nanoTime() + timeout.toNanos(), new CompletableFuture<>());
    waiters.add(w);
    if (consumed.get(partition) >= target && waiters.remove(w)) {
      w.done().complete(null);
    }
    if (closed && waiters.remove(w)) {
      w.done().completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    return w.done();
  }

  /**
   * Waits until this node has read everything a read of {@code partition} must see: every record
   * acknowledged anywhere before the read began (the partition's end, asked of Kafka, so a read on
   * one node sees what another node just published), and the record at {@code anchor} (if >= 0).
   * Yields false when the anchor is at or past the log's end (never issued: treat as foreign). While
   * Kafka cannot answer, it settles for what this node has read (its own acknowledged publishes
   * included): live delivery brings the rest, in order, once Kafka is back.
   */
  private CompletableFuture<Boolean> catchUp(int partition, long anchor) {
    TopicPartition tp = tps.get(partition);
    CompletableFuture<Long> end = new CompletableFuture<>();
    admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).whenComplete((info, err) -> {
      if (err != null) {
        end.completeExceptionally(err);
      } else {
        end.complete(info.offset());
      }
    });
    return end.handle((e, err) -> {
      long target = acked.get(partition) + 1;
      if (err != null) {
        if (anchor >= consumed.get(partition)) {
          return CompletableFuture.<Boolean>failedFuture(unavailable("cannot read the end of " + tp, err));
        }
        return awaitConsumed(partition, Math.max(target, anchor + 1)).thenApply(v -> true);
      }
      if (anchor >= e) {
        return awaitConsumed(partition, Math.max(target, e)).thenApply(v -> false);
      }
      return awaitConsumed(partition, Math.max(Math.max(target, e), anchor + 1)).thenApply(v -> true);
    }).thenCompose(f -> f);
  }

  // ---- history ----

  @Override
  public CompletionStage<History> history(String topic, String afterId, int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0: " + limit);
    }
    if (closed) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    int p = partitionOf(topic);
    long[] id = afterId == null ? null : parse(afterId);
    long anchor = id != null && id[0] == p ? id[1] : -1;
    boolean resume = afterId != null;
    return catchUp(p, anchor).thenApplyAsync(ours -> {
      if (resume && ours && anchor >= 0) {
        return resume(topic, p, anchor, limit);
      }
      return oldest(topic, p, limit, !resume);
    }, readers);
  }

  /** After a valid-looking id of the topic's partition: exact, or a gap when it cannot be. */
  private History resume(String topic, int p, long anchor, int limit) {
    KafkaIndex.View v = index.view(topic, p, anchor, limit);
    if (anchor >= v.coverFrom()) {
      return v.hasAnchor() ? page(v.page(), List.of(), limit, true, v.latest(), p) : oldest(topic, p, limit, false);
    }
    if (anchor == v.lastEvicted()) {
      return page(v.page(), List.of(), limit, true, v.latest(), p);
    }
    if (anchor < v.lastEvicted() && maxPerTopic > 0 && v.size() >= maxPerTopic) {
      return oldest(topic, p, limit, false); // more than the window's worth after it
    }
    LogScan.Result s = scan(p, anchor, v.coverFrom(), anchor, topic, limit, maxPerTopic > 0);
    if (s.truncated() || s.anchor() == null) {
      return oldest(topic, p, limit, false); // trimmed by retention, or not one of this topic's ids
    }
    if (maxPerTopic > 0 && s.count() + v.size() > maxPerTopic) {
      return oldest(topic, p, limit, false);
    }
    long latest = v.latest() >= 0 ? v.latest() : s.last() >= 0 ? s.last() : anchor;
    return page(s.first(), v.page(), limit, true, latest, p);
  }

  /** From the oldest retained message of the topic (within the resume window, if any). */
  private History oldest(String topic, int p, int limit, boolean recovered) {
    KafkaIndex.View v = index.view(topic, p, -1, limit);
    boolean fullWindow = maxPerTopic > 0 && v.size() >= maxPerTopic;
    if (fullWindow || v.coverFrom() <= logStartAtStart[p]) {
      return page(v.page(), List.of(), limit, recovered, v.latest(), p);
    }
    LogScan.Result s = scan(p, 0, v.coverFrom(), -1, topic, limit, maxPerTopic > 0);
    long latest = v.latest() >= 0 ? v.latest() : s.last();
    int skip = maxPerTopic > 0 ? Math.max(0, s.count() + v.size() - maxPerTopic) : 0;
    if (skip == 0) {
      return page(s.first(), v.page(), limit, recovered, latest, p);
    }
    if (skip >= s.count()) {
      KafkaIndex.View tail = index.view(topic, p, -1, skip - s.count() + limit);
      List<KafkaIndex.Entry> rest = tail.page().subList(Math.min(tail.page().size(), skip - s.count()), tail.page().size());
      return page(List.of(), rest, limit, recovered, latest, p);
    }
    // The window starts inside the scanned range: read again from there.
    LogScan.Result again = scan(p, s.offsets()[skip], v.coverFrom(), -1, topic, limit, false);
    return page(again.first(), v.page(), limit, recovered, latest, p);
  }

  private History page(List<KafkaIndex.Entry> a, List<KafkaIndex.Entry> b, int limit, boolean recovered, long latest, int p) {
    List<Message> out = new ArrayList<>(Math.min(limit, a.size() + b.size()));
    for (List<KafkaIndex.Entry> l : List.of(a, b)) {
      for (KafkaIndex.Entry e : l) {
        if (out.size() < limit) {
          out.add(e.message());
        }
      }
    }
    return new History(out, recovered, latest < 0 ? null : id(p, latest));
  }

  private LogScan.Result scan(int p, long from, long to, long anchor, String topic, int limit, boolean keepOffsets) {
    KafkaConsumer<byte[], byte[]> c = scanConsumer.get();
    if (c == null) {
      c = new KafkaConsumer<>(scanConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      scanConsumer.set(c);
      scanConsumers.add(c);
    }
    try {
      return LogScan.scan(c, tps.get(p), from, to, anchor, topic, limit, keepOffsets, timeout,
          (partition, offset, value) -> StoredEnvelope.decode(topic, id(partition, offset), value));
    } catch (KafkaException e) {
      throw unavailable("cannot read Kafka topic " + kafkaTopic, e);
    }
  }

  @Override
  public CompletionStage<Optional<Message>> get(String topic, String id) {
    int p = partitionOf(topic);
    long[] parsed = parse(id);
    if (parsed == null || parsed[0] != p) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    long o = parsed[1];
    return catchUp(p, o).thenApplyAsync(ours -> {
      if (!ours) {
        return Optional.<Message>empty();
      }
      KafkaIndex.View v = index.view(topic, p, o - 1, 1);
      if (o >= v.coverFrom()) {
        return v.page().isEmpty() || v.page().get(0).offset() != o ? Optional.<Message>empty()
            : Optional.of(v.page().get(0).message());
      }
      LogScan.Result s = scan(p, o, o + 1, o, topic, 0, false);
      return Optional.ofNullable(s.anchor());
    }, readers);
  }

  // ---- lifecycle and helpers ----

  /** Estimated bytes held by the local index (tests and the benchmark). */
  public long indexBytes() {
    return index.bytes();
  }

  /** Partitions of the Kafka topic. */
  public int partitions() {
    return partitions;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    consumer.wakeup();
    try {
      consumerThread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    readers.shutdown();
    try {
      readers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (KafkaConsumer<byte[], byte[]> c : scanConsumers) {
      c.close(Duration.ZERO);
    }
    producer.close(Duration.ofSeconds(2));
    admin.close(Duration.ofSeconds(1));
    for (Waiter w : waiters) {
      w.done().completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
  }

  static SwitchboardException unavailable(String what, Throwable err) {
    Throwable t = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (t instanceof ExecutionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof SwitchboardException s) {
      return s;
    }
    return new SwitchboardException(Status.UNAVAILABLE, "kafka_unavailable", what + ": " + t, RETRY_AFTER, t);
  }

  private static void interruptIf(Exception e) {
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Builds a {@link KafkaBroker}. Not thread-safe. */
  public static final class Builder {
    private final String bootstrapServers;
    private String topic = "switchboard";
    private int partitions = 12;
    private int replicationFactor;
    private long indexMaxBytes = Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 8);
    private int maxMessagesPerTopic;
    private Duration timeout = Duration.ofSeconds(5);
    private Duration linger = Duration.ofMillis(1);
    private int maxRecordBytes = 2 << 20;
    private int readerThreads = 2;
    private Clock clock = Clock.systemUTC();
    private final Map<String, Object> properties = new LinkedHashMap<>();

    private Builder(String bootstrapServers) {
      if (bootstrapServers == null || bootstrapServers.isBlank()) {
        throw new IllegalArgumentException("bootstrap servers must be host:port[,host:port…], not '" + bootstrapServers + "'");
      }
      this.bootstrapServers = bootstrapServers.trim();
    }

    /** The Kafka topic that carries every Switchboard topic; created if absent. Default {@code switchboard}. */
    public Builder topic(String kafkaTopic) {
      if (kafkaTopic == null || !kafkaTopic.matches("[A-Za-z0-9._-]{1,249}")) {
        throw new IllegalArgumentException("Kafka topic names are 1-249 of [A-Za-z0-9._-], not '" + kafkaTopic + "'");
      }
      this.topic = kafkaTopic;
      return this;
    }

    /**
     * Partitions when the topic is created (an existing topic keeps its own). Switchboard topics
     * are spread over them by key; more partitions spread the load over more Kafka brokers.
     * Never add partitions to a topic in use: topics would move partition and ids issued before
     * would no longer resume. Default 12.
     */
    public Builder partitions(int n) {
      if (n < 1 || n > 10_000) {
        throw new IllegalArgumentException("partitions must be 1-10000: " + n);
      }
      this.partitions = n;
      return this;
    }

    /** Replication factor when the topic is created; 0 (default) takes the cluster's default. */
    public Builder replicationFactor(int n) {
      if (n < 0 || n > Short.MAX_VALUE) {
        throw new IllegalArgumentException("replicationFactor must be >= 0: " + n);
      }
      this.replicationFactor = n;
      return this;
    }

    /**
     * Estimated bytes of recent messages each node keeps in its local index, over all topics
     * (oldest evicted first). Resumes from further back read the log. Default 64 MiB or an eighth
     * of the heap, whichever is smaller.
     */
    public Builder indexMaxBytes(long bytes) {
      if (bytes < 1024) {
        throw new IllegalArgumentException("indexMaxBytes must be at least 1024: " + bytes);
      }
      this.indexMaxBytes = bytes;
      return this;
    }

    /**
     * The resume window: how many of a topic's newest messages history reaches back to; a client
     * resuming from further back gets a {@code history_gap}. 0 (default): as far back as Kafka
     * retains (the topic's retention decides).
     */
    public Builder maxMessagesPerTopic(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("maxMessagesPerTopic must be >= 0: " + n);
      }
      this.maxMessagesPerTopic = n;
      return this;
    }

    /**
     * How long a publish may wait for Kafka's acknowledgement (and a read for Kafka) before failing
     * with UNAVAILABLE: the producer's {@code delivery.timeout.ms} and {@code max.block.ms}. Default 5 s.
     */
    public Builder timeout(Duration t) {
      if (t.isNegative() || t.toMillis() < 100 || t.toMillis() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("timeout must be at least 100 ms: " + t);
      }
      this.timeout = t;
      return this;
    }

    /** The producer's {@code linger.ms}: how long a publish may wait to share a batch. Default 1 ms. */
    public Builder linger(Duration l) {
      if (l.isNegative() || l.toMillis() > 1000) {
        throw new IllegalArgumentException("linger must be 0-1000 ms: " + l);
      }
      this.linger = l;
      return this;
    }

    /**
     * The largest record (envelope: payload, headers and about 30 bytes) the producer sends and the
     * topic accepts when created ({@code max.message.bytes}). Default 2 MiB, above the hub's 1 MiB
     * payload limit.
     */
    public Builder maxRecordBytes(int bytes) {
      if (bytes < 1024) {
        throw new IllegalArgumentException("maxRecordBytes must be at least 1024: " + bytes);
      }
      this.maxRecordBytes = bytes;
      return this;
    }

    /** Threads (each with its own Kafka consumer) answering history reads. Default 2. */
    public Builder readerThreads(int n) {
      if (n < 1 || n > 64) {
        throw new IllegalArgumentException("readerThreads must be 1-64: " + n);
      }
      this.readerThreads = n;
      return this;
    }

    /**
     * A Kafka client setting for the producer, the consumers and the admin client alike, e.g.
     * {@code security.protocol}, {@code sasl.jaas.config}, {@code ssl.truststore.location}. Settings
     * this broker relies on ({@code acks}, idempotence, timeouts) are not overridden by it.
     */
    public Builder property(String key, Object value) {
      this.properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** The clock for message times (tests). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Connects (creating the topic if absent) and starts consuming from the log's end.
     *
     * @throws SwitchboardException UNAVAILABLE when Kafka cannot be reached within {@link #timeout}
     */
    public KafkaBroker build() {
      return new KafkaBroker(this);
    }
  }
}
