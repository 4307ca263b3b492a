package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The receiving filter on a real Jetty, fed real signed deliveries. */
@Timeout(60)
class WebhookFilterTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private final WebhookSigner signer = WebhookSigner.standardWebhooks(SECRET);
  private final HttpClient http = HttpClient.newHttpClient();
  private final AtomicInteger handled = new AtomicInteger();
  private final CopyOnWriteArrayList<String> bodiesSeen = new CopyOnWriteArrayList<>();
  private volatile CountDownLatch block;
  private volatile int failWith;
  private Server server;
  private URI url;

  @BeforeEach
  void start() throws Exception {
    server = new Server();
    ServerConnector c = new ServerConnector(server);
    c.setHost("127.0.0.1");
    c.setPort(0);
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addFilter(new FilterHolder(WebhookFilter.builder(WebhookVerifier.standardWebhooks(SECRET).build())
        .maxBodyBytes(4096).build()), "/hooks", EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        handled.incrementAndGet();
        bodiesSeen.add(new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        assertTrue(req.getAttribute(WebhookFilter.VERIFIED) instanceof WebhookVerifier.Verified);
        CountDownLatch b = block;
        if (b != null) {
          try {
            b.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        res.setStatus(failWith != 0 ? failWith : 204);
      }
    }), "/hooks");
    server.setHandler(ctx);
    server.start();
    url = URI.create("http://127.0.0.1:" + c.getLocalPort() + "/hooks");
  }

  @AfterEach
  void stop() throws Exception {
    server.stop();
  }

  private HttpRequest.Builder delivery(String id, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(url).POST(HttpRequest.BodyPublishers.ofString(body));
    Map<String, String> h = signer.sign(id, Instant.now(), body.getBytes(StandardCharsets.UTF_8));
    h.forEach(b::header);
    return b;
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void verifiedDelivery_reachesTheHandlerOnce_andRedeliveryIsAcknowledgedWithoutIt() throws Exception {
    assertEquals(204, send(delivery("msg_1", "{\"type\":\"paid\"}")).statusCode());
    HttpResponse<String> again = send(delivery("msg_1", "{\"type\":\"paid\"}"));
    assertEquals(200, again.statusCode());
    assertTrue(again.body().contains("\"duplicate\":true"), again.body());
    assertEquals(1, handled.get());
    assertEquals("{\"type\":\"paid\"}", bodiesSeen.get(0), "the handler reads the raw body again");
  }

  @Test
  void unverifiedDelivery_is401WithAJsonErrorNamingTheProblem() throws Exception {
    HttpResponse<String> missing = send(HttpRequest.newBuilder(url).POST(HttpRequest.BodyPublishers.ofString("{}")));
    assertEquals(401, missing.statusCode());
    assertEquals("{\"status\":401,\"error\":\"missing_header\",\"message\":\"missing header webhook-id\"}", missing.body());
    HttpRequest.Builder tampered = delivery("msg_2", "{\"amount\":1}");
    HttpResponse<String> r = send(tampered.POST(HttpRequest.BodyPublishers.ofString("{\"amount\":1000}")));
    assertEquals(401, r.statusCode());
    assertTrue(r.body().contains("\"error\":\"no_matching_signature\""), r.body());
    assertEquals(413, send(delivery("msg_3", "x".repeat(5000))).statusCode());
    assertEquals(405, send(HttpRequest.newBuilder(url).GET()).statusCode());
    assertEquals(0, handled.get());
  }

  @Test
  void copyArrivingWhileTheFirstIsProcessing_getsRetryLater_andIsNotProcessedTwice() throws Exception {
    block = new CountDownLatch(1);
    CompletableFuture<HttpResponse<String>> first = http.sendAsync(delivery("msg_c", "{}").build(), HttpResponse.BodyHandlers.ofString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (handled.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    HttpResponse<String> copy = send(delivery("msg_c", "{}"));
    assertEquals(503, copy.statusCode());
    assertEquals("5", copy.headers().firstValue("Retry-After").orElseThrow());
    block.countDown();
    assertEquals(204, first.get(20, TimeUnit.SECONDS).statusCode());
    assertEquals(200, send(delivery("msg_c", "{}")).statusCode());
    assertEquals(1, handled.get());
  }

  @Test
  void failedHandler_releasesTheId_soTheRetryRunsAgain() throws Exception {
    failWith = 500;
    assertEquals(500, send(delivery("msg_f", "{}")).statusCode());
    failWith = 0;
    assertEquals(204, send(delivery("msg_f", "{}")).statusCode());
    assertEquals(2, handled.get());
    assertEquals(200, send(delivery("msg_f", "{}")).statusCode());
    assertEquals(2, handled.get());
  }
}
