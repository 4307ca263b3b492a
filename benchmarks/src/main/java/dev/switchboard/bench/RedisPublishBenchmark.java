package dev.switchboard.bench;

import dev.switchboard.hub.Hub;
import dev.switchboard.redis.RedisBroker;
import dev.switchboard.transport.Message;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Batched publishes through {@link Hub#publish} on {@link RedisBroker}, against the ceiling of the
 * same Lua script run bare, in paired rounds in one run:
 *
 * <ul>
 *   <li>one Redis: the bare ceiling is {@code redis-benchmark} running the publish script
 *       ({@code docs/redis-publish-script-equivalent.lua}) with EVALSHA, 50 connections, pipelined 16;
 *   <li>a Redis Cluster ({@code --cluster redis-cluster://…}): the bare ceiling is a Lettuce loop of the
 *       same script over the cluster client, {@code --in-flight} calls out, topics spread over the masters.
 * </ul>
 *
 * <p>Then, on the same broker: publish latency (from the intended send time, so stalls count) at half
 * the hub's median maximum rate, and single-publisher latency (one publish at a time) with batching
 * (the default) and without ({@code maxBatchSize(1)}: one script call per publish as it comes, which
 * is how every publish went before batching), in alternating rounds.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.RedisPublishBenchmark
 * [--redis redis://127.0.0.1:6379 | --cluster redis-cluster://h:p,h:p] [--messages 200000] [--in-flight 800]
 * [--rounds 3] [--topics 1] [--seconds 10] [--latency-rate N (instead of half the maximum)]}
 */
public final class RedisPublishBenchmark {
  private RedisPublishBenchmark() {}

  /** docs/redis-publish-script-equivalent.lua: the publish script as redis-benchmark can drive it. */
  static final String SCRIPT = String.join("\n",
      "local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)",
      "local prev = ''",
      "if #newest > 0 then prev = newest[1][1] end",
      "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[5], 'p', prev)",
      "redis.call('%PUBLISH%', ARGV[1], id .. '\\n' .. ARGV[5])",
      "return id");

  public static void main(String[] args) throws Exception {
    String uri = "redis://127.0.0.1:6379";
    int messages = 200_000;
    int inFlight = 800;
    int rounds = 3;
    int topics = 1;
    int seconds = 10;
    int latencyRate = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--redis":
        case "--cluster":
          uri = args[++i];
          break;
        case "--messages": messages = Integer.parseInt(args[++i]); break;
        case "--in-flight": inFlight = Integer.parseInt(args[++i]); break;
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--topics": topics = Integer.parseInt(args[++i]); break;
        case "--seconds": seconds = Integer.parseInt(args[++i]); break;
        case "--latency-rate": latencyRate = Integer.parseInt(args[++i]); break;
        default:
          System.err.println("unknown option " + args[i] + "\nusage: RedisPublishBenchmark [--redis URI | --cluster URI]"
              + " [--messages N] [--in-flight N] [--rounds N] [--topics N] [--seconds N] [--latency-rate N]");
          System.exit(2);
      }
    }
    boolean cluster = uri.startsWith("redis-cluster://");
    System.out.printf(Locale.ROOT, "%s, %d cores, load average %.1f at start, %s, %s%n", Instant.now(),
        Runtime.getRuntime().availableProcessors(), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
        System.getProperty("java.version"), uri);
    String prefix = "sbbench:" + UUID.randomUUID() + ":";
    byte[] payload = BenchServer.payload(100);
    List<String> topicNames = new ArrayList<>();
    for (int t = 0; t < topics; t++) {
      topicNames.add("bench" + t);
    }
    List<Double> hubRates = new ArrayList<>();
    List<Double> ratios = new ArrayList<>();
    try (RedisBroker broker = RedisBroker.builder(uri).keyPrefix(prefix).build();
        Bare bare = new Bare(uri, prefix, topicNames, payload)) {
      Hub hub = Hub.builder().broker(broker).build();
      try {
        publishLoop(hub, topicNames, payload, 50_000, inFlight); // warm-up
        if (!cluster) {
          redisBenchmark(uri, prefix, 20_000); // warm-up
        }
        bare.loop(50_000, inFlight);
        for (int r = 1; r <= rounds; r++) {
          double ceiling = cluster ? bare.loop(messages, inFlight) : redisBenchmark(uri, prefix, messages);
          double ours = publishLoop(hub, topicNames, payload, messages, inFlight);
          hubRates.add(ours);
          ratios.add(ours / ceiling);
          System.out.printf(Locale.ROOT, "round %d: bare script (%s) %.0f/s, Hub.publish (%d in flight, %d topic(s)) %.0f msg/s = %.2fx%n",
              r, cluster ? "Lettuce loop, " + inFlight + " in flight" : "redis-benchmark EVALSHA -c 50 -P 16",
              ceiling, inFlight, topics, ours, ours / ceiling);
        }
        double max = median(hubRates);
        System.out.printf(Locale.ROOT, "publish throughput: hub median %.0f msg/s, median ratio to the bare script %.2fx%n",
            max, median(ratios));
        // At half the hub's maximum: the hub, and (what the machine gives at that moment) the bare
        // script from a Lettuce loop at the same rate, alternating.
        int half = latencyRate > 0 ? latencyRate : (int) (max / 2);
        for (int r = 1; r <= 2; r++) {
          Histogram base = paced(bare::call, half, seconds);
          Histogram h = paced(i -> hub.publish(Message.builder(topicNames.get(i % topicNames.size())).payload(payload).build()),
              half, seconds);
          System.out.printf(Locale.ROOT, "round %d at " + (latencyRate > 0 ? "a fixed rate" : "half the maximum")
              + " (%d/s for %d s), latency from the intended start:"
              + " bare script p50 %.2f ms p99 %.2f ms max %.2f ms; Hub.publish p50 %.2f ms p99 %.2f ms p99.9 %.2f ms"
              + " max %.2f ms (%d publishes)%n", r, half, seconds, ms(base, 50), ms(base, 99), base.getMaxValue() / 1000.0,
              ms(h, 50), ms(h, 99), ms(h, 99.9), h.getMaxValue() / 1000.0, h.getTotalCount());
        }
      } finally {
        hub.shutdown();
      }
    }
    // Single publisher: one publish at a time, batching on (default) and off, alternating.
    try (RedisBroker batched = RedisBroker.builder(uri).keyPrefix(prefix).build();
        RedisBroker unbatched = RedisBroker.builder(uri).keyPrefix(prefix).maxBatchSize(1).build()) {
      Hub a = Hub.builder().broker(batched).build();
      Hub b = Hub.builder().broker(unbatched).build();
      try {
        sequential(a, payload, 2000);
        sequential(b, payload, 2000);
        for (int r = 1; r <= rounds; r++) {
          Histogram off = sequential(b, payload, 5000);
          Histogram on = sequential(a, payload, 5000);
          System.out.printf(Locale.ROOT, "round %d, single publisher (5000 one at a time): batching off p50 %.3f ms p99 %.3f ms;"
              + " batching on p50 %.3f ms p99 %.3f ms%n", r, ms(off, 50), ms(off, 99), ms(on, 50), ms(on, 99));
        }
      } finally {
        a.shutdown();
        b.shutdown();
      }
    } finally {
      deleteKeys(uri, prefix);
    }
    System.out.printf(Locale.ROOT, "load average %.1f at the end%n",
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  private static double ms(Histogram h, double percentile) {
    return h.getValueAtPercentile(percentile) / 1000.0;
  }

  private static double median(List<Double> values) {
    List<Double> s = new ArrayList<>(values);
    s.sort(null);
    return s.get(s.size() / 2);
  }

  /** Publishes {@code n} messages round-robin over {@code topics}, {@code inFlight} at a time; msg/s. */
  static double publishLoop(Hub hub, List<String> topics, byte[] payload, int n, int inFlight) throws InterruptedException {
    return windowed(i -> hub.publish(Message.builder(topics.get(i % topics.size())).payload(payload).build()), n, inFlight);
  }

  /** {@code op(0)} … {@code op(n - 1)}, {@code inFlight} out at a time; calls per second. */
  static double windowed(java.util.function.IntFunction<java.util.concurrent.CompletionStage<?>> op, int n, int inFlight)
      throws InterruptedException {
    Semaphore window = new Semaphore(inFlight);
    AtomicLong failed = new AtomicLong();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      window.acquire();
      op.apply(i).whenComplete((m, e) -> {
        if (e != null) {
          failed.incrementAndGet();
        }
        window.release();
      });
    }
    window.acquire(inFlight);
    double perSec = n / ((System.nanoTime() - t0) / 1e9);
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " calls failed");
    }
    return perSec;
  }

  /** Latency of {@code op(i)} from each call's intended start, at {@code rate} per second. */
  static Histogram paced(java.util.function.IntFunction<java.util.concurrent.CompletionStage<?>> op, int rate, int seconds)
      throws Exception {
    Histogram h = new Histogram(3_600_000_000L, 3);
    long count = (long) rate * seconds;
    long interval = 1_000_000_000L / rate;
    long start = System.nanoTime();
    CompletableFuture<?> last = null;
    AtomicLong failed = new AtomicLong();
    for (int i = 0; i < count; i++) {
      long due = start + i * interval;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      last = op.apply(i).toCompletableFuture().whenComplete((m, e) -> {
        if (e != null) {
          failed.incrementAndGet();
          return;
        }
        long micros = Math.max(0, (System.nanoTime() - due) / 1000);
        synchronized (h) {
          h.recordValue(micros);
        }
      });
    }
    last.handle((m, e) -> null).get(30, TimeUnit.SECONDS);
    Thread.sleep(200);
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " paced calls failed");
    }
    return h;
  }

  static Histogram sequential(Hub hub, byte[] payload, int n) throws Exception {
    Histogram h = new Histogram(3_600_000_000L, 3);
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      hub.publish(Message.builder("single").payload(payload).build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
      h.recordValue((System.nanoTime() - t0) / 1000);
    }
    return h;
  }

  /** redis-benchmark running the publish script with EVALSHA (-c 50 -P 16); calls per second. */
  static double redisBenchmark(String uri, String prefix, int n) throws IOException, InterruptedException {
    RedisURI u = RedisURI.create(uri);
    String sha;
    RedisClient client = RedisClient.create(u);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      sha = c.sync().scriptLoad(SCRIPT.replace("%PUBLISH%", "PUBLISH"));
    } finally {
      client.shutdown();
    }
    return RedisBrokerBenchmark.redisBenchmark(u.getHost(), u.getPort(), n, 16,
        "EVALSHA", sha, "1", prefix + "bare", "sbbench-chan", "10000", "0", "0", "x".repeat(100));
  }

  static List<RedisURI> clusterNodes(String uri) {
    List<RedisURI> nodes = new ArrayList<>();
    for (String hp : uri.substring("redis-cluster://".length()).split(",")) {
      nodes.add(RedisURI.create("redis://" + hp));
    }
    return nodes;
  }

  /**
   * The same script called bare with Lettuce, one message per call, round-robin over streams named
   * like the broker's (hash-tagged on a cluster), {@code SPUBLISH} on a cluster.
   */
  static final class Bare implements AutoCloseable {
    private final AbstractRedisClient client;
    private final StatefulConnection<String, byte[]> connection;
    private final RedisClusterAsyncCommands<String, byte[]> cmd;
    private final String sha;
    private final String[][] keys;
    private final byte[][][] argv;

    Bare(String uri, String prefix, List<String> topics, byte[] payload) {
      RedisCodec<String, byte[]> codec = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
      boolean cluster = uri.startsWith("redis-cluster://");
      String script = SCRIPT.replace("%PUBLISH%", cluster ? "SPUBLISH" : "PUBLISH");
      byte[] scriptBytes = script.getBytes(StandardCharsets.UTF_8);
      if (cluster) {
        RedisClusterClient c = RedisClusterClient.create(clusterNodes(uri));
        StatefulRedisClusterConnection<String, byte[]> conn = c.connect(codec);
        conn.sync().upstream().commands().scriptLoad(scriptBytes);
        this.sha = conn.sync().scriptLoad(scriptBytes);
        this.client = c;
        this.connection = conn;
        this.cmd = conn.async();
      } else {
        RedisClient c = RedisClient.create(uri);
        StatefulRedisConnection<String, byte[]> conn = c.connect(codec);
        this.sha = conn.sync().scriptLoad(scriptBytes);
        this.client = c;
        this.connection = conn;
        this.cmd = conn.async();
      }
      keys = new String[topics.size()][];
      argv = new byte[topics.size()][][];
      for (int t = 0; t < topics.size(); t++) {
        String tag = cluster ? "{" + topics.get(t) + "}" : topics.get(t);
        keys[t] = new String[] {prefix + "bare:" + tag};
        argv[t] = new byte[][] {(prefix + "barelive:" + tag).getBytes(StandardCharsets.UTF_8),
            "10000".getBytes(StandardCharsets.UTF_8), "0".getBytes(StandardCharsets.UTF_8),
            "0".getBytes(StandardCharsets.UTF_8), payload};
      }
    }

    CompletableFuture<Object> call(int i) {
      int t = i % keys.length;
      return cmd.<Object>evalsha(sha, ScriptOutputType.VALUE, keys[t], argv[t]).toCompletableFuture();
    }

    /** {@code n} calls, {@code inFlight} out at a time; calls per second. */
    double loop(int n, int inFlight) throws InterruptedException {
      return windowed(this::call, n, inFlight);
    }

    @Override
    public void close() {
      connection.close();
      client.shutdown();
    }
  }

  private static void deleteKeys(String uri, String prefix) {
    if (!uri.startsWith("redis-cluster://")) {
      RedisBrokerBenchmark.deleteKeys(uri, prefix);
      return;
    }
    RedisClusterClient client = RedisClusterClient.create(clusterNodes(uri));
    try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
      for (String k : c.sync().keys(prefix + "*")) { // KEYS on every master
        c.sync().del(k);
      }
    } finally {
      client.shutdown();
    }
  }
}
