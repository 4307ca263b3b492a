package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.webhook.EndpointLimits;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.Principal;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The webhook bridge with the hub's own bearer authenticator (two principals), small limits and a
 * receiver that always fails: limits, ownership and the status an owner reads.
 */
@Timeout(60)
class WebhookBridgeTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final Map<String, Principal> TOKENS = Map.of("alice-token", () -> "alice", "bob-token", () -> "bob");

  private final HttpClient http = HttpClient.newHttpClient();
  private final AtomicInteger received = new AtomicInteger();
  private Hub hub;
  private WebhookBridge bridge;
  private Server server;
  private String endpoints;
  private String failing;

  @BeforeEach
  void start() throws Exception {
    // Subscriptions read the broker, not hub connections: the hub's per-connection limit (2) does
    // not cap an endpoint's topics; the bridge's EndpointLimits (3) does.
    hub = Hub.builder().maxSubscriptionsPerConnection(2).build();
    bridge = new WebhookBridge(hub, SECRET, true, Authenticator.bearer(TOKENS::get), EndpointLimits.of(2, 3));
    server = new Server();
    ServerConnector c = new ServerConnector(server);
    c.setHost("127.0.0.1");
    c.setPort(0);
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ServletHolder holder = new ServletHolder(bridge.endpoints());
    ctx.addServlet(holder, "/v1/webhooks/endpoints");
    ctx.addServlet(holder, "/v1/webhooks/endpoints/*");
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
        req.getInputStream().readAllBytes();
        received.incrementAndGet();
        res.setStatus(500);
      }
    }), "/receiver/*");
    server.setHandler(ctx);
    server.start();
    String base = "http://127.0.0.1:" + c.getLocalPort();
    endpoints = base + "/v1/webhooks/endpoints";
    failing = base + "/receiver/hook";
  }

  @AfterEach
  void stop() throws Exception {
    bridge.close();
    server.stop();
    hub.shutdown();
  }

  private HttpResponse<String> post(String token, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(endpoints)).header("Authorization", "Bearer " + token)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String token, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(endpoints + path)).header("Authorization", "Bearer " + token)
        .GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String idOf(HttpResponse<String> created) {
    assertEquals(201, created.statusCode(), created.body());
    return created.body().replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
  }

  @Test
  void anEndpointWhoseDeliveriesFail_showsItsStatusToItsOwner_only() throws Exception {
    String id = idOf(post("alice-token", "{\"url\":\"" + failing + "\",\"topics\":[\"orders\"]}"));
    hub.publish("orders", "{\"n\":1}");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    HttpResponse<String> status;
    do {
      status = get("alice-token", "/" + id);
      assertEquals(200, status.statusCode(), status.body());
    } while (!status.body().contains("\"state\":\"failing\"") && System.nanoTime() < deadline);
    assertTrue(status.body().contains("\"state\":\"failing\"") && status.body().contains("\"consecutiveFailures\":1")
        && status.body().contains("\"lastError\":\"HTTP 500\"") && status.body().contains("\"url\":\"" + failing + "\""),
        status.body());
    assertTrue(received.get() >= 1);
    assertTrue(get("alice-token", "").body().contains("\"id\":\"" + id + "\""));

    HttpResponse<String> other = get("bob-token", "/" + id);
    assertEquals(404, other.statusCode(), "another principal's endpoint is not found");
    assertTrue(other.body().startsWith("{\"status\":404,\"error\":\"not_found\""), other.body());
    assertEquals("{\"endpoints\":[]}", get("bob-token", "").body());
    assertEquals(401, get("nobody", "/" + id).statusCode());
  }

  @Test
  void limits_arePerPrincipal_andPerEndpoint_neverASilentDrop() throws Exception {
    HttpResponse<String> topics = post("alice-token", "{\"url\":\"" + failing + "\",\"topics\":[\"a\",\"b\",\"c\",\"d\"]}");
    assertEquals(400, topics.statusCode());
    assertTrue(topics.body().startsWith("{\"status\":400,\"error\":\"too_many_topics\""), topics.body());

    assertEquals("{\"endpoints\":[]}", get("alice-token", "").body(), "nothing half-registered");

    idOf(post("alice-token", "{\"url\":\"" + failing + "\",\"topics\":[\"a\",\"b\",\"c\"]}"));
    idOf(post("alice-token", "{\"url\":\"" + failing + "\",\"topics\":[\"a\"]}"));
    HttpResponse<String> third = post("alice-token", "{\"url\":\"" + failing + "\",\"topics\":[\"a\"]}");
    assertEquals(400, third.statusCode());
    assertTrue(third.body().startsWith("{\"status\":400,\"error\":\"too_many_endpoints\",\"message\":\"alice already has 2"),
        third.body());
    idOf(post("bob-token", "{\"url\":\"" + failing + "\",\"topics\":[\"a\"]}")); // bob has his own count
  }
}
