package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.IdempotentPublishes;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The REST and long-polling wire protocol of DESIGN.md §3, byte for byte, with the JDK client. */
class RestApiTest {
  private Hub hub;
  private EmbeddedJetty jetty;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    hub = Hub.builder().broker(new InMemoryBroker(5)).maxPayloadBytes(1024).build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api")
        .allowOrigin("https://app.example").build()));
  }

  @AfterEach
  void stop() throws Exception {
    jetty.close();
    hub.shutdown();
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpRequest.Builder req(String pathAndQuery) {
    return HttpRequest.newBuilder(URI.create(jetty.url() + "/api" + pathAndQuery)).timeout(Duration.ofSeconds(30));
  }

  private HttpResponse<String> post(String topic, String contentType, String body, String... headers)
      throws Exception {
    HttpRequest.Builder b = req("/v1/topics/" + topic + "/messages")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b);
  }

  /** Top-level string and number fields of a JSON object. */
  private static Map<String, String> fields(String json) throws IOException {
    Map<String, String> out = new HashMap<>();
    try (JsonParser p = MessageJson.JSON.createParser(json)) {
      p.nextToken();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (t.isScalarValue()) {
          out.put(name, p.getValueAsString());
        } else {
          p.skipChildren();
        }
      }
    }
    return out;
  }

  private static void assertError(HttpResponse<String> r, int status, String code) throws IOException {
    assertEquals(status, r.statusCode(), r.body());
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElse("").split(";")[0]);
    Map<String, String> f = fields(r.body());
    assertEquals(String.valueOf(status), f.get("status"));
    assertEquals(code, f.get("error"));
    assertTrue(f.get("message") != null && !f.get("message").isBlank(), "error message present");
  }

  @Test
  void publish_returns201WithLocationAndIdTopicTime() throws Exception {
    HttpResponse<String> r = post("orders", "application/json", "{\"total\": 12.5}");
    assertEquals(201, r.statusCode(), r.body());
    Map<String, String> f = fields(r.body());
    assertNotNull(f.get("id"));
    assertEquals("orders", f.get("topic"));
    assertNotNull(java.time.Instant.parse(f.get("time")));
    assertEquals("/api/v1/topics/orders/messages/" + f.get("id"), r.headers().firstValue("Location").orElseThrow());

    HttpResponse<String> one = send(req("/v1/topics/orders/messages/" + f.get("id")).GET());
    assertEquals(200, one.statusCode());
    assertEquals("{\"id\":\"" + f.get("id") + "\",\"topic\":\"orders\",\"contentType\":\"application/json\","
        + "\"data\":{\"total\": 12.5},\"time\":\"" + f.get("time") + "\"}", one.body());
  }

  @Test
  void history_encodesTextJsonAndBinaryAsTheDesignSays() throws Exception {
    post("mix", "text/plain; charset=utf-8", "héllo");
    post("mix", "application/json", "[1,2]");
    HttpResponse<String> bin = send(req("/v1/topics/mix/messages?event=blob")
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[] {0, (byte) 0xff})));
    assertEquals(201, bin.statusCode());
    HttpResponse<String> h = send(req("/v1/topics/mix/messages").GET());
    assertEquals(200, h.statusCode());
    MessageJson.Page page = MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8));
    assertEquals(3, page.messages().size());
    assertTrue(h.body().contains("\"data\":\"héllo\""), h.body());
    assertTrue(h.body().contains("\"data\":[1,2]"), h.body());
    assertTrue(h.body().contains("\"event\":\"blob\",\"contentType\":\"application/octet-stream\",\"data\":\"AP8=\",\"encoding\":\"base64\""), h.body());
    assertTrue(page.recovered());
    assertEquals(page.messages().get(2).id(), page.next());
  }

  @Test
  void badInput_getsTheRightStatusAndAJsonErrorNamingTheProblem() throws Exception {
    assertError(post("orders", "application/json", "{\"a\": "), 400, "invalid_json");
    assertError(post("orders", "application/json", "{} {}"), 400, "invalid_json");
    assertError(post("orders", "application/json", ""), 400, "invalid_json");
    assertError(post("bad%20topic", "text/plain", "x"), 400, "invalid_topic");
    assertError(post("x".repeat(201), "text/plain", "x"), 400, "invalid_topic");
    assertError(send(req("/v1/topics/orders/messages?event=bad%0Aevent").POST(HttpRequest.BodyPublishers.ofString("x"))), 400, "invalid_event");
    assertError(post("orders", "text/plain; charset=iso-8859-1", "x"), 415, "unsupported_charset");
    assertError(post("orders", "garbage", "x"), 415, "unsupported_media_type");
    assertError(post("orders", "text/plain", "x".repeat(1025)), 413, "payload_too_large");
    assertError(send(req("/v1/topics/orders/messages?limit=-1").GET()), 400, "invalid_limit");
    assertError(send(req("/v1/topics/orders/messages?limit=1001").GET()), 400, "invalid_limit");
    assertError(send(req("/v1/topics/orders/messages?wait=abc").GET()), 400, "invalid_wait");
    assertError(send(req("/v1/topics/orders/messages?wait=999").GET()), 400, "invalid_wait");
    assertError(send(req("/v1/topics/orders/messages?after=has%20space").GET()), 400, "invalid_id");
    assertError(send(req("/v1/topics/orders/messages/nope-1").GET()), 404, "not_found");
    HttpResponse<String> put = send(req("/v1/topics/orders/messages").PUT(HttpRequest.BodyPublishers.ofString("x")));
    assertError(put, 405, "method_not_allowed");
    assertEquals("GET, HEAD, POST, OPTIONS", put.headers().firstValue("Allow").orElseThrow());
    assertError(post("orders", "text/plain", "x", "Idempotency-Key", "has space"), 400, "invalid_idempotency_key");
    // Nothing above was stored.
    HttpResponse<String> h = send(req("/v1/topics/orders/messages").GET());
    assertEquals(0, MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8)).messages().size());
  }

  @Test
  void payloadOverTheLimitWithoutContentLength_is413() throws Exception {
    // A streamed body has no Content-Length: the limit is enforced while reading.
    HttpRequest.BodyPublisher chunked = HttpRequest.BodyPublishers.ofInputStream(
        () -> new java.io.ByteArrayInputStream(new byte[5000]));
    assertError(send(req("/v1/topics/big/messages").POST(chunked)), 413, "payload_too_large");
  }

  @Test
  void idempotencyKey_replaysTheFirstResponse_andRefusesADifferentBody() throws Exception {
    HttpResponse<String> first = post("pay", "application/json", "{\"n\":1}", "Idempotency-Key", "k-1");
    HttpResponse<String> again = post("pay", "application/json", "{\"n\":1}", "Idempotency-Key", "k-1");
    assertEquals(201, again.statusCode());
    assertEquals(first.body(), again.body());
    assertEquals(first.headers().firstValue("Location"), again.headers().firstValue("Location"));
    assertError(post("pay", "application/json", "{\"n\":2}", "Idempotency-Key", "k-1"), 422, "idempotency_key_reused");
    HttpResponse<String> other = post("pay", "application/json", "{\"n\":1}", "Idempotency-Key", "k-2");
    assertNotEquals(fields(first.body()).get("id"), fields(other.body()).get("id"));
    HttpResponse<String> h = send(req("/v1/topics/pay/messages").GET());
    assertEquals(2, MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8)).messages().size(),
        "the replay stored no second message");
  }

  @Test
  void idempotencyKey_whileTheFirstIsInFlight_is409() throws Exception {
    IdempotentPublishes cache = new IdempotentPublishes(10, Duration.ofMinutes(1), java.time.Clock.systemUTC());
    java.security.Principal p = () -> "p";
    CompletableFuture<Message> first = new CompletableFuture<>();
    assertTrue(!cache.publish(p, Message.text("t", "x"), "k", d -> first).replayed());
    SwitchboardException inFlight = org.junit.jupiter.api.Assertions.assertThrows(SwitchboardException.class,
        () -> cache.publish(p, Message.text("t", "x"), "k", d -> first));
    assertEquals(Status.CONFLICT, inFlight.status(), "a second publish sees the first still in flight");
    first.complete(Message.text("t", "x").toBuilder().id("1-1").build());
    IdempotentPublishes.Outcome again = cache.publish(p, Message.text("t", "x"), "k", d -> {
      throw new AssertionError("a replay must not publish");
    });
    assertTrue(again.replayed());
    assertEquals("1-1", again.stored().toCompletableFuture().join().id());
    // And over HTTP, with a broker that has not answered yet:
    jetty.close();
    hub.shutdown();
    CompletableFuture<Message> pending = new CompletableFuture<>();
    java.util.concurrent.CountDownLatch publishing = new java.util.concurrent.CountDownLatch(1);
    InMemoryBroker real = new InMemoryBroker();
    hub = Hub.builder().broker(new dev.switchboard.hub.Broker() {
      @Override
      public java.util.concurrent.CompletionStage<Message> publish(Message draft) {
        publishing.countDown();
        return pending;
      }

      @Override
      public AutoCloseable subscribe(String topic, Listener listener) {
        return real.subscribe(topic, listener);
      }

      @Override
      public java.util.concurrent.CompletionStage<History> history(String topic, String afterId, int limit) {
        return real.history(topic, afterId, limit);
      }

      @Override
      public java.util.concurrent.CompletionStage<java.util.Optional<Message>> get(String topic, String id) {
        return real.get(topic, id);
      }

      @Override
      public void close() {}
    }).build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api").build()));
    CompletableFuture<HttpResponse<String>> firstReq = http.sendAsync(req("/v1/topics/slow/messages")
        .header("Idempotency-Key", "same").POST(HttpRequest.BodyPublishers.ofString("x")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertTrue(publishing.await(30, java.util.concurrent.TimeUnit.SECONDS), "first request reached the broker");
    assertError(post("slow", null, "x", "Idempotency-Key", "same"), 409, "idempotency_key_in_flight");
    pending.complete(Message.builder("slow").id("e-1").time(java.time.Instant.now()).payload(new byte[] {'x'}).build());
    assertEquals(201, firstReq.get().statusCode());
  }

  @Test
  void longPoll_waitsForTheNextMessage_orAnswers204() throws Exception {
    HttpResponse<String> cursor = send(req("/v1/topics/lp/messages?limit=0").GET());
    assertEquals(200, cursor.statusCode());
    assertTrue(cursor.body().contains("\"next\":null"), cursor.body());
    HttpResponse<String> empty = send(req("/v1/topics/lp/messages?wait=1").GET());
    assertEquals(204, empty.statusCode());

    CompletableFuture<HttpResponse<String>> waiting =
        http.sendAsync(req("/v1/topics/lp/messages?wait=30").GET().build(), HttpResponse.BodyHandlers.ofString());
    while (hub.subscriberCount() == 0) {
      Thread.sleep(5);
    }
    post("lp", "text/plain", "wake up");
    HttpResponse<String> woke = waiting.get();
    assertEquals(200, woke.statusCode());
    MessageJson.Page page = MessageJson.readPage(woke.body().getBytes(StandardCharsets.UTF_8));
    assertEquals("wake up", page.messages().get(0).text());
    assertEquals(0, hub.subscriberCount(), "the waiter is gone");
  }

  @Test
  void resumeFromEvictedId_isReportedAsNotRecovered() throws Exception {
    String first = fields(post("ev", "text/plain", "0").body()).get("id");
    for (int i = 1; i <= 10; i++) {
      post("ev", "text/plain", Integer.toString(i));
    }
    HttpResponse<String> h = send(req("/v1/topics/ev/messages?after=" + first + "&wait=5").GET());
    assertEquals(200, h.statusCode());
    MessageJson.Page page = MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8));
    assertEquals(false, page.recovered());
    assertEquals(List.of("6", "7", "8", "9", "10"),
        page.messages().stream().map(Message::text).collect(java.util.stream.Collectors.toList()));
  }

  @Test
  void shutdown_answers503WithRetryAfter() throws Exception {
    hub.shutdown();
    HttpResponse<String> r = post("x", "text/plain", "x");
    assertError(r, 503, "unavailable");
    assertEquals("1", r.headers().firstValue("Retry-After").orElseThrow());
  }

  @Test
  void clientThatDisconnectsMidRequest_storesNothing_andTheServerCarriesOn() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", jetty.port())) {
        s.getOutputStream().write(("POST /api/v1/topics/cut/messages HTTP/1.1\r\nHost: x\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 500\r\n\r\nonly part of the bo")
            .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
      }
    }
    HttpResponse<String> h = send(req("/v1/topics/cut/messages").GET());
    assertEquals(200, h.statusCode());
    assertEquals(0, MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8)).messages().size(),
        "no truncated body was published");
    assertEquals(201, post("cut", "text/plain", "whole").statusCode());
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void cors_allowsConfiguredOriginsOnly_andAnswersPreflight() throws Exception {
    HttpResponse<String> pre = send(req("/v1/topics/c/messages").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://app.example").header("Access-Control-Request-Method", "POST"));
    assertEquals(204, pre.statusCode());
    assertEquals("https://app.example", pre.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
    assertTrue(pre.headers().firstValue("Access-Control-Allow-Headers").orElse("").contains("Idempotency-Key"));
    HttpResponse<String> ok = post("c", "text/plain", "x", "Origin", "https://app.example");
    assertEquals(201, ok.statusCode());
    assertEquals("https://app.example", ok.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
    assertTrue(ok.headers().firstValue("Access-Control-Expose-Headers").orElse("").contains("Location"));
    HttpResponse<String> other = post("c", "text/plain", "x", "Origin", "https://evil.example");
    assertTrue(other.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), "no CORS grant for other origins");
  }

  @Test
  void otherPaths_passDownTheFilterChain() throws Exception {
    assertEquals(404, send(req("/v1/topics/orders/unknown").GET()).statusCode());
    assertEquals(404, send(req("/elsewhere").GET()).statusCode());
  }
}
