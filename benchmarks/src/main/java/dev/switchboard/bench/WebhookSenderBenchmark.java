package dev.switchboard.bench;

import dev.switchboard.webhook.DeliveryStore;
import dev.switchboard.webhook.JdbcDeliveryStore;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Sender throughput to a local receiver answering 204, with the in-memory store and with the
 * PostgreSQL store (127.0.0.1:5432, database test): deliveries per second from queued to answered.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar dev.switchboard.bench.WebhookSenderBenchmark [count]}
 */
public final class WebhookSenderBenchmark {
  private WebhookSenderBenchmark() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
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
      run("in-memory", DeliveryStore.inMemory(), url, n, received);
      run("in-memory", DeliveryStore.inMemory(), url, n, received); // second round: warmed up
      com.zaxxer.hikari.HikariConfig hc = new com.zaxxer.hikari.HikariConfig();
      hc.setJdbcUrl("jdbc:postgresql://127.0.0.1:5432/test");
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

  private static void run(String name, DeliveryStore store, URI url, int n, AtomicInteger received) throws Exception {
    org.HdrHistogram.Recorder latency = new org.HdrHistogram.Recorder(3);
    WebhookSender sender = WebhookSender.builder().store(store).allowPrivateTargets(true)
        .perEndpointConcurrency(Integer.getInteger("bench.concurrency", 16))
        .listener(new WebhookSender.Listener() {
          @Override
          public void onAttempt(WebhookSender.Attempt a) {
            latency.recordValue(Math.max(1, a.latency().toNanos() / 1000));
          }
        })
        .build();
    sender.register("bench", url, WebhookSigner.standardWebhooks(WebhookVerifyBenchmark.SECRET));
    byte[] body = "{\"type\":\"bench\",\"data\":{\"n\":1}}".getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < n; i++) {
      sender.send("bench", body, "application/json");
    }
    int start = received.get();
    long t0 = System.nanoTime();
    sender.start();
    long deadline = t0 + 120_000_000_000L;
    while (received.get() - start < n && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    sender.close();
    org.HdrHistogram.Histogram h = latency.getIntervalHistogram();
    System.out.printf(Locale.ROOT, "%-10s %6d deliveries in %6.2f s = %8.0f deliveries/s; attempt latency p50 %.2f ms,"
        + " p99 %.2f ms%n", name, received.get() - start, secs, (received.get() - start) / secs,
        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
  }
}
