package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.hub.OriginPolicy;
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

/** The REST and long-polling wire protocol of docs/protocol.md §2, byte for byte, with the JDK client. */
@org.junit.jupiter.api.Timeout(120)
class RestApiTest {
  private Hub hub;
  private EmbeddedJetty jetty;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    hub = Hub.builder().broker(new InMemoryBroker(5)).maxPayloadBytes(1024)
        .originPolicy(OriginPolicy.builder().allowOrigin("https://app.example").build()).build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api").build()));
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
    hub = Hub.builder().broker(new dev.switchboard.testkit.ForwardingBroker(real) {
      @Override
      public java.util.concurrent.CompletionStage<Message> publish(Message draft) {
        publishing.countDown();
        return pending;
      }
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
    assertError(other, 403, "forbidden_origin"); // more in OriginPolicyHttpTest
    assertTrue(other.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), "no CORS grant for other origins");
  }

  /** A payload that, pasted raw into a history page, makes REST readers see a second message. */
  private static final String FORGED = "1,\"time\":\"2024-01-01T00:00:00Z\"},{\"id\":\"forged-1\",\"topic\":\"prices\","
      + "\"contentType\":\"text/plain\",\"data\":\"pwned\"";

  @Test
  void publishRules_onRest_refuseForgedJsonBadTextAndBadMediaTypes_andHistoryStaysValidJson() throws Exception {
    assertError(post("prices", "application/json", FORGED), 400, "invalid_json");
    assertError(post("prices", "application/json", "{bad"), 400, "invalid_json");
    assertError(post("prices", "application/problem+json", "[1] [2]"), 400, "invalid_json");
    assertError(send(req("/v1/topics/prices/messages").header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[] {'a', (byte) 0xff}))), 400, "invalid_text");
    assertError(post("prices", "application/" + "x".repeat(244), "x"), 415, "unsupported_media_type");
    assertError(post("prices", "text/plain; charset", "x"), 415, "unsupported_media_type");
    assertError(post("prices", "application/json; charset=utf-16", "{}"), 415, "unsupported_charset");
    assertEquals(201, post("prices", "application/" + "x".repeat(243), "x").statusCode(), "255 characters are fine");
    assertEquals(201, post("prices", "application/json", "{\"price\":101}").statusCode());
    HttpResponse<String> h = send(req("/v1/topics/prices/messages").GET());
    MessageJson.Page page = MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8));
    assertEquals(2, page.messages().size(), h.body());
    assertTrue(page.messages().stream().noneMatch(m -> "forged-1".equals(m.id())), h.body());
  }

  @Test
  void formEncodedBody_isStoredVerbatim_andItsFieldsAreNeverParameters() throws Exception {
    HttpResponse<String> r = send(req("/v1/topics/quotes/messages?event=quote")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("price=101&event=evil")));
    assertEquals(201, r.statusCode(), r.body());
    HttpResponse<String> one = send(req("/v1/topics/quotes/messages/" + fields(r.body()).get("id")).GET());
    Map<String, String> m = fields(one.body());
    assertEquals("quote", m.get("event"), "the query's event, not the body's");
    assertEquals("application/x-www-form-urlencoded", m.get("contentType"));
    assertEquals("base64", m.get("encoding"));
    assertEquals("price=101&event=evil", new String(java.util.Base64.getDecoder().decode(m.get("data")), StandardCharsets.UTF_8));
    // Without a query event, a body field does not make one.
    HttpResponse<String> plain = send(req("/v1/topics/quotes/messages")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("event=evil")));
    assertEquals(201, plain.statusCode());
    assertEquals(null, fields(send(req("/v1/topics/quotes/messages/" + fields(plain.body()).get("id")).GET()).body()).get("event"));
    // Nor can a form body pose as history parameters on a POST, nor query parameters repeat.
    assertError(send(req("/v1/topics/quotes/messages?event=a&event=b").POST(HttpRequest.BodyPublishers.ofString("x"))),
        400, "invalid_event");
    assertError(send(req("/v1/topics/quotes/messages?limit=1&limit=2").GET()), 400, "invalid_limit");
    assertError(send(req("/v1/topics/quotes/messages?event=%E2%28").POST(HttpRequest.BodyPublishers.ofString("x"))),
        400, "invalid_query");
    // Query values are percent-decoded, '+' as a space.
    HttpResponse<String> decoded = send(req("/v1/topics/quotes/messages?event=ok%2Eone").POST(HttpRequest.BodyPublishers.ofString("x")));
    assertEquals(201, decoded.statusCode());
    assertEquals("ok.one", fields(send(req("/v1/topics/quotes/messages/" + fields(decoded.body()).get("id")).GET()).body()).get("event"));
    HttpResponse<String> plus = send(req("/v1/topics/quotes/messages?event=a+b").POST(HttpRequest.BodyPublishers.ofString("x")));
    assertError(plus, 400, "invalid_event");
    assertTrue(fields(plus.body()).get("message").contains("'a b'"), plus.body());
  }

  @Test
  void authenticator_seesQueryParametersOnly_neverFormFields() throws Exception {
    jetty.close();
    hub.shutdown();
    hub = Hub.builder().authenticator(h -> "good".equals(h.query("token")) ? () -> "u" : null).build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api").build()));
    assertError(send(req("/v1/topics/a/messages").header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("token=good"))), 401, "unauthenticated");
    assertEquals(201, send(req("/v1/topics/a/messages?token=good").POST(HttpRequest.BodyPublishers.ofString("x"))).statusCode());
  }

  @Test
  void after_wellFormedButNeverIssued_isAGap_malformedIs400() throws Exception {
    for (int i = 0; i < 3; i++) {
      post("gap", "text/plain", "m" + i);
    }
    for (String foreign : List.of("garbage", "zzzz-1", "0-0", "99999999999-1")) {
      HttpResponse<String> h = send(req("/v1/topics/gap/messages?after=" + foreign + "&wait=5").GET());
      assertEquals(200, h.statusCode(), foreign + ": " + h.body());
      MessageJson.Page page = MessageJson.readPage(h.body().getBytes(StandardCharsets.UTF_8));
      assertEquals(false, page.recovered(), foreign);
      assertEquals(List.of("m0", "m1", "m2"), page.messages().stream().map(Message::text).collect(java.util.stream.Collectors.toList()));
      assertEquals(page.messages().get(2).id(), page.next());
    }
    assertError(send(req("/v1/topics/gap/messages?after=").GET()), 400, "invalid_id");
    assertError(send(req("/v1/topics/gap/messages?after=" + "a".repeat(129)).GET()), 400, "invalid_id");
    assertError(send(req("/v1/topics/gap/messages?after=%C3%A9").GET()), 400, "invalid_id");
  }

  @Test
  void staleCursorOnAnEmptyTopic_isAnsweredOnceWithNextNull_andAPollWithoutCursorThenWaits() throws Exception {
    HttpResponse<String> h = send(req("/v1/topics/void/messages?after=old1-7&wait=5").GET());
    assertEquals(200, h.statusCode());
    assertEquals("{\"messages\":[],\"next\":null,\"recovered\":false}", h.body());
    // The cursor the answer gave (none) is one the server waits on.
    CompletableFuture<HttpResponse<String>> waiting =
        http.sendAsync(req("/v1/topics/void/messages?wait=30").GET().build(), HttpResponse.BodyHandlers.ofString());
    awaitTrue("the poll waits", () -> hub.subscriberCount() == 1);
    assertFalse(waiting.isDone(), "the poll without a cursor waits");
    hub.publish("void", "first").toCompletableFuture().get();
    MessageJson.Page page = MessageJson.readPage(waiting.get(30, java.util.concurrent.TimeUnit.SECONDS).body()
        .getBytes(StandardCharsets.UTF_8));
    assertEquals("first", page.messages().get(0).text());
    assertTrue(page.recovered());
  }

  @Test
  void pastTheConnectionLimit_aWaitingPollGets503WithRetryAfterAndAJsonBody_publishesAndReadsStillWork() throws Exception {
    jetty.close();
    hub.shutdown();
    hub = Hub.builder().maxConnections(1).build();
    jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api").build()));
    CompletableFuture<HttpResponse<String>> poll =
        http.sendAsync(req("/v1/topics/full/messages?wait=30").GET().build(), HttpResponse.BodyHandlers.ofString());
    awaitTrue("the poll waits", () -> hub.subscriberCount() == 1);
    HttpResponse<String> second = send(req("/v1/topics/full/messages?wait=30").GET());
    assertError(second, 503, "too_many_connections");
    assertEquals("1", second.headers().firstValue("Retry-After").orElseThrow());
    // One-shot requests hold no connection: a hub full of subscribers still takes publishes and reads.
    assertEquals(200, send(req("/v1/topics/full/messages").GET()).statusCode());
    assertEquals(201, post("full", "text/plain", "wake").statusCode());
    assertEquals(200, poll.get(30, java.util.concurrent.TimeUnit.SECONDS).statusCode());
    awaitTrue("the poll released its slot", () -> hub.subscriberCount() == 0);
    assertEquals(204, send(req("/v1/topics/full/messages?after=" + hub.broker().history("full", null, 1)
        .toCompletableFuture().get().latestId() + "&wait=1").GET()).statusCode(), "admitted again once the poll ended");
  }

  private void awaitTrue(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(5);
    }
  }

  @Test
  void vanishedLongPollClients_areCleanedUpQuietly() throws Exception {
    java.io.PrintStream originalErr = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      for (int round = 0; round < 6; round++) {
        String topic = "gone" + round;
        List<java.net.Socket> sockets = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
          java.net.Socket s = new java.net.Socket("127.0.0.1", jetty.port());
          s.getOutputStream().write(("GET /api/v1/topics/" + topic + "/messages?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          s.getOutputStream().flush();
          sockets.add(s);
        }
        awaitTrue("20 polls wait", () -> hub.subscriberCount() == 20);
        for (java.net.Socket s : sockets) {
          s.setSoLinger(true, 0); // a reset, as from a client that vanished
          s.close();
        }
        // The message wakes every poll, to write to a socket that is gone (while the container may
        // be finding out at the same moment).
        hub.publish(topic, "after they left").toCompletableFuture().get();
        awaitTrue("every vanished poll is cleaned up", () -> hub.subscriberCount() == 0);
      }
      assertEquals(201, post("gone0", "text/plain", "server carries on").statusCode());
    } finally {
      System.setErr(originalErr);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("WARN") || log.contains("ERROR") || log.contains("Exception"), log);
  }

  @Test
  void serverStoppingWhileLongPollsAreAnswered_logsNothingAboveDebug() throws Exception {
    java.io.PrintStream originalErr = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      for (int round = 0; round < 5; round++) {
        List<CompletableFuture<HttpResponse<String>>> polls = new java.util.ArrayList<>();
        for (int i = 0; i < 30; i++) {
          polls.add(http.sendAsync(req("/v1/topics/stop" + i + "/messages?wait=30").GET().build(),
              HttpResponse.BodyHandlers.ofString()));
        }
        awaitTrue("30 polls wait", () -> hub.subscriberCount() == 30);
        // The container ends the exchanges while the hub answers them: the two race.
        CompletableFuture<Void> stopping = CompletableFuture.runAsync(() -> {
          try {
            jetty.close();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        hub.disconnectAll(Status.UNAVAILABLE, "going away");
        stopping.get(30, java.util.concurrent.TimeUnit.SECONDS);
        for (CompletableFuture<HttpResponse<String>> p : polls) {
          try {
            p.get(30, java.util.concurrent.TimeUnit.SECONDS); // a 503, or cut off by the stop
          } catch (java.util.concurrent.ExecutionException expected) {
            // the connection closed first
          }
        }
        awaitTrue("no poll is left", () -> hub.subscriberCount() == 0);
        Thread.sleep(200); // let the container's last jobs run (and fail, if they would)
        jetty = EmbeddedJetty.start(0, List.of(HttpTransportFilter.builder(hub).basePath("/api").build()));
      }
    } finally {
      System.setErr(originalErr);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("WARN") || log.contains("ERROR") || log.contains("Exception"), log);
  }

  @Test
  void otherPaths_passDownTheFilterChain() throws Exception {
    assertEquals(404, send(req("/v1/topics/orders/unknown").GET()).statusCode());
    assertEquals(404, send(req("/elsewhere").GET()).statusCode());
  }
}
