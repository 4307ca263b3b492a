package dev.switchboard.bench;

import dev.switchboard.redis.RedisBroker;
import dev.switchboard.transport.Message;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Publish throughput through {@link RedisBroker} (many publishes in flight on its one pipelined
 * connection) as a ratio to {@code redis-benchmark} publishing 100-byte messages (-c 50, pipelined)
 * against the same Redis in the same
 * run, and cross-node fan-out latency: a message published on node A received by a listener on node
 * B, at a fixed rate.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.RedisBrokerBenchmark
 * [--redis redis://127.0.0.1:6379] [--messages 200000] [--in-flight 800] [--rate 2000] [--seconds 10]}
 */
public final class RedisBrokerBenchmark {
  private RedisBrokerBenchmark() {}

  public static void main(String[] args) throws Exception {
    String uri = "redis://127.0.0.1:6379";
    int messages = 200_000;
    int inFlight = 800;
    int rate = 2000;
    int seconds = 10;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--redis": uri = args[++i]; break;
        case "--messages": messages = Integer.parseInt(args[++i]); break;
        case "--in-flight": inFlight = Integer.parseInt(args[++i]); break;
        case "--rate": rate = Integer.parseInt(args[++i]); break;
        case "--seconds": seconds = Integer.parseInt(args[++i]); break;
        default:
          System.err.println("unknown option " + args[i] + "\nusage: RedisBrokerBenchmark [--redis URI] [--messages N]"
              + " [--in-flight N] [--rate N] [--seconds N]");
          System.exit(2);
      }
    }
    java.net.URI u = java.net.URI.create(uri);
    String prefix = "sbbench:" + UUID.randomUUID() + ":";
    try {
      double baseline = redisBenchmark(u.getHost(), u.getPort() < 0 ? 6379 : u.getPort(), messages, inFlight);
      double ours = brokerPublish(uri, prefix, messages, inFlight);
      double baseline2 = redisBenchmark(u.getHost(), u.getPort() < 0 ? 6379 : u.getPort(), messages, inFlight);
      System.out.printf(Locale.ROOT, "redis-benchmark PUBLISH of 100 B (-c 50 -P %d): %.0f and %.0f req/s%n",
          Math.max(1, inFlight / 50), baseline, baseline2);
      System.out.printf(Locale.ROOT, "RedisBroker.publish (%d in flight, 100 B): %.0f msg/s = %.2fx the mean baseline%n",
          inFlight, ours, ours / ((baseline + baseline2) / 2));
      Histogram h = crossNode(uri, prefix, rate, seconds);
      System.out.printf(Locale.ROOT, "cross-node latency at %d msg/s for %d s (node A publishes, node B's listener):"
          + " p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d received%n", rate, seconds,
          h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0,
          h.getTotalCount());
    } finally {
      deleteKeys(uri, prefix);
    }
  }

  /** Requests per second that redis-benchmark reports for PUBLISH with the same concurrency. */
  static double redisBenchmark(String host, int port, int n, int inFlight) throws IOException, InterruptedException {
    // Redis 7.0's redis-benchmark has no built-in publish test (-t publish runs nothing), so the
    // command is given explicitly: PUBLISH of a 100-byte message.
    return redisBenchmark(host, port, n, Math.max(1, inFlight / 50), "PUBLISH", "sbbench-channel", "x".repeat(100));
  }

  /** Requests per second that redis-benchmark reports for {@code command args} from 50 clients, pipelined. */
  static double redisBenchmark(String host, int port, int n, int pipeline, String command, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-benchmark", "-h", host, "-p", Integer.toString(port),
        "-n", Integer.toString(n), "-c", "50", "-P", Integer.toString(pipeline), "--csv", command));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IOException("redis-benchmark failed: " + out);
    }
    for (String line : out.split("\n")) {
      if (line.startsWith("\"" + command)) {
        return Double.parseDouble(line.split(",")[1].replace("\"", ""));
      }
    }
    throw new IOException("no " + command + " line in redis-benchmark output: " + out);
  }

  static double brokerPublish(String uri, String prefix, int n, int inFlight) throws Exception {
    try (RedisBroker broker = RedisBroker.builder(uri).keyPrefix(prefix).maxLength(10_000).build()) {
      byte[] payload = BenchServer.payload(100);
      for (int i = 0; i < 20_000; i++) { // warm-up
        broker.publish(Message.builder("bench").payload(payload).build()).toCompletableFuture().join();
      }
      Semaphore window = new Semaphore(inFlight);
      AtomicLong failed = new AtomicLong();
      long t0 = System.nanoTime();
      List<CompletableFuture<Message>> last = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        window.acquire();
        CompletableFuture<Message> f = broker.publish(Message.builder("bench").payload(payload).build()).toCompletableFuture();
        f.whenComplete((m, e) -> {
          if (e != null) {
            failed.incrementAndGet();
          }
          window.release();
        });
        if (i >= n - inFlight) {
          last.add(f);
        }
      }
      CompletableFuture.allOf(last.toArray(new CompletableFuture[0])).handle((v, e) -> null).join();
      window.acquire(inFlight);
      double perSec = n / ((System.nanoTime() - t0) / 1e9);
      if (failed.get() > 0) {
        throw new IllegalStateException(failed.get() + " publishes failed");
      }
      return perSec;
    }
  }

  static Histogram crossNode(String uri, String prefix, int rate, int seconds) throws Exception {
    Histogram h = new Histogram(3_600_000_000L, 3);
    try (RedisBroker a = RedisBroker.builder(uri).keyPrefix(prefix).build();
        RedisBroker b = RedisBroker.builder(uri).keyPrefix(prefix).build()) {
      AutoCloseable sub = b.subscribe("latency", m -> {
        long sent = Long.parseLong(m.text().substring(0, m.text().indexOf('|')));
        synchronized (h) {
          h.recordValue(Math.max(0, (System.nanoTime() - sent) / 1000));
        }
      });
      long count = (long) rate * seconds;
      long interval = 1_000_000_000L / rate;
      long start = System.nanoTime();
      for (long i = 0; i < count; i++) {
        long due = start + i * interval;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
        a.publish(Message.text("latency", System.nanoTime() + "|x"));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < deadline) {
        synchronized (h) {
          if (h.getTotalCount() >= count) {
            break;
          }
        }
        Thread.sleep(10);
      }
      sub.close();
    }
    return h;
  }

  static void deleteKeys(String uri, String prefix) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      List<String> keys = c.sync().keys(prefix + "*");
      if (!keys.isEmpty()) {
        c.sync().del(keys.toArray(new String[0]));
      }
    } finally {
      client.shutdown();
    }
  }
}
