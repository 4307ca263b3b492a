package dev.switchboard.bench;

import dev.switchboard.webhook.DeliveryStore;
import dev.switchboard.webhook.JdbcDeliveryStore;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Sender throughput to a local receiver answering 204, with the in-memory store and with the
 * PostgreSQL store (127.0.0.1:5432, database test): deliveries per second from queued to answered.
 * The baseline, measured in the same run against the same receiver with as many requests in flight,
 * is a bare JDK {@link HttpClient} POSTing the same body: no signing, no store, no retries. Rounds
 * alternate baseline and sender so both see the same machine.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.WebhookSenderBenchmark [count] [rounds]}
 * ({@code -Dbench.concurrency=N}, default 16 in flight)
 */
public final class WebhookSenderBenchmark {
  private static final byte[] BODY = "{\"type\":\"bench\",\"data\":{\"n\":1}}".getBytes(StandardCharsets.UTF_8);
  private static final int CONCURRENCY = Integer.getInteger("bench.concurrency", 16);

  private WebhookSenderBenchmark() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    AtomicInteger received = new AtomicInteger();
    Server receiver = new Server();
    ServerConnector c = new ServerConnector(receiver);
    c.setHost("127.0.0.1");
    c.setPort(0);
    receiver.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
        req.getInputStream().readAllBytes();
        received.incrementAndGet();
        res.setStatus(204);
      }
    }), "/*");
    receiver.setHandler(ctx);
    receiver.start();
    URI url = URI.create("http://127.0.0.1:" + c.getLocalPort() + "/hook");
    try {
      System.out.printf(Locale.ROOT, "%d deliveries per run, %d in flight, %d rounds%n", n, CONCURRENCY, rounds);
      baseline(url, n); // warm-up of both, not counted
      run("in-memory", DeliveryStore.inMemory(), url, n, received);
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        double base = baseline(url, n);
        double ours = run("in-memory", DeliveryStore.inMemory(), url, n, received);
        ratios[r] = ours / base;
      }
      java.util.Arrays.sort(ratios);
      System.out.printf(Locale.ROOT, "in-memory sender / bare HttpClient: median %.2fx (rounds %s)%n",
          ratios[rounds / 2], java.util.Arrays.toString(ratios));
      com.zaxxer.hikari.HikariConfig hc = new com.zaxxer.hikari.HikariConfig();
      hc.setJdbcUrl(System.getProperty("bench.jdbcUrl", "jdbc:postgresql://127.0.0.1:5432/test"));
      hc.setUsername("postgres");
      hc.setMaximumPoolSize(16);
      com.zaxxer.hikari.HikariDataSource ds = new com.zaxxer.hikari.HikariDataSource(hc);
      String table = "sb_bench_" + Long.toHexString(System.nanoTime());
      JdbcDeliveryStore jdbc = new JdbcDeliveryStore(ds, table);
      jdbc.createTable();
      try {
        run("postgresql", jdbc, url, n / 2, received);
        run("postgresql", jdbc, url, n / 2, received);
      } finally {
        try (Connection conn = ds.getConnection(); Statement s = conn.createStatement()) {
          s.execute("DROP TABLE IF EXISTS " + table);
        }
        ds.close();
      }
    } finally {
      receiver.stop();
    }
  }

  /**
   * A bare JDK HttpClient: {@link #CONCURRENCY} threads POSTing the body with blocking {@code send}
   * (on this machine several times faster than {@code sendAsync}, whose responses each start a thread
   * when the common pool has one worker); requests/s.
   */
  private static double baseline(URI url, int n) throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER).build(); // as the sender
    AtomicInteger left = new AtomicInteger(n);
    AtomicInteger failed = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(CONCURRENCY);
    long t0 = System.nanoTime();
    for (int t = 0; t < CONCURRENCY; t++) {
      threads.execute(() -> {
        while (left.getAndDecrement() > 0) {
          HttpRequest req = HttpRequest.newBuilder(url).POST(HttpRequest.BodyPublishers.ofByteArray(BODY))
              .header("Content-Type", "application/json").build();
          try {
            if (http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() != 204) {
              failed.incrementAndGet();
            }
          } catch (Exception e) {
            failed.incrementAndGet();
            System.out.println("  baseline request failed: " + e);
          }
        }
      });
    }
    threads.shutdown();
    threads.awaitTermination(5, TimeUnit.MINUTES);
    double secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "%-10s %6d requests   in %6.2f s = %8.0f requests/s%s%n", "baseline", n, secs, n / secs,
        failed.get() == 0 ? "" : " (" + failed.get() + " failed)");
    return n / secs;
  }

  private static double run(String name, DeliveryStore store, URI url, int n, AtomicInteger received) throws Exception {
    org.HdrHistogram.Recorder latency = new org.HdrHistogram.Recorder(3);
    WebhookSender sender = WebhookSender.builder().store(store).allowPrivateTargets(true)
        .perEndpointConcurrency(CONCURRENCY)
        .listener(new WebhookSender.Listener() {
          @Override
          public void onAttempt(WebhookSender.Attempt a) {
            latency.recordValue(Math.max(1, a.latency().toNanos() / 1000));
            if (a.outcome() != WebhookSender.Outcome.DELIVERED) {
              System.out.println("  not delivered: " + a); // retries count twice at the receiver
            }
          }
        })
        .build();
    sender.register("bench", url, WebhookSigner.standardWebhooks(WebhookVerifyBenchmark.SECRET));
    for (int i = 0; i < n; i++) {
      sender.send("bench", BODY, "application/json");
    }
    int start = received.get();
    long t0 = System.nanoTime();
    sender.start();
    long deadline = t0 + 120_000_000_000L;
    while (received.get() - start < n && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    while (store.pendingCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(1); // the last outcomes are being recorded
    }
    sender.close();
    org.HdrHistogram.Histogram h = latency.getIntervalHistogram();
    int got = received.get() - start;
    System.out.printf(Locale.ROOT, "%-10s %6d deliveries in %6.2f s = %8.0f deliveries/s; attempt latency p50 %.2f ms,"
        + " p99 %.2f ms%n", name, got, secs, got / secs,
        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
    return got / secs;
  }
}
