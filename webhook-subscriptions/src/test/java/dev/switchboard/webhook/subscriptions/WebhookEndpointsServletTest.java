package dev.switchboard.webhook.subscriptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Message;
import dev.switchboard.webhook.EndpointLimits;
import dev.switchboard.webhook.TargetPolicy;
import dev.switchboard.webhook.WebhookVerifier;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.Principal;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The management API over real HTTP (Jetty), with bearer tokens for two principals. */
@Timeout(60)
class WebhookEndpointsServletTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private Receiver rx;
  private InMemoryBroker broker;
  private WebhookSubscriptions subs;
  private Server server;
  private String base;

  @BeforeEach
  void setUp() throws Exception {
    rx = new Receiver();
    broker = new InMemoryBroker();
    // Loopback is allowed (the receiver), every other non-public range refused.
    subs = WebhookSubscriptions.builder(broker, EndpointStore.inMemory())
        .sender(b -> b.targets(TargetPolicy.builder().allowRange("127.0.0.0/8").build()))
        .limits(EndpointLimits.of(2, 3))
        .build().start();
    Principal alice = () -> "alice";
    Principal bob = () -> "bob";
    Authenticator tokens = Authenticator.bearer(t -> t.equals("alice-token") ? alice : t.equals("bob-token") ? bob : null);
    server = new Server();
    ServerConnector c = new ServerConnector(server);
    c.setHost("127.0.0.1");
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ServletHolder h = new ServletHolder(new WebhookEndpointsServlet(subs, tokens));
    ctx.addServlet(h, "/v1/webhooks/endpoints");
    ctx.addServlet(h, "/v1/webhooks/endpoints/*");
    server.setHandler(ctx);
    server.start();
    base = "http://127.0.0.1:" + c.getLocalPort() + "/v1/webhooks/endpoints";
  }

  @AfterEach
  void tearDown() throws Exception {
    subs.close();
    server.stop();
    rx.close();
    broker.close();
  }

  private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]*)\"").matcher(json);
    if (!m.find()) {
      throw new AssertionError("no " + name + " in " + json);
    }
    return m.group(1);
  }

  @Test
  void registerReceiveManageAndDelete() throws Exception {
    assertEquals(401, call("GET", "", null, null).statusCode());
    assertEquals(401, call("GET", "", "wrong", null).statusCode());

    HttpResponse<String> created = call("POST", "", "alice-token",
        "{\"url\":\"" + rx.url + "\",\"topics\":[\"orders\"],\"metadata\":{\"team\":\"billing\"}}");
    assertEquals(201, created.statusCode(), created.body());
    String id = field(created.body(), "id");
    String secret = field(created.body(), "secret");
    assertTrue(created.headers().firstValue("Location").orElseThrow().endsWith("/v1/webhooks/endpoints/" + id));

    String msg = broker.publish(Message.builder("orders").json("{\"total\":3}").build()).toCompletableFuture().join().id();
    Receiver.Request r = rx.take();
    assertEquals(msg, WebhookVerifier.standardWebhooks(secret).build().verify(r::header, r.body()).id());

    HttpResponse<String> list = call("GET", "", "alice-token", null);
    assertTrue(list.body().contains(id) && !list.body().contains(secret), "listed, secret never shown again: " + list.body());
    assertTrue(call("GET", "", "bob-token", null).body().contains("\"endpoints\":[]"));
    assertEquals(404, call("GET", "/" + id, "bob-token", null).statusCode(), "another principal's endpoint is not found");
    HttpResponse<String> one = call("GET", "/" + id, "alice-token", null);
    assertTrue(one.body().contains("\"orders\":\"" + msg + "\""), "cursor shown: " + one.body());

    HttpResponse<String> attempts = call("GET", "/" + id + "/attempts?limit=5", "alice-token", null);
    assertTrue(attempts.body().contains("\"deliveryId\":\"" + msg + "\"") && attempts.body().contains("\"outcome\":\"delivered\""),
        attempts.body());
    assertEquals(400, call("GET", "/" + id + "/attempts?limit=0", "alice-token", null).statusCode());

    HttpResponse<String> patched = call("PATCH", "/" + id, "alice-token", "{\"topics\":[\"orders\",\"refunds\"],\"rateLimit\":50}");
    assertEquals(200, patched.statusCode(), patched.body());
    assertTrue(patched.body().contains("\"refunds\"") && patched.body().contains("\"rateLimit\":50"), patched.body());

    HttpResponse<String> rotated = call("POST", "/" + id + "/rotate", "alice-token", "{\"overlapSeconds\":3600}");
    assertEquals(200, rotated.statusCode(), rotated.body());
    String newSecret = field(rotated.body(), "secret");

    HttpResponse<String> test = call("POST", "/" + id + "/test", "alice-token", null);
    assertEquals(202, test.statusCode(), test.body());
    Receiver.Request t = rx.take();
    assertEquals(field(test.body(), "deliveryId"), t.header("webhook-id"));
    WebhookVerifier.standardWebhooks(newSecret).build().verify(t::header, t.body());
    WebhookVerifier.standardWebhooks(secret).build().verify(t::header, t.body());

    HttpResponse<String> replay = call("POST", "/" + id + "/replay", "alice-token", "{\"topic\":\"orders\",\"afterId\":\"" + "0-0" + "\"}");
    assertEquals(202, replay.statusCode(), replay.body());
    Receiver.Request again = rx.take(); // 0-0 is not an id of this broker: a gap, then history
    assertTrue(again.text().contains("history_gap"), again.text());
    assertEquals(msg, rx.take().header("webhook-id"));

    HttpResponse<String> disabled = call("PATCH", "/" + id, "alice-token", "{\"enabled\":false}");
    assertTrue(disabled.body().contains("\"state\":\"disabled\"") && disabled.body().contains("disabled by its owner"), disabled.body());
    assertEquals(409, call("POST", "/" + id + "/test", "alice-token", null).statusCode());

    assertEquals(204, call("DELETE", "/" + id, "alice-token", null).statusCode());
    assertEquals(404, call("GET", "/" + id, "alice-token", null).statusCode());
  }

  @Test
  void badRegistrationsAreRefusedWithACode() throws Exception {
    String url = "\"url\":\"" + rx.url + "\"";
    assertError(call("POST", "", "alice-token", "{\"url\":\"http://10.0.0.1/x\",\"topics\":[\"t\"]}"), 400, "forbidden_target");
    assertError(call("POST", "", "alice-token", "{\"url\":\"gopher://x\",\"topics\":[\"t\"]}"), 400, "invalid_url");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"a\",\"b\",\"c\",\"d\"]}"), 400, "too_many_topics");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"a b\"]}"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"],\"colour\":1}"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":\"t\"}"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"],\"maxInFlight\":0}"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"],\"scheme\":\"md5\"}"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{not json"), 400, "invalid_endpoint");
    assertError(call("POST", "", "alice-token", "{\"x\":\"" + "y".repeat(70_000) + "\"}"), 413, "too_large");
    assertEquals(201, call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"],\"scheme\":\"github\"}").statusCode());
    assertEquals(201, call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"],\"scheme\":\"stripe\"}").statusCode());
    assertError(call("POST", "", "alice-token", "{" + url + ",\"topics\":[\"t\"]}"), 400, "too_many_endpoints");
    assertError(call("DELETE", "", "alice-token", null), 405, "method_not_allowed");
    assertError(call("GET", "/nope", "alice-token", null), 404, "not_found");
  }

  private static void assertError(HttpResponse<String> r, int status, String code) {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"error\":\"" + code + "\""), r.body());
  }
}
