package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.RawHttp;
import dev.switchboard.testkit.TransportContractTest;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The origin policy on SSE, on Jetty, Tomcat and Undertow: a Host that is not allowed (DNS
 * rebinding would let the page read the stream) is refused with 403 before a stream opens; an unsafe
 * method from another origin is refused as such (403), before the 405 it would otherwise get.
 */
@Timeout(120)
class SseOriginPolicyTest {
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private Hub hub;
  private TransportContractTest.Server server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private static void assertRefused(int status, String error, RawHttp.Response r) {
    assertEquals(status, r.status(), r.statusLine() + " " + r.body());
    assertTrue(r.body().startsWith("{\"status\":" + status + ",\"error\":\"" + error + "\",\"message\":\""), r.body());
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void streamForAHostNotAllowed_is403_andAnAllowedHostStreams(EmbeddedContainer container) throws Exception {
    hub = Hub.builder().originPolicy(OriginPolicy.builder().allowHost("127.0.0.1").build()).build();
    server = container.start(0, List.of(new SseTransportFilter(hub)));
    String evilHost = "evil.example:" + server.port();
    assertRefused(403, "forbidden_host", RawHttp.exchange(server.port(), "GET /v1/topics/t/events HTTP/1.1\r\n"
        + "Host: " + evilHost + "\r\nOrigin: http://" + evilHost + "\r\nAccept: text/event-stream\r\n"
        + "Connection: close\r\n", null));
    assertEquals(0, hub.connectionCount(), "no stream was opened");

    HttpResponse<InputStream> ok = http.send(HttpRequest.newBuilder(
        URI.create(server.url() + "/v1/topics/t/events")).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream body = ok.body()) {
      assertEquals(200, ok.statusCode());
      assertEquals("text/event-stream", ok.headers().firstValue("Content-Type").orElse("").split(";")[0]);
    }
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void unsafeMethodFromAnotherOrigin_is403_fromNoOriginIs405(EmbeddedContainer container) throws Exception {
    hub = Hub.builder().build();
    server = container.start(0, List.of(new SseTransportFilter(hub)));
    String self = "127.0.0.1:" + server.port();
    assertRefused(403, "forbidden_origin", RawHttp.exchange(server.port(), "POST /v1/topics/t/events HTTP/1.1\r\n"
        + "Host: " + self + "\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n"
        + "Connection: close\r\n", "x"));
    assertRefused(405, "method_not_allowed", RawHttp.exchange(server.port(), "POST /v1/topics/t/events HTTP/1.1\r\n"
        + "Host: " + self + "\r\nContent-Type: text/plain\r\nConnection: close\r\n", "x"));
  }
}
