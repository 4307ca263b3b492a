package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.RawHttp;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.internal.MessageJson;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The origin policy on REST and long polling, on Jetty, Tomcat and Undertow: a cross-origin unsafe
 * request (CSRF: a "simple" text/plain POST needs no preflight) is refused with 403 before it acts;
 * same-origin, allowed and Origin-less requests pass; a Host that is not allowed (DNS rebinding) is
 * refused on every request.
 */
@Timeout(120)
class OriginPolicyHttpTest {
  private static final String EVIL = "http://evil.example";

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private Hub hub;
  private TransportContractTest.Server server;

  private void start(EmbeddedContainer container, Consumer<OriginPolicy.Builder> policy) throws Exception {
    OriginPolicy.Builder p = OriginPolicy.builder();
    policy.accept(p);
    hub = Hub.builder().broker(new InMemoryBroker(100)).originPolicy(p.build()).build();
    server = container.start(0, List.of(new HttpTransportFilter(hub)));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private HttpResponse<String> send(String method, String url, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private String messages(String topic) {
    return server.url() + "/v1/topics/" + topic + "/messages";
  }

  private int stored(String topic) throws Exception {
    HttpResponse<String> h = send("GET", messages(topic), null);
    assertEquals(200, h.statusCode(), h.body());
    return MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8)).messages().size();
  }

  private static void assertRefused(int status, String error, int actualStatus, String body) {
    assertEquals(status, actualStatus, body);
    assertTrue(body.startsWith("{\"status\":" + status + ",\"error\":\"" + error + "\",\"message\":\""), body);
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void crossOriginUnsafeRequests_are403_andPublishNothing(EmbeddedContainer container) throws Exception {
    start(container, p -> p.allowOrigin("https://app.example"));
    HttpResponse<String> r = send("POST", messages("csrf"), "pwned", "Content-Type", "text/plain", "Origin", EVIL);
    assertRefused(403, "forbidden_origin", r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), r.headers().toString());
    // Same host and port, other scheme: another origin.
    r = send("POST", messages("csrf"), "pwned", "Content-Type", "text/plain",
        "Origin", "https://127.0.0.1:" + server.port());
    assertRefused(403, "forbidden_origin", r.statusCode(), r.body());
    r = send("POST", messages("csrf"), "pwned", "Content-Type", "text/plain", "Origin", "null");
    assertRefused(403, "forbidden_origin", r.statusCode(), r.body());
    for (String method : List.of("PUT", "PATCH", "DELETE")) {
      r = send(method, messages("csrf"), "pwned", "Content-Type", "text/plain", "Origin", EVIL);
      assertRefused(403, "forbidden_origin", r.statusCode(), r.body());
    }
    assertEquals(0, stored("csrf"), "no refused request published anything");

    // Reads stay open: CORS withholds the answer from the page, and a GET changes nothing.
    r = send("GET", messages("csrf"), null, "Origin", EVIL);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), r.headers().toString());
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void sameOriginAllowedOriginAndNoOrigin_publish_andPreflightIsAnsweredAsBefore(EmbeddedContainer container)
      throws Exception {
    start(container, p -> p.allowOrigin("https://app.example"));
    HttpResponse<String> r = send("POST", messages("ok"), "same", "Content-Type", "text/plain",
        "Origin", "http://127.0.0.1:" + server.port());
    assertEquals(201, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), "same origin needs no CORS");
    r = send("POST", messages("ok"), "allowed", "Content-Type", "text/plain", "Origin", "https://app.example");
    assertEquals(201, r.statusCode(), r.body());
    assertEquals("https://app.example", r.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
    r = send("POST", messages("ok"), "server to server", "Content-Type", "text/plain");
    assertEquals(201, r.statusCode(), r.body());
    assertEquals(3, stored("ok"));

    r = send("OPTIONS", messages("ok"), null, "Origin", "https://app.example",
        "Access-Control-Request-Method", "POST");
    assertEquals(204, r.statusCode());
    assertEquals("https://app.example", r.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
    r = send("OPTIONS", messages("ok"), null, "Origin", EVIL, "Access-Control-Request-Method", "POST");
    assertEquals(204, r.statusCode());
    assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), "no grant: the browser stops");
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void hostNotAllowed_is403OnEveryRequest_dnsRebindingPublishesNothing(EmbeddedContainer container)
      throws Exception {
    start(container, p -> p.allowHost("127.0.0.1"));
    String evilHost = "evil.example:" + server.port();
    // A rebound name: Origin and Host agree, so only the Host check stops it.
    RawHttp.Response raw = RawHttp.exchange(server.port(), "POST /v1/topics/dns/messages HTTP/1.1\r\n"
        + "Host: " + evilHost + "\r\nOrigin: http://" + evilHost + "\r\nContent-Type: text/plain\r\n"
        + "Connection: close\r\n", "pwned");
    assertRefused(403, "forbidden_host", raw.status(), raw.body());
    raw = RawHttp.exchange(server.port(), "GET /v1/topics/dns/messages HTTP/1.1\r\nHost: " + evilHost
        + "\r\nConnection: close\r\n", null);
    assertRefused(403, "forbidden_host", raw.status(), raw.body());
    HttpResponse<String> r = send("GET", "http://localhost:" + server.port() + "/v1/topics/dns/messages", null);
    assertRefused(403, "forbidden_host", r.statusCode(), r.body());
    // Over h2c too, where the host is the :authority.
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> h2r = h2.send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + server.port() + "/v1/topics/dns/messages")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertRefused(403, "forbidden_host", h2r.statusCode(), h2r.body());
    h2r = h2.send(HttpRequest.newBuilder(URI.create(messages("dns"))).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, h2r.statusCode(), h2r.body());

    raw = RawHttp.exchange(server.port(), "POST /v1/topics/dns/messages HTTP/1.1\r\nHost: 127.0.0.1:"
        + server.port() + "\r\nContent-Type: text/plain\r\nConnection: close\r\n", "fine");
    assertEquals(201, raw.status(), raw.body());
    assertEquals(1, stored("dns"), "only the allowed host's publish was stored");
  }
}
