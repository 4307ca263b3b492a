package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.RateLimit;
import dev.switchboard.testkit.EmbeddedJetty;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * REST publishes over the per-principal rate limit get 429 with {@code Retry-After} and store
 * nothing, while other principals and other anonymous addresses go on. One permit an hour after a
 * burst of 5, so nothing refills while the test runs.
 */
@Timeout(120)
class RestRateLimitTest {
  private Hub hub;
  private EmbeddedJetty jetty;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    hub = Hub.builder()
        .authenticator(h -> h.bearerToken() == null ? Authenticator.ANONYMOUS : h::bearerToken)
        .publishRatePerPrincipal(RateLimit.of(1, Duration.ofHours(1)).withBurst(5))
        .build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).build()));
  }

  @AfterEach
  void stop() throws Exception {
    jetty.close();
    hub.shutdown();
  }

  private HttpResponse<String> post(String topic, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(jetty.url() + "/v1/topics/" + topic + "/messages"))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString("hello"));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private int stored(String topic) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
        URI.create(jetty.url() + "/v1/topics/" + topic + "/messages?limit=1000")).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body().split("\"id\"", -1).length - 1;
  }

  private static void assertTooManyRequests(int status, String retryAfter, String body) {
    assertEquals(429, status, body);
    long seconds = Long.parseLong(retryAfter);
    assertTrue(seconds > 3000 && seconds <= 3600, "Retry-After is the wait in whole seconds: " + seconds);
    assertTrue(body.contains("\"status\":429"), body);
    assertTrue(body.contains("\"error\":\"too_many_requests\""), body);
    assertTrue(body.contains("publish rate limit"), body);
  }

  @Test
  void floodingPrincipal_gets429WithRetryAfter_whileAnotherPrincipalPublishes() throws Exception {
    for (int i = 0; i < 5; i++) {
      assertEquals(201, post("alice-topic", "alice").statusCode(), "within the burst: " + i);
    }
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = post("alice-topic", "alice");
      assertTooManyRequests(r.statusCode(), r.headers().firstValue("Retry-After").orElse("missing"), r.body());
    }
    assertEquals(5, stored("alice-topic"), "refused publishes store nothing");
    for (int i = 0; i < 5; i++) {
      assertEquals(201, post("bob-topic", "bob").statusCode(), "bob has his own bucket: " + i);
    }
    assertEquals(20, hub.rateLimitedPublishes());
  }

  @Test
  void anonymousClients_areLimitedByAddress() throws Exception {
    for (int i = 0; i < 5; i++) {
      assertEquals(201, post("anon", null).statusCode());
    }
    HttpResponse<String> r = post("anon", null);
    assertTooManyRequests(r.statusCode(), r.headers().firstValue("Retry-After").orElse("missing"), r.body());
    // Another address on the loopback network is another anonymous client, with its own bucket.
    String response = rawPostFrom("127.0.0.2", "anon");
    assertTrue(response.startsWith("HTTP/1.1 201"), response);
    assertEquals(6, stored("anon"));
  }

  /** One POST over a socket bound to {@code localAddress}, the whole response as text. */
  private String rawPostFrom(String localAddress, String topic) throws Exception {
    try (Socket s = new Socket()) {
      s.bind(new InetSocketAddress(localAddress, 0));
      s.connect(new InetSocketAddress("127.0.0.1", jetty.port()), 10_000);
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/topics/" + topic + "/messages HTTP/1.1\r\nHost: 127.0.0.1:" + jetty.port()
          + "\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      return all.toString(StandardCharsets.UTF_8);
    }
  }
}
