package dev.switchboard.bench;

import dev.switchboard.hub.Hub;
import dev.switchboard.kafka.KafkaBroker;
import dev.switchboard.kafka.testbroker.KafkaTestBroker;
import dev.switchboard.transport.Message;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka broker against a bare {@link KafkaProducer} with the same settings, in paired rounds in
 * one run: publish throughput through {@link Hub#publish} (keyed records of 100-byte messages over
 * many Switchboard topics, a fixed number in flight, each completing on {@code acks=all}) as a ratio
 * to the bare producer sending records of the same size and keys; cross-node latency (a message
 * published on node A's hub received by a listener of node B's broker) at half the measured maximum
 * rate; and the heap a node holds per Switchboard topic.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.KafkaBrokerBenchmark
 * [--kafka host:port] [--messages 100000] [--in-flight 1000] [--rounds 3] [--partitions 12]
 * [--latency-seconds 10] [--topics 10000]}. Without {@code --kafka} it starts its own single-node
 * Kafka (KRaft) from the build's class path and stops it at the end.
 */
public final class KafkaBrokerBenchmark {
  private KafkaBrokerBenchmark() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = null;
    int messages = 100_000;
    int inFlight = 1000;
    int rounds = 3;
    int partitions = 12;
    int latencySeconds = 10;
    int topics = 10_000;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--kafka": bootstrap = args[++i]; break;
        case "--messages": messages = Integer.parseInt(args[++i]); break;
        case "--in-flight": inFlight = Integer.parseInt(args[++i]); break;
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--partitions": partitions = Integer.parseInt(args[++i]); break;
        case "--latency-seconds": latencySeconds = Integer.parseInt(args[++i]); break;
        case "--topics": topics = Integer.parseInt(args[++i]); break;
        default:
          System.err.println("unknown option " + args[i] + "\nusage: KafkaBrokerBenchmark [--kafka host:port] [--messages N]"
              + " [--in-flight N] [--rounds N] [--partitions N] [--latency-seconds N] [--topics N]");
          System.exit(2);
      }
    }
    KafkaTestBroker own = null;
    if (bootstrap == null) {
      own = KafkaTestBroker.start(List.of("-Xms512m", "-Xmx1g"));
      bootstrap = own.bootstrapServers();
      System.out.println("started Kafka at " + bootstrap + " (" + own.directory() + ")");
    }
    try {
      run(bootstrap, messages, inFlight, rounds, partitions, latencySeconds, topics);
    } finally {
      if (own != null) {
        own.close();
      }
    }
  }

  private static void run(String bootstrap, int messages, int inFlight, int rounds, int partitions,
      int latencySeconds, int topics) throws Exception {
    System.out.printf(Locale.ROOT, "%s, %d cores, load average %.1f at start, %s%n", Instant.now(),
        Runtime.getRuntime().availableProcessors(), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
        System.getProperty("java.version"));
    String kafkaTopic = "sbbench-" + UUID.randomUUID();
    byte[] payload = BenchServer.payload(100);
    double maxRate;
    try (KafkaBroker broker = KafkaBroker.builder(bootstrap).topic(kafkaTopic).partitions(partitions).build();
        KafkaProducer<byte[], byte[]> bare = bareProducer(bootstrap)) {
      Hub hub = Hub.builder().broker(broker).build();
      // The record value the hub writes for a 100-byte message (envelope: version, event, content type
      // application/octet-stream, time, headers, length), so the bare producer sends as many bytes.
      int recordBytes = 149;
      IntFunction<String> topicOf = i -> "bench-" + (i % 100);
      // Warm-up, both paths.
      publishHub(hub, 20_000, inFlight, payload, topicOf);
      publishBare(bare, kafkaTopic, 20_000, inFlight, recordBytes, topicOf);
      double[] hubRates = new double[rounds];
      double[] bareRates = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        bareRates[r] = publishBare(bare, kafkaTopic, messages, inFlight, recordBytes, topicOf);
        hubRates[r] = publishHub(hub, messages, inFlight, payload, topicOf);
        System.out.printf(Locale.ROOT, "round %d: bare KafkaProducer %.0f msg/s, through the hub %.0f msg/s = %.2fx%n",
            r + 1, bareRates[r], hubRates[r], hubRates[r] / bareRates[r]);
      }
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        ratios[r] = hubRates[r] / bareRates[r];
      }
      double medianHub = median(hubRates);
      System.out.printf(Locale.ROOT, "publish throughput (%d x 100 B over 100 topics, %d in flight, acks=all, idempotent,"
          + " linger 1 ms, %d partitions): hub median %.0f msg/s, bare median %.0f msg/s, median ratio %.2fx%n",
          messages, inFlight, broker.partitions(), medianHub, median(bareRates), median(ratios));
      hub.shutdown();
      maxRate = medianHub;
    }
    // The throughput node is closed first: two nodes (two consumers) from here on.
    for (int divisor : new int[] {2, 10}) {
      int rate = Math.max(100, (int) (maxRate / divisor));
      Histogram bare = bareLatency(bootstrap, kafkaTopic, rate, latencySeconds);
      System.out.printf(Locale.ROOT, "bare KafkaProducer -> KafkaConsumer latency at %d msg/s for %d s (same settings, same"
          + " topic): p50 %.2f ms, p99 %.2f ms, max %.2f ms%n", rate, latencySeconds,
          bare.getValueAtPercentile(50) / 1000.0, bare.getValueAtPercentile(99) / 1000.0, bare.getMaxValue() / 1000.0);
      Histogram h = crossNode(bootstrap, kafkaTopic, rate, latencySeconds);
      System.out.printf(Locale.ROOT, "cross-node latency at %d msg/s (1/%d of the hub's median maximum) for %d s (node A's"
          + " hub publishes, node B's listener): p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d received%n", rate, divisor,
          latencySeconds, h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
          h.getMaxValue() / 1000.0, h.getTotalCount());
    }
    heapPerTopic(bootstrap, topics);
  }

  static KafkaProducer<byte[], byte[]> bareProducer(String bootstrap) {
    // KafkaBroker's producer settings (timeout 5 s, linger 1 ms).
    return new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
        ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5,
        ProducerConfig.LINGER_MS_CONFIG, 1,
        ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 5000,
        ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 4999,
        ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000,
        ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 2 << 20), new ByteArraySerializer(), new ByteArraySerializer());
  }

  static double publishHub(Hub hub, int n, int inFlight, byte[] payload, IntFunction<String> topicOf) throws Exception {
    return timed(n, inFlight, i -> hub.publish(Message.builder(topicOf.apply(i)).payload(payload).build()).toCompletableFuture());
  }

  static double publishBare(KafkaProducer<byte[], byte[]> p, String kafkaTopic, int n, int inFlight,
      int recordBytes, IntFunction<String> topicOf) throws Exception {
    byte[] value = new byte[recordBytes];
    Arrays.fill(value, (byte) 'x');
    return timed(n, inFlight, i -> {
      String topic = topicOf.apply(i);
      CompletableFuture<Object> f = new CompletableFuture<>();
      // The same partition choice and key the hub's broker makes.
      p.send(new ProducerRecord<>(kafkaTopic, null, topic.getBytes(StandardCharsets.UTF_8), value), (md, e) -> {
        if (e != null) {
          f.completeExceptionally(e);
        } else {
          f.complete(md);
        }
      });
      return f;
    });
  }

  interface Publish {
    CompletableFuture<?> start(int i) throws Exception;
  }

  static double timed(int n, int inFlight, Publish publish) throws Exception {
    Semaphore window = new Semaphore(inFlight);
    AtomicLong failed = new AtomicLong();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      window.acquire();
      publish.start(i).whenComplete((m, e) -> {
        if (e != null) {
          failed.incrementAndGet();
        }
        window.release();
      });
    }
    window.acquire(inFlight);
    window.release(inFlight);
    double perSec = n / ((System.nanoTime() - t0) / 1e9);
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " publishes failed");
    }
    return perSec;
  }

  static Histogram crossNode(String bootstrap, String kafkaTopic, int rate, int seconds) throws Exception {
    Histogram h = new Histogram(3_600_000_000L, 3);
    try (KafkaBroker a = KafkaBroker.builder(bootstrap).topic(kafkaTopic).build();
        KafkaBroker b = KafkaBroker.builder(bootstrap).topic(kafkaTopic).build()) {
      Hub hubA = Hub.builder().broker(a).build();
      long warmUp = rate; // the first second is not recorded: fresh clients, cold code
      AtomicLong received = new AtomicLong();
      AutoCloseable sub = b.subscribe("latency", m -> {
        int bar = m.text().indexOf('|');
        long sent = Long.parseLong(m.text().substring(0, bar));
        long seq = Long.parseLong(m.text().substring(bar + 1));
        received.incrementAndGet();
        if (seq >= warmUp) {
          synchronized (h) {
            h.recordValue(Math.max(0, (System.nanoTime() - sent) / 1000));
          }
        }
      });
      long count = (long) rate * (seconds + 1);
      long interval = 1_000_000_000L / rate;
      long start = System.nanoTime();
      for (long i = 0; i < count; i++) {
        long due = start + i * interval;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
        hubA.publish(Message.text("latency", System.nanoTime() + "|" + i));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() < deadline && received.get() < count) {
        Thread.sleep(10);
      }
      sub.close();
      hubA.shutdown();
    }
    return h;
  }

  /** The same paced load from a bare producer to a bare consumer of every partition: Kafka's own latency here. */
  static Histogram bareLatency(String bootstrap, String kafkaTopic, int rate, int seconds) throws Exception {
    Histogram h = new Histogram(3_600_000_000L, 3);
    long count = (long) rate * (seconds + 1);
    long warmUp = rate;
    try (KafkaProducer<byte[], byte[]> p = bareProducer(bootstrap);
        org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c = new org.apache.kafka.clients.consumer.KafkaConsumer<>(
            Map.<String, Object>of("bootstrap.servers", bootstrap, "enable.auto.commit", false),
            new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
            new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      List<org.apache.kafka.common.TopicPartition> tps = new ArrayList<>();
      for (var info : c.partitionsFor(kafkaTopic)) {
        tps.add(new org.apache.kafka.common.TopicPartition(kafkaTopic, info.partition()));
      }
      c.assign(tps);
      c.seekToEnd(tps);
      tps.forEach(c::position);
      AtomicLong received = new AtomicLong();
      Thread reader = new Thread(() -> {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds + 40L);
        while (received.get() < count && System.nanoTime() < deadline) {
          for (var r : c.poll(java.time.Duration.ofMillis(100))) {
            String v = new String(r.value(), StandardCharsets.US_ASCII);
            int bar = v.indexOf('|');
            long sent = Long.parseLong(v.substring(0, bar));
            if (Long.parseLong(v.substring(bar + 1)) >= warmUp) {
              h.recordValue(Math.max(0, (System.nanoTime() - sent) / 1000));
            }
            received.incrementAndGet();
          }
        }
      });
      reader.start();
      long interval = 1_000_000_000L / rate;
      long start = System.nanoTime();
      byte[] key = "latency".getBytes(StandardCharsets.UTF_8);
      for (long i = 0; i < count; i++) {
        long wait = start + i * interval - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
        p.send(new ProducerRecord<>(kafkaTopic, null, key, (System.nanoTime() + "|" + i).getBytes(StandardCharsets.US_ASCII)));
      }
      reader.join();
    }
    return h;
  }

  /** Heap a node holds for {@code topics} Switchboard topics, each with one 100-byte message and one listener. */
  static void heapPerTopic(String bootstrap, int topics) throws Exception {
    String kafkaTopic = "sbbench-heap-" + UUID.randomUUID();
    byte[] payload = BenchServer.payload(100);
    try (KafkaBroker writer = KafkaBroker.builder(bootstrap).topic(kafkaTopic).build();
        KafkaBroker node = KafkaBroker.builder(bootstrap).topic(kafkaTopic).build()) {
      long before = usedAfterGc();
      List<AutoCloseable> subs = new ArrayList<>();
      AtomicLong received = new AtomicLong();
      for (int i = 0; i < topics; i++) {
        subs.add(node.subscribe("room-" + i, m -> received.incrementAndGet()));
      }
      List<CompletableFuture<Message>> fs = new ArrayList<>();
      for (int i = 0; i < topics; i++) {
        fs.add(writer.publish(Message.builder("room-" + i).payload(payload).build()).toCompletableFuture());
      }
      CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).get(2, TimeUnit.MINUTES);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (received.get() < topics && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      long after = usedAfterGc();
      System.out.printf(Locale.ROOT, "heap per node: %d topics, each with one 100-byte message in the index and one"
          + " listener: %.1f MiB more live heap after GC = %.0f bytes per topic (index estimate %.1f MiB; %d delivered)%n",
          topics, (after - before) / 1048576.0, (after - before) / (double) topics, node.indexBytes() / 1048576.0,
          received.get());
      for (AutoCloseable s : subs) {
        s.close();
      }
    }
  }

  private static long usedAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
