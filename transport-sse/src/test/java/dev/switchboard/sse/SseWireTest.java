package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The SSE wire format of docs/protocol.md §3 as bytes on the wire, read with the JDK client. */
@org.junit.jupiter.api.Timeout(60)
class SseWireTest {
  private Hub hub;
  private EmbeddedJetty jetty;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final List<RawStream> raws = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    startWith(Hub.builder().broker(new InMemoryBroker(5)).build());
  }

  @SuppressWarnings("deprecation") // the filter's own allowOrigin still adds to the hub's policy
  private void startWith(Hub h) throws Exception {
    if (jetty != null) {
      jetty.close();
      hub.shutdown();
    }
    hub = h;
    SseTransportFilter sse = SseTransportFilter.builder(hub).heartbeat(Duration.ofMillis(100))
        .retry(Duration.ofMillis(1234)).allowOrigin("https://app.example").build();
    jetty = EmbeddedJetty.start(0, List.of(sse, new HttpTransportFilter(hub)));
  }

  @AfterEach
  void stop() throws Exception {
    raws.forEach(RawStream::close);
    jetty.close();
    hub.shutdown();
  }

  /** Reads a raw event stream into a string on a background thread. */
  private final class RawStream implements AutoCloseable {
    final HttpResponse<InputStream> response;
    final StringBuffer text = new StringBuffer();
    final Thread reader;

    RawStream(HttpRequest.Builder req) throws Exception {
      this(http, req);
    }

    RawStream(HttpClient client, HttpRequest.Builder req) throws Exception {
      response = client.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
      reader = new Thread(() -> {
        byte[] buf = new byte[4096];
        try (InputStream in = response.body()) {
          int n;
          while ((n = in.read(buf)) >= 0) {
            text.append(new String(buf, 0, n, StandardCharsets.UTF_8));
          }
        } catch (Exception e) {
          // closed by the test
        }
      });
      reader.setDaemon(true);
      reader.start();
      raws.add(this);
    }

    String awaitContains(String s) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!text.toString().contains(s)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("stream never contained " + s.replace("\n", "\\n") + "; got: "
              + text.toString().replace("\n", "\\n"));
        }
        Thread.sleep(5);
      }
      return text.toString();
    }

    @Override
    public void close() {
      try {
        response.body().close();
      } catch (Exception e) {
        // already closed
      }
    }
  }

  private HttpRequest.Builder events(String topic) {
    return HttpRequest.newBuilder(URI.create(jetty.url() + "/v1/topics/" + topic + "/events"));
  }

  @Test
  void stream_startsWithRetry_thenCarriesIdEventAndOneDataLinePerLine() throws Exception {
    Message marker = hub.publish("w", "marker").toCompletableFuture().get();
    RawStream s = new RawStream(events("w").header("Last-Event-ID", marker.id()));
    assertEquals(200, s.response.statusCode());
    assertEquals("text/event-stream", s.response.headers().firstValue("Content-Type").orElse("").split(";")[0]);
    assertEquals("no-cache, no-store", s.response.headers().firstValue("Cache-Control").orElse(""));
    Message m = hub.publish(Message.builder("w").event("greeting").text("hello\nworld").build()).toCompletableFuture().get();
    Message bin = hub.publish(Message.builder("w").payload(new byte[] {1, 2, 3}).build()).toCompletableFuture().get();
    Message json = hub.publish(Message.builder("w").json("{\"a\":1}").build()).toCompletableFuture().get();
    String got = s.awaitContains("id: " + json.id());
    assertTrue(got.startsWith("retry: 1234\n\n"), got);
    assertTrue(got.contains("id: " + m.id() + "\nevent: greeting\ndata: hello\ndata: world\n\n"), got);
    assertTrue(got.contains("id: " + bin.id() + "\ncontent-type: application/octet-stream\nencoding: base64\ndata: AQID\n\n"), got);
    assertTrue(got.contains("id: " + json.id() + "\ncontent-type: application/json\ndata: {\"a\":1}\n\n"), got);
  }

  @Test
  void payloadThatLooksLikeEvents_cannotInjectOne() throws Exception {
    Message marker = hub.publish("inj", "marker").toCompletableFuture().get();
    RawStream s = new RawStream(events("inj").header("Last-Event-ID", marker.id()));
    hub.publish("inj", "x\n\nevent: evil\nid: 999\ndata: pwned").toCompletableFuture().get();
    Message crlf = hub.publish("inj", "a\r\nevent: evil2").toCompletableFuture().get();
    String got = s.awaitContains("id: " + crlf.id());
    assertTrue(got.contains("data: x\ndata: \ndata: event: evil\ndata: id: 999\ndata: data: pwned\n\n"), got);
    assertFalse(got.contains("\nevent: evil"), got);
    assertFalse(got.contains("\nid: 999"), got);
    // A CR would end a line in EventSource, so text containing one travels as base64.
    assertTrue(got.contains("id: " + crlf.id() + "\nencoding: base64\ndata: "), got);
  }

  @Test
  void lastEventIdQueryParameter_resumesLikeTheHeader() throws Exception {
    Message a = hub.publish("q", "a").toCompletableFuture().get();
    hub.publish("q", "b").toCompletableFuture().get();
    RawStream s = new RawStream(HttpRequest.newBuilder(URI.create(jetty.url() + "/v1/topics/q/events?lastEventId=" + a.id())));
    String got = s.awaitContains("data: b\n\n");
    assertFalse(got.contains("data: a\n"), got);
  }

  @Test
  void unknownOrEvictedLastEventId_getsResetThenWhatHistoryHolds() throws Exception {
    for (int i = 0; i < 8; i++) {
      hub.publish("g", "m" + i).toCompletableFuture().get();
    }
    RawStream unknown = new RawStream(events("g").header("Last-Event-ID", "well-formed-but-never-issued"));
    String got = unknown.awaitContains("data: m7\n\n");
    assertTrue(got.contains("event: reset\ndata: {\"reason\":\"history_gap\"}\n\ndata: m3\n") || got.contains("event: reset\ndata: {\"reason\":\"history_gap\"}\n\nid: "), got);
    assertTrue(got.indexOf("event: reset") < got.indexOf("data: m3"), got);
    assertFalse(got.contains("data: m2\n"), "history holds only 5: " + got);
  }

  @Test
  void malformedLastEventId_isAJson400InvalidId_beforeTheStreamStarts() throws Exception {
    hub.publish("g", "m0").toCompletableFuture().get();
    HttpResponse<String> header = http.send(events("g").header("Last-Event-ID", "\u00ff not an id").build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> query = http.send(HttpRequest.newBuilder(
        URI.create(jetty.url() + "/v1/topics/g/events?lastEventId=" + "x".repeat(129))).build(),
        HttpResponse.BodyHandlers.ofString());
    for (HttpResponse<String> r : List.of(header, query)) {
      assertEquals(400, r.statusCode());
      assertEquals("application/json", r.headers().firstValue("Content-Type").orElse("").split(";")[0]);
      assertTrue(r.body().contains("\"error\":\"invalid_id\""), r.body());
    }
    assertEquals(0, hub.connectionCount());
  }

  /** The query string is read as REST reads it: once per name, valid escapes only. */
  @Test
  void ambiguousOrBrokenQuery_isAJson400_beforeTheStreamStarts() throws Exception {
    HttpResponse<String> twice = http.send(HttpRequest.newBuilder(
        URI.create(jetty.url() + "/v1/topics/g/events?lastEventId=a-1&lastEventId=a-2")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(400, twice.statusCode());
    assertTrue(twice.body().contains("\"error\":\"invalid_lastEventId\""), twice.body());
    assertTrue(twice.body().contains("query parameter lastEventId is given 2 times; give it once"), twice.body());
    HttpResponse<String> broken = http.send(HttpRequest.newBuilder(
        URI.create(jetty.url() + "/v1/topics/g/events?token=%e9")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, broken.statusCode());
    assertTrue(broken.body().contains("\"error\":\"invalid_query\""), broken.body());
    assertEquals(0, hub.connectionCount());
  }

  @Test
  void heartbeats_areCommentLines() throws Exception {
    RawStream s = new RawStream(events("hb"));
    s.awaitContains("retry: 1234\n\n: subscribed recovered=true\n\n:\n\n:\n\n");
  }

  @Test
  void heartbeats_goToIdleStreamsOnly() throws Exception {
    RawStream busy = new RawStream(events("busy"));
    RawStream idle = new RawStream(events("quiet"));
    busy.awaitContains("retry: 1234\n\n");
    idle.awaitContains("retry: 1234\n\n");
    int before = heartbeats(idle);
    for (int i = 0; i < 100; i++) { // a message every 10 ms for a second; heartbeats are checked every 50 ms
      hub.publish("busy", "m" + i).toCompletableFuture().get();
      Thread.sleep(10);
    }
    busy.awaitContains("data: m99\n");
    assertTrue(heartbeats(idle) - before >= 5, "the idle stream kept getting heartbeats: " + heartbeats(idle));
    // Idle for 50 ms at most between messages, so none is due; a stalled publisher may allow one or two.
    String during = busy.text.substring(busy.text.indexOf("data: m0\n"), busy.text.indexOf("data: m99\n"));
    assertTrue(count(during, "\n:\n") <= 2, "heartbeats between messages on a busy stream: " + count(during, "\n:\n"));
  }

  private static int heartbeats(RawStream s) {
    return count(s.text.toString(), "\n:\n");
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void cors_allowsConfiguredOriginsOnly() throws Exception {
    RawStream ok = new RawStream(events("c").header("Origin", "https://app.example"));
    assertEquals("https://app.example", ok.response.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
    RawStream other = new RawStream(events("c").header("Origin", "https://evil.example"));
    assertTrue(other.response.headers().firstValue("Access-Control-Allow-Origin").isEmpty());
  }

  @Test
  void refusals_comeAsJsonErrorsBeforeTheStream() throws Exception {
    HttpResponse<String> bad = http.send(events("bad%20topic").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, bad.statusCode());
    assertTrue(bad.body().contains("\"error\":\"invalid_topic\""), bad.body());
    HttpResponse<String> post = http.send(events("t").POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(405, post.statusCode());
    startWith(Hub.builder().authenticator(Authenticator.bearer(t -> null)).build());
    HttpResponse<String> anon = http.send(events("t").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, anon.statusCode());
    assertTrue(anon.body().contains("\"status\":401"), anon.body());
  }

  @Test
  void clientDisconnectMidStream_leavesNoSubscription() throws Exception {
    List<RawStream> streams = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      streams.add(new RawStream(events("bye")));
    }
    for (RawStream s : streams) {
      s.awaitContains("retry:");
    }
    // The stream's first bytes can reach the client just before its subscription is counted.
    long counted = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (hub.subscriberCount() < 5 && System.nanoTime() < counted) {
      Thread.sleep(10);
    }
    assertEquals(5, hub.subscriberCount());
    streams.forEach(RawStream::close);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (hub.subscriberCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(0, hub.subscriberCount());
    assertEquals(0, hub.connectionCount());
  }

  @Test
  void h2c_multiplexesAHundredEventStreamsOverOneConnection() throws Exception {
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> warm = h2.send(HttpRequest.newBuilder(URI.create(jetty.url() + "/v1/topics/m/messages?limit=0")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(HttpClient.Version.HTTP_2, warm.version());
    List<CompletableFuture<RawStream>> opening = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      opening.add(CompletableFuture.supplyAsync(() -> {
        try {
          return new RawStream(h2, events("m"));
        } catch (Exception e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      }, java.util.concurrent.Executors.newCachedThreadPool()));
    }
    List<RawStream> streams = new ArrayList<>();
    for (CompletableFuture<RawStream> f : opening) {
      streams.add(f.get(30, TimeUnit.SECONDS));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (hub.subscriberCount() < 100 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(100, hub.subscriberCount());
    assertEquals(1, jetty.openConnections(), "one TCP connection carries all 100 streams");
    hub.publish("m", "to all").toCompletableFuture().get();
    for (RawStream s : streams) {
      assertEquals(HttpClient.Version.HTTP_2, s.response.version());
      s.awaitContains("data: to all\n\n");
    }
  }

  @Test
  void channelClient_refusesHeadersWithCrOrLf() {
    assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.builder().header("X-Evil", "a\r\nInjected: yes"));
    assertThrows(IllegalArgumentException.class, () -> TransportConfig.builder().token("t\nx"));
  }

  @Test
  void channel_overHttp2_sharesOneConnectionForStreamsAndPublishes() throws Exception {
    try (Channel c = Transports.open(TransportConfig.builder().transport("sse").url(jetty.url()).build())) {
      List<RecordingListener> ls = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        Message marker = hub.publish("share" + i, "marker").toCompletableFuture().get();
        RecordingListener l = new RecordingListener();
        c.subscribe("share" + i, marker.id(), l);
        ls.add(l);
      }
      for (int i = 0; i < 5; i++) {
        c.send(Message.text("share" + i, "v" + i)).toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertEquals("v" + i, ls.get(i).messages(1, Duration.ofSeconds(20)).get(0).text());
      }
      assertTrue(jetty.openConnections() <= 2, "streams share the h2 connection: " + jetty.openConnections());
    }
  }
}
