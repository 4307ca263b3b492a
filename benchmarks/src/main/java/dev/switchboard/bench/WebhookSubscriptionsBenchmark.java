package dev.switchboard.bench;

import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Message;
import dev.switchboard.webhook.subscriptions.EndpointChange;
import dev.switchboard.webhook.subscriptions.EndpointStore;
import dev.switchboard.webhook.subscriptions.WebhookSubscriptions;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Recorder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Webhook subscriptions ({@link WebhookSubscriptions}) to a local Jetty receiver answering 204:
 *
 * <ol>
 *   <li><b>Throughput</b>, paired rounds: 1,000 endpoints on 100 topics (endpoint i on topic i % 100),
 *       {@code perTopic} messages published on each topic while delivery is stopped, then delivery
 *       started and timed until every endpoint has every message (read from the broker's history,
 *       signed, POSTed, cursor moved). The baseline, in the same round against the same receiver, is
 *       a bare JDK {@link HttpClient} on as many threads as the subscriptions have attempts in flight
 *       (16), POSTing the same number of requests over the same 1,000 URLs: no history, no signing, no
 *       cursors, no retries.</li>
 *   <li><b>Memory per endpoint</b>: heap after a full GC with the 1,000 endpoints registered (idle)
 *       and after the deliveries (each endpoint's attempt log holding its recent attempts), minus the
 *       heap before.</li>
 *   <li><b>Catch-up</b>: messages published at a steady rate on the 100 topics while one extra
 *       endpoint, subscribed to all 100 topics, answers 503 for {@code outage} seconds; then it answers
 *       204 and catches up. Reported: the latency (publish to receipt) of the other endpoints before,
 *       during and after the outage, and the catch-up rate of the one that was down.</li>
 * </ol>
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.WebhookSubscriptionsBenchmark [perTopic] [rounds] [outageSeconds] [ratePerTopic]}
 */
public final class WebhookSubscriptionsBenchmark {
  private static final int ENDPOINTS = Integer.getInteger("bench.endpoints", 1000);
  private static final int TOPICS = Integer.getInteger("bench.topics", 100);
  private static final int IN_FLIGHT = Integer.getInteger("bench.concurrency", 16);
  private static final byte[] BODY = ("{\"type\":\"t0\",\"timestamp\":\"" + Instant.now() + "\",\"id\":\"x-1\","
      + "\"topic\":\"t0\",\"data\":{\"n\":1}}").getBytes(StandardCharsets.UTF_8);

  /** Retries every second for an hour, so recovery is seen within a second and the outage loses nothing. */
  private static final List<Duration> SCHEDULE = new ArrayList<>();

  static {
    SCHEDULE.add(Duration.ZERO);
    SCHEDULE.addAll(java.util.Collections.nCopies(3600, Duration.ofSeconds(1)));
  }

  private WebhookSubscriptionsBenchmark() {}

  /** The receiver: counts per endpoint ({@code /hook/<i>}), 503 for endpoints marked down, latency of the others. */
  private static final class Receiver {
    final AtomicIntegerArray counts = new AtomicIntegerArray(ENDPOINTS + 1);
    final AtomicIntegerArray down = new AtomicIntegerArray(ENDPOINTS + 1);
    final AtomicInteger total = new AtomicInteger();
    final AtomicReference<Recorder> latency = new AtomicReference<>(); // of endpoints other than the catch-up one
    final Server server = new Server();
    String base;

    void start() throws Exception {
      ServerConnector c = new ServerConnector(server);
      c.setHost("127.0.0.1");
      server.addConnector(c);
      ServletContextHandler ctx = new ServletContextHandler();
      ctx.addServlet(new ServletHolder(new HttpServlet() {
        private static final long serialVersionUID = 1L;

        @Override
        protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
          byte[] body = req.getInputStream().readAllBytes();
          int i = Integer.parseInt(req.getPathInfo().substring(req.getPathInfo().lastIndexOf('/') + 1));
          if (down.get(i) == 1) {
            res.setStatus(503);
            return;
          }
          counts.incrementAndGet(i);
          total.incrementAndGet();
          Recorder r = latency.get();
          if (r != null && i != ENDPOINTS) {
            String s = new String(body, StandardCharsets.UTF_8);
            int at = s.indexOf("\"timestamp\":\"") + 13;
            Instant sent = Instant.parse(s.substring(at, s.indexOf('"', at)));
            r.recordValue(Math.max(1, Duration.between(sent, Instant.now()).toNanos() / 1000));
          }
          res.setStatus(204);
        }
      }), "/*");
      server.setHandler(ctx);
      server.start();
      base = "http://127.0.0.1:" + c.getLocalPort() + "/hook/";
    }
  }

  public static void main(String[] args) throws Exception {
    int perTopic = args.length > 0 ? Integer.parseInt(args[0]) : 50;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int outage = args.length > 2 ? Integer.parseInt(args[2]) : 60;
    int ratePerTopic = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    Receiver rx = new Receiver();
    rx.start();
    try {
      int deliveries = perTopic * ENDPOINTS;
      System.out.printf(Locale.ROOT, "%d endpoints on %d topics, %d messages per topic = %d deliveries per run,"
          + " %d attempts in flight, %d rounds; %d cores%n", ENDPOINTS, TOPICS, perTopic, deliveries, IN_FLIGHT, rounds,
          Runtime.getRuntime().availableProcessors());
      baseline(rx, deliveries); // warm-up pair, not counted
      subscriptions(rx, perTopic, false);
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        double base = baseline(rx, deliveries);
        double ours = subscriptions(rx, perTopic, r == rounds - 1);
        ratios[r] = ours / base;
      }
      Arrays.sort(ratios);
      System.out.printf(Locale.ROOT, "subscriptions / bare HttpClient: median %.2fx (rounds %s)%n", ratios[rounds / 2],
          Arrays.toString(ratios));
      memory(rx, Integer.getInteger("bench.memoryEndpoints", 10_000));
      catchUp(rx, outage, ratePerTopic);
    } finally {
      rx.server.stop();
    }
  }

  private static double baseline(Receiver rx, int n) throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER).build();
    AtomicInteger next = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(IN_FLIGHT);
    long t0 = System.nanoTime();
    for (int t = 0; t < IN_FLIGHT; t++) {
      threads.execute(() -> {
        for (int i; (i = next.getAndIncrement()) < n; ) {
          HttpRequest req = HttpRequest.newBuilder(URI.create(rx.base + (i % ENDPOINTS)))
              .POST(HttpRequest.BodyPublishers.ofByteArray(BODY)).header("Content-Type", "application/json").build();
          try {
            if (http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() != 204) {
              failed.incrementAndGet();
            }
          } catch (Exception e) {
            failed.incrementAndGet();
          }
        }
      });
    }
    threads.shutdown();
    threads.awaitTermination(10, TimeUnit.MINUTES);
    double secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "%-13s %7d requests   in %6.2f s = %8.0f /s%s%n", "baseline", n, secs, n / secs,
        failed.get() == 0 ? "" : " (" + failed.get() + " failed)");
    return n / secs;
  }

  private static long usedHeap() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static WebhookSubscriptions.Builder builder(InMemoryBroker broker) {
    return WebhookSubscriptions.builder(broker, EndpointStore.inMemory())
        .sender(b -> b.allowPrivateTargets(true).perEndpointConcurrency(IN_FLIGHT)
            .schedule(SCHEDULE)
            .disableAfter(Duration.ofDays(1)))
        .limits(dev.switchboard.webhook.EndpointLimits.of(ENDPOINTS + 1, TOPICS))
        .maxAttemptsInFlight(IN_FLIGHT);
  }

  /**
   * Heap per endpoint: {@code n} endpoints registered on the 100 topics (idle: runtime, lanes, store
   * entry, empty attempt log), then after one delivery each and the attempt logs filled to their
   * default bound (100 attempts) by test sends.
   */
  private static void memory(Receiver rx, int n) throws Exception {
    try (InMemoryBroker broker = InMemoryBroker.builder().build()) {
      WebhookSubscriptions subs = builder(broker).limits(dev.switchboard.webhook.EndpointLimits.of(n + 1, TOPICS))
          .build().start();
      long before = usedHeap();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        ids.add(subs.create("bench", EndpointChange.of(rx.base + (i % ENDPOINTS), List.of("t" + (i % TOPICS)))).endpoint().id());
      }
      long idle = usedHeap();
      System.out.printf(Locale.ROOT, "memory: %d endpoints registered, idle: %.0f bytes per endpoint%n", n,
          (idle - before) / (double) n);
      subs.close();
    }
  }

  private static double subscriptions(Receiver rx, int perTopic, boolean memory) throws Exception {
    try (InMemoryBroker broker = InMemoryBroker.builder().maxMessagesPerTopic(Math.max(1000, perTopic * 2)).build()) {
      WebhookSubscriptions subs = builder(broker).build();
      long before = memory ? usedHeap() : 0;
      for (int i = 0; i < ENDPOINTS; i++) {
        subs.create("bench", EndpointChange.of(rx.base + i, List.of("t" + (i % TOPICS))));
      }
      for (int m = 0; m < perTopic; m++) {
        for (int t = 0; t < TOPICS; t++) {
          broker.publish(Message.builder("t" + t).json("{\"n\":" + m + "}").build());
        }
      }
      int n = perTopic * ENDPOINTS;
      int start = rx.total.get();
      long t0 = System.nanoTime();
      subs.start();
      long deadline = t0 + TimeUnit.MINUTES.toNanos(10);
      while (rx.total.get() - start < n && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      int got = rx.total.get() - start;
      System.out.printf(Locale.ROOT, "%-13s %7d deliveries in %6.2f s = %8.0f /s%n", "subscriptions", got, secs, got / secs);
      if (memory) {
        while (subs.pendingDeliveries() > 0 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        long full = usedHeap();
        System.out.printf(Locale.ROOT, "memory: %.0f bytes per endpoint after %d deliveries each (history of"
            + " %d messages included; attempt logs: %d bytes estimated in all)%n",
            (full - before) / (double) ENDPOINTS, perTopic, perTopic * TOPICS, subs.attemptLogBytes());
      }
      subs.close();
      return got / secs;
    }
  }

  private static void catchUp(Receiver rx, int outageSeconds, int ratePerTopic) throws Exception {
    try (InMemoryBroker broker = InMemoryBroker.builder().maxMessagesPerTopic(100_000).build()) {
      WebhookSubscriptions subs = builder(broker).build().start();
      for (int i = 0; i < ENDPOINTS; i++) {
        subs.create("bench", EndpointChange.of(rx.base + i, List.of("t" + (i % TOPICS))));
      }
      List<String> all = new ArrayList<>();
      for (int t = 0; t < TOPICS; t++) {
        all.add("t" + t);
      }
      subs.create("bench", EndpointChange.of(rx.base + ENDPOINTS, all)); // the one that goes down
      rx.counts.set(ENDPOINTS, 0);
      AtomicInteger published = new AtomicInteger();
      java.util.concurrent.ScheduledExecutorService pub = Executors.newSingleThreadScheduledExecutor();
      long periodMicros = 1_000_000L / (ratePerTopic * (long) TOPICS);
      AtomicInteger topic = new AtomicInteger();
      pub.scheduleAtFixedRate(() -> {
        broker.publish(Message.builder("t" + (topic.getAndIncrement() % TOPICS)).json("{\"n\":1}").build());
        published.incrementAndGet();
      }, 0, periodMicros, TimeUnit.MICROSECONDS);
      System.out.printf(Locale.ROOT, "catch-up: %d messages/s on %d topics (%d deliveries/s to the %d endpoints, %d/s to"
          + " the one subscribed to all), outage of %d s%n", ratePerTopic * TOPICS, TOPICS, ratePerTopic * ENDPOINTS, ENDPOINTS,
          ratePerTopic * TOPICS, outageSeconds);
      Recorder latency = new Recorder(3);
      rx.latency.set(latency);
      Thread.sleep(5_000);
      latency.getIntervalHistogram(); // warm-up, not reported
      Thread.sleep(10_000);
      report("before", latency);
      rx.down.set(ENDPOINTS, 1);
      int atDown = published.get();
      Thread.sleep(outageSeconds * 1000L);
      report("during outage", latency);
      int backlog = published.get() - rx.counts.get(ENDPOINTS);
      rx.down.set(ENDPOINTS, 0);
      long up = System.nanoTime();
      int caughtAt;
      while (true) {
        int lag = published.get() - rx.counts.get(ENDPOINTS);
        if (lag <= ratePerTopic * TOPICS / 5) { // within 200 ms of publishing again
          break;
        }
        if (System.nanoTime() - up > TimeUnit.MINUTES.toNanos(5)) {
          System.out.println("did not catch up within 5 min");
          break;
        }
        Thread.sleep(5);
      }
      double secs = (System.nanoTime() - up) / 1e9;
      caughtAt = rx.counts.get(ENDPOINTS);
      Thread.sleep(Math.max(0, 5_000 - (long) (secs * 1000)));
      report("catching up", latency);
      System.out.printf(Locale.ROOT, "catch-up: %d messages missed during the outage (published from #%d), delivered"
          + " with the new ones in %.2f s after recovery = %.0f messages/s for that endpoint (first retry comes"
          + " within 1 s of recovery); received %d in all%n", backlog, atDown, secs, backlog / secs, caughtAt);
      pub.shutdownNow();
      rx.latency.set(null);
      subs.close();
    }
  }

  private static void report(String phase, Recorder r) {
    org.HdrHistogram.Histogram h = r.getIntervalHistogram();
    System.out.printf(Locale.ROOT, "  other endpoints %-14s %8d deliveries, latency p50 %7.2f ms, p99 %8.2f ms, max %8.2f ms%n",
        phase, h.getTotalCount(), h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
        h.getMaxValue() / 1000.0);
  }
}
