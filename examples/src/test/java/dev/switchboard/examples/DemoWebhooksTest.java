package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The demo hub's webhook bridge, both ways, with real signed HTTP. */
@Timeout(60)
class DemoWebhooksTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final String ADMIN_TOKEN = "demo-admin-token-0123456789";
  private static final Map<String, String> ADMIN = Map.of("Authorization", "Bearer " + ADMIN_TOKEN,
      "Content-Type", "application/json");
  /** The targets the security review registered with 201, and a few more forms of them. */
  private static final List<String> HOSTILE = List.of("http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0/", "http://2130706433/", "http://localhost/",
      "http://10.0.0.1/", "http://10.255.0.9/", "http://[fd00::1]/", "http://[64:ff9b::7f00:1]/", "http://0x7f000001/",
      "http://0177.0.0.1/", "http://127.1/", "http://[2002:7f00:1::]/", "http://100.64.0.1/", "http://[2001::1]/");
  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> post(String url, String body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static Map<String, String> signed(String id, String body) {
    return WebhookSigner.standardWebhooks(SECRET).sign(id, Instant.now(), body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void inbound_verifiedDeliveriesArePublishedOnce_unverifiedAre401() throws Exception {
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed", "--webhook-secret", SECRET}));
         Channel c = Transports.open(TransportConfig.builder().transport("sse").url(demo.httpUrl()).build())) {
      String in = demo.httpUrl() + "/v1/webhooks/in";
      LinkedBlockingQueue<Message> got = new LinkedBlockingQueue<>();
      Message marker = demo.hub().publish("webhooks.payment.succeeded", "marker").toCompletableFuture().get();
      c.subscribe("webhooks.payment.succeeded", marker.id(), (MessageListener) got::add);
      String body = "{\"type\":\"payment.succeeded\",\"data\":{\"amount\":1200}}";
      assertEquals(204, post(in, body, signed("msg_1", body)).statusCode());
      assertEquals(body, got.poll(20, TimeUnit.SECONDS).text());
      HttpResponse<String> again = post(in, body, signed("msg_1", body));
      assertEquals(200, again.statusCode(), "a redelivery is acknowledged");
      String second = "{\"type\":\"payment.succeeded\",\"data\":{\"amount\":5}}";
      assertEquals(204, post(in, second, signed("msg_2", second)).statusCode());
      assertEquals(second, got.poll(20, TimeUnit.SECONDS).text(), "the redelivery was not published twice");
      HttpResponse<String> unsigned = post(in, body, Map.of());
      assertEquals(401, unsigned.statusCode());
      assertTrue(unsigned.body().startsWith("{\"status\":401,\"error\":\"missing_header\""), unsigned.body());
      Map<String, String> wrong = WebhookSigner.standardWebhooks("whsec_d3Jvbmcgc2VjcmV0").sign("msg_3", Instant.now(),
          body.getBytes(StandardCharsets.UTF_8));
      assertEquals(401, post(in, body, wrong).statusCode());
      String noType = "{\"data\":1}";
      assertEquals(400, post(in, noType, signed("msg_4", noType)).statusCode());
    }
  }

  private HttpResponse<String> get(String url, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void endpoints_needTheAdminToken_andRefuseEveryPrivateTarget_unlessAllowed() throws Exception {
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed",
        "--webhook-secret", SECRET, "--webhook-admin-token", ADMIN_TOKEN}))) {
      String endpoints = demo.httpUrl() + "/v1/webhooks/endpoints";
      String body = "{\"url\":\"http://93.184.216.34/hook\",\"topics\":[\"orders\"]}";
      for (Map<String, String> h : List.of(Map.<String, String>of(), Map.of("Authorization", "Bearer wrong-token"),
          Map.of("Authorization", "Basic YWRtaW46YWRtaW4="))) {
        HttpResponse<String> r = post(endpoints, body, h);
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(r.body().startsWith("{\"status\":401,\"error\":\"unauthenticated\""), r.body());
        assertEquals(401, get(endpoints, h).statusCode());
      }
      for (String url : HOSTILE) {
        HttpResponse<String> r = post(endpoints, "{\"url\":\"" + url + "\",\"topics\":[\"orders\"]}", ADMIN);
        assertEquals(400, r.statusCode(), url + ": " + r.body());
        assertTrue(r.body().startsWith("{\"status\":400,\"error\":\"forbidden_target\",\"message\":\"refused: "), url + ": " + r.body());
      }
      HttpResponse<String> list = get(endpoints, ADMIN);
      assertEquals(200, list.statusCode());
      assertEquals("{\"endpoints\":[]}", list.body(), "nothing was stored");
      HttpResponse<String> tooMany = post(endpoints, "{\"url\":\"http://93.184.216.34/\",\"topics\":["
          + String.join(",", java.util.stream.IntStream.range(0, 101).mapToObj(i -> "\"t" + i + "\"").toList()) + "]}", ADMIN);
      assertEquals(400, tooMany.statusCode());
      assertTrue(tooMany.body().contains("\"error\":\"too_many_topics\"") && tooMany.body().contains("at most 100 topics, not 101"),
          tooMany.body());
    }
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed",
        "--webhook-secret", SECRET, "--webhook-admin-token", ADMIN_TOKEN, "--allow-private-webhook-targets"}))) {
      String endpoints = demo.httpUrl() + "/v1/webhooks/endpoints";
      for (String url : HOSTILE) {
        HttpResponse<String> r = post(endpoints, "{\"url\":\"" + url + "\",\"topics\":[\"orders\"]}", ADMIN);
        assertEquals(201, r.statusCode(), url + ": " + r.body());
      }
      assertEquals(400, post(endpoints, "{\"url\":\"ftp://127.0.0.1/\",\"topics\":[\"orders\"]}", ADMIN).statusCode(),
          "still http(s) only");
      // The per-principal limit (default 100) counts what is registered.
      for (int i = HOSTILE.size(); i < 100; i++) {
        assertEquals(201, post(endpoints, "{\"url\":\"http://127.0.0.1:1/" + i + "\",\"topics\":[\"orders\"]}", ADMIN).statusCode());
      }
      HttpResponse<String> over = post(endpoints, "{\"url\":\"http://127.0.0.1:1/x\",\"topics\":[\"orders\"]}", ADMIN);
      assertEquals(400, over.statusCode());
      assertTrue(over.body().contains("\"error\":\"too_many_endpoints\"") && over.body().contains("already has 100"), over.body());
    }
  }

  @Test
  void outbound_registeredEndpointsGetSignedWebhooksForTheirTopics() throws Exception {
    LinkedBlockingQueue<Map.Entry<Map<String, String>, byte[]>> received = new LinkedBlockingQueue<>();
    Server receiver = new Server();
    ServerConnector rc = new ServerConnector(receiver);
    rc.setHost("127.0.0.1");
    rc.setPort(0);
    receiver.addConnector(rc);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
        Map<String, String> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (String n : Collections.list(req.getHeaderNames())) {
          h.put(n, req.getHeader(n));
        }
        received.add(Map.entry(h, req.getInputStream().readAllBytes()));
        res.setStatus(204);
      }
    }), "/*");
    receiver.setHandler(ctx);
    receiver.start();
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed",
        "--webhook-secret", SECRET, "--allow-private-webhook-targets", "--webhook-admin-token", ADMIN_TOKEN}))) {
      String endpoints = demo.httpUrl() + "/v1/webhooks/endpoints";
      assertEquals(400, post(endpoints, "{\"url\":\"ftp://x/y\",\"topics\":[\"orders\"]}", ADMIN).statusCode());
      assertEquals(400, post(endpoints, "{\"url\":\"http://127.0.0.1:1/\"}", ADMIN).statusCode());
      assertEquals(400, post(endpoints, "{\"url\":\"http://127.0.0.1:1/\",\"topics\":[\"bad topic\"]}", ADMIN).statusCode());
      HttpResponse<String> created = post(endpoints, "{\"url\":\"http://127.0.0.1:" + rc.getLocalPort()
          + "/hook\",\"topics\":[\"orders\"]}", ADMIN);
      assertEquals(201, created.statusCode(), created.body());
      String secret = created.body().replaceAll(".*\"secret\":\"([^\"]+)\".*", "$1");
      assertTrue(secret.startsWith("whsec_"), created.body());
      HttpResponse<String> published = post(demo.httpUrl() + "/v1/topics/orders/messages", "{\"order\":42}",
          Map.of("Content-Type", "application/json"));
      assertEquals(201, published.statusCode());
      Map.Entry<Map<String, String>, byte[]> hook = received.poll(20, TimeUnit.SECONDS);
      assertNotNull(hook, "the endpoint received a webhook");
      WebhookVerifier.standardWebhooks(secret).build().verify(hook.getKey()::get, hook.getValue());
      String payload = new String(hook.getValue(), StandardCharsets.UTF_8);
      assertTrue(payload.startsWith("{\"type\":\"orders\",") && payload.contains("\"data\":{\"order\":42}"), payload);
    } finally {
      receiver.stop();
    }
  }
}
