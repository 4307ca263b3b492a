package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.hub.RateLimit;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The WebSocket wire protocol of docs/protocol.md §4, frame by frame, with the JDK WebSocket client. The
 * endpoint is registered without its handshake filter, so refused handshakes are the configurator's
 * second line (closed with 4403 or 4401); {@link WsHandshakeRefusalTest} covers the filter's HTTP answers.
 */
@Timeout(120)
class WsWireTest {
  private Hub hub;
  private EmbeddedJetty jetty;
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<Raw> raws = new ArrayList<>();

  private void start(Hub h, WebSocketTransport.Builder ws) throws Exception {
    hub = h;
    WebSocketTransport t = ws.build();
    jetty = EmbeddedJetty.start(0, List.of(), context ->
        JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> t.register(container)));
  }

  private void start() throws Exception {
    Hub h = Hub.builder().broker(new InMemoryBroker(5)).maxPayloadBytes(1024).build();
    start(h, WebSocketTransport.builder(h));
  }

  @AfterEach
  void stop() throws Exception {
    raws.forEach(r -> r.ws.abort());
    if (jetty != null) {
      jetty.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  /** A raw client recording every text frame and the close. */
  private final class Raw implements WebSocket.Listener {
    final LinkedBlockingQueue<String> frames = new LinkedBlockingQueue<>();
    final CompletableFuture<String> closed = new CompletableFuture<>();
    final StringBuilder partial = new StringBuilder();
    WebSocket ws;

    Raw open(String... headers) {
      WebSocket.Builder b = http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL);
      for (int i = 0; i < headers.length; i += 2) {
        b.header(headers[i], headers[i + 1]);
      }
      ws = b.buildAsync(URI.create("ws://127.0.0.1:" + jetty.port() + "/v1/ws"), this).join();
      raws.add(this);
      return this;
    }

    @Override
    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        frames.add(partial.toString());
        partial.setLength(0);
      }
      w.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
      closed.complete(code + " " + reason);
      return null;
    }

    @Override
    public void onError(WebSocket w, Throwable error) {
      closed.complete("error " + error);
    }

    volatile long firstPingNanos;

    @Override
    public CompletionStage<?> onPing(WebSocket w, java.nio.ByteBuffer message) {
      if (firstPingNanos == 0) {
        firstPingNanos = System.nanoTime();
      }
      w.request(1);
      return null; // the JDK client answers with a pong
    }

    void send(String frame) {
      ws.sendText(frame, true).join();
    }

    String next() throws InterruptedException {
      String f = frames.poll(20, TimeUnit.SECONDS);
      assertNotNull(f, "no frame within 20 s");
      return f;
    }

    String closeReason() throws Exception {
      return closed.get(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void everyOp_getsTheRepliesTheDesignNames() throws Exception {
    start();
    Raw r = new Raw().open();
    assertEquals("switchboard.v1.json", r.ws.getSubprotocol());
    r.send("{\"op\":\"subscribe\",\"topic\":\"t\"}");
    assertEquals("{\"op\":\"subscribed\",\"topic\":\"t\",\"recovered\":true}", r.next());
    r.send("{\"op\":\"publish\",\"topic\":\"t\",\"event\":\"greet\",\"data\":{\"hi\":1},\"ref\":\"r1\"}");
    List<String> two = List.of(r.next(), r.next());
    String ack = two.stream().filter(f -> f.contains("\"op\":\"ack\"")).findFirst().orElseThrow();
    String msg = two.stream().filter(f -> f.contains("\"op\":\"message\"")).findFirst().orElseThrow();
    String id = ack.replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
    String time = ack.replaceAll(".*\"time\":\"([^\"]+)\".*", "$1");
    assertEquals("{\"op\":\"ack\",\"ref\":\"r1\",\"id\":\"" + id + "\",\"time\":\"" + time + "\"}", ack);
    java.time.Instant.parse(time); // the stored message's time, as REST's 201 gives it
    assertTrue(msg.startsWith("{\"op\":\"message\",\"id\":\"" + id + "\",\"topic\":\"t\",\"event\":\"greet\","
        + "\"contentType\":\"application/json\",\"data\":{\"hi\":1},\"time\":\""), msg);
    r.send("{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"plain text\"}");
    List<String> pair = List.of(r.next(), r.next()); // the message and an ack without ref, in either order
    String text = pair.stream().filter(f -> f.contains("\"op\":\"message\"")).findFirst().orElseThrow();
    assertTrue(pair.stream().anyMatch(f -> f.startsWith("{\"op\":\"ack\",\"id\":")), pair.toString());
    assertTrue(text.contains("\"contentType\":\"text/plain; charset=utf-8\",\"data\":\"plain text\""), text);
    r.send("{\"op\":\"unsubscribe\",\"topic\":\"t\",\"ref\":\"u\"}");
    assertEquals("{\"op\":\"unsubscribed\",\"topic\":\"t\",\"ref\":\"u\"}", r.next());
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void resumeFromEvictedId_getsSubscribedNotRecovered_thenReset_thenHistory() throws Exception {
    start();
    String first = hub.publish("g", "0").toCompletableFuture().get().id();
    for (int i = 1; i <= 7; i++) {
      hub.publish("g", Integer.toString(i)).toCompletableFuture().get();
    }
    Raw r = new Raw().open();
    r.send("{\"op\":\"subscribe\",\"topic\":\"g\",\"after\":\"" + first + "\"}");
    assertEquals("{\"op\":\"subscribed\",\"topic\":\"g\",\"recovered\":false}", r.next());
    assertEquals("{\"op\":\"reset\",\"topic\":\"g\",\"reason\":\"history_gap\"}", r.next());
    assertTrue(r.next().contains("\"data\":\"3\""), "history holds the last five");
  }

  @Test
  void badFrames_getErrorFrames_andTheConnectionStaysUsable() throws Exception {
    start();
    Raw r = new Raw().open();
    String[][] cases = {
        {"not json", "400", "invalid_json"},
        {"[1,2]", "400", "invalid_frame"},
        {"{\"op\":\"subscribe\"} {}", "400", "invalid_frame"},
        {"{\"topic\":\"t\"}", "400", "missing_field"},
        {"{\"op\":\"dance\",\"ref\":\"x1\"}", "400", "unknown_op"},
        {"{\"op\":\"subscribe\"}", "400", "missing_field"},
        {"{\"op\":\"subscribe\",\"topic\":42}", "400", "invalid_field"},
        {"{\"op\":\"subscribe\",\"topic\":\"bad topic\"}", "400", "invalid_topic"},
        {"{\"op\":\"publish\",\"topic\":\"t\"}", "400", "missing_field"},
        {"{\"op\":\"publish\",\"topic\":\"t\",\"event\":\"a b\",\"data\":1}", "400", "invalid_event"},
        {"{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"@@\",\"encoding\":\"base64\"}", "400", "invalid_field"},
        {"{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"" + "x".repeat(2000) + "\",\"ref\":\"big\"}", "413", "payload_too_large"},
    };
    for (String[] c : cases) {
      r.send(c[0]);
      String reply = r.next();
      assertTrue(reply.startsWith("{\"op\":\"error\","), c[0] + " -> " + reply);
      assertTrue(reply.contains("\"status\":" + c[1] + ",\"error\":\"" + c[2] + "\""), c[0] + " -> " + reply);
    }
    r.ws.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true).join();
    assertTrue(r.next().contains("\"status\":415,\"error\":\"binary_frame\""));
    r.send("{\"op\":\"subscribe\",\"topic\":\"still-ok\"}");
    assertEquals("{\"op\":\"subscribed\",\"topic\":\"still-ok\",\"recovered\":true}", r.next());
    assertFalse(r.closed.isDone());
  }

  /** A payload that, pasted raw into a history page, makes REST readers see a second message. */
  private static final String FORGED = "1,\"time\":\"2024-01-01T00:00:00Z\"},{\"id\":\"forged-1\",\"topic\":\"p\","
      + "\"contentType\":\"text/plain\",\"data\":\"pwned\"";

  private static String b64(byte[] b) {
    return java.util.Base64.getEncoder().encodeToString(b);
  }

  @Test
  void publishRules_onWebSocket_refuseForgedJsonBadTextAndBadMediaTypes_andStoreNothing() throws Exception {
    start();
    PrintStream originalErr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      Raw r = new Raw().open();
      String[][] cases = {
          // The attack from the issue: base64 bytes declared JSON, which would be embedded raw.
          {"{\"op\":\"publish\",\"topic\":\"p\",\"encoding\":\"base64\",\"contentType\":\"application/json\",\"data\":\""
              + b64(FORGED.getBytes(StandardCharsets.UTF_8)) + "\",\"ref\":\"f1\"}", "f1", "400", "invalid_json"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"encoding\":\"base64\",\"contentType\":\"application/ld+json\",\"data\":\""
              + b64("{bad".getBytes(StandardCharsets.UTF_8)) + "\",\"ref\":\"f2\"}", "f2", "400", "invalid_json"},
          // A lone surrogate (a JSON escape in a valid frame) would have been stored as '?'.
          {"{\"op\":\"publish\",\"topic\":\"p\",\"data\":\"a\\ud800b\",\"ref\":\"s1\"}", "s1", "400", "invalid_text"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"data\":\"\\udc00\",\"ref\":\"s2\"}", "s2", "400", "invalid_text"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"encoding\":\"base64\",\"contentType\":\"text/plain\",\"data\":\""
              + b64(new byte[] {'a', (byte) 0xff}) + "\",\"ref\":\"t1\"}", "t1", "400", "invalid_text"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"contentType\":\"garbage\",\"data\":\"x\",\"ref\":\"c1\"}", "c1", "415", "unsupported_media_type"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"contentType\":\"text/plain\\r\\nX: 1\",\"data\":\"x\",\"ref\":\"c2\"}", "c2", "415", "unsupported_media_type"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"contentType\":\"a/" + "x".repeat(300) + "\",\"data\":\"x\",\"ref\":\"c3\"}", "c3", "415", "unsupported_media_type"},
          {"{\"op\":\"publish\",\"topic\":\"p\",\"contentType\":\"text/plain; charset=latin1\",\"data\":\"x\",\"ref\":\"c4\"}", "c4", "415", "unsupported_charset"},
      };
      for (String[] c : cases) {
        r.send(c[0]);
        String reply = r.next();
        assertTrue(reply.startsWith("{\"op\":\"error\",\"ref\":\"" + c[1] + "\","), c[0] + " -> " + reply);
        assertTrue(reply.contains("\"status\":" + c[2] + ",\"error\":\"" + c[3] + "\""), c[0] + " -> " + reply);
      }
      assertEquals(0, hub.broker().history("p", null, 10).toCompletableFuture().get().messages().size(), "nothing was stored");
      // What is accepted embeds verbatim, and history stays one JSON document.
      r.send("{\"op\":\"publish\",\"topic\":\"p\",\"encoding\":\"base64\",\"contentType\":\"application/json\",\"data\":\""
          + b64("{\"price\":101}".getBytes(StandardCharsets.UTF_8)) + "\",\"ref\":\"ok\"}");
      assertTrue(r.next().startsWith("{\"op\":\"ack\",\"ref\":\"ok\""));
      List<Message> stored = hub.broker().history("p", null, 10).toCompletableFuture().get().messages();
      byte[] page = dev.switchboard.transport.internal.MessageJson.historyPage(stored, null, true);
      assertTrue(new String(page, StandardCharsets.UTF_8).contains("\"data\":{\"price\":101}"));
      assertEquals(1, dev.switchboard.transport.internal.MessageJson.readPage(page).messages().size());
      assertFalse(r.closed.isDone());
    } finally {
      System.setErr(originalErr);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("WARN") || log.contains("ERROR"), log);
  }

  @Test
  void aRawUnpairedSurrogateInAFrame_isRefusedWithItsRef_notStoredAsAQuestionMark() {
    WsProtocol.BadFrame e = org.junit.jupiter.api.Assertions.assertThrows(WsProtocol.BadFrame.class,
        () -> WsProtocol.parseClient("{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"a\uD800\",\"ref\":\"x\"}"));
    assertEquals("invalid_text", e.error.errorCode());
    assertEquals("x", e.ref);
    // A pair is fine.
    org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> WsProtocol.parseClient("{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"\uD83D\uDE00\"}"));
  }

  @Test
  void fuzz_tenThousandRandomAndMutatedFrames_neverKillTheSession() throws Exception {
    start();
    PrintStream originalErr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      Raw r = new Raw().open();
      Random random = new Random(42);
      String[] seeds = {
          "{\"op\":\"subscribe\",\"topic\":\"f\",\"after\":\"x-1\"}",
          "{\"op\":\"publish\",\"topic\":\"f\",\"data\":{\"a\":[1,2,{\"b\":null}]},\"ref\":\"r\"}",
          "{\"op\":\"unsubscribe\",\"topic\":\"f\"}",
          "{\"op\":\"publish\",\"topic\":\"f\",\"data\":\"AAEC\",\"encoding\":\"base64\",\"contentType\":\"application/octet-stream\"}"};
      int sent = 0;
      for (int i = 0; i < 10_000; i++) {
        String frame;
        if (i % 3 == 0) {
          byte[] b = new byte[random.nextInt(64)];
          random.nextBytes(b);
          frame = new String(b, StandardCharsets.ISO_8859_1);
        } else {
          char[] c = seeds[random.nextInt(seeds.length)].toCharArray();
          for (int m = random.nextInt(4); m >= 0; m--) {
            c[random.nextInt(c.length)] = (char) (random.nextInt(95) + 32);
          }
          frame = new String(c);
        }
        r.send(frame);
        sent++;
        if (sent % 200 == 0) {
          // Read replies as we go, as a real client would; a client that never reads is a slow consumer.
          while (r.frames.poll() != null) {
            // drain
          }
        }
      }
      r.frames.clear();
      r.send("{\"op\":\"unsubscribe\",\"topic\":\"valid-after-fuzz\"}");
      r.send("{\"op\":\"subscribe\",\"topic\":\"valid-after-fuzz\",\"ref\":\"final\"}");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      boolean answered = false;
      while (!answered && System.nanoTime() < deadline) {
        String f = r.frames.poll(1, TimeUnit.SECONDS);
        answered = f != null && f.equals("{\"op\":\"subscribed\",\"topic\":\"valid-after-fuzz\",\"recovered\":true}");
      }
      assertTrue(answered, "the session still answers a valid subscribe after the fuzz");
      assertFalse(r.closed.isDone(), "the session was not closed: " + r.closed.getNow(""));
    } finally {
      System.setErr(originalErr);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("ERROR"), log);
    assertFalse(log.contains("unexpected failure"), log);
  }

  @Test
  void oneSessionHammeredFromSixteenThreads_deliversEveryAckAndMessage() throws Exception {
    // 3,200 publishes on one session as fast as the machine goes: integrity, not the rate limit, is
    // under test here (a quiet machine outruns the default 1,000/s with a burst of 2,000).
    Hub h = Hub.builder().broker(new InMemoryBroker(5)).maxPayloadBytes(1024)
        .publishRatePerConnection(RateLimit.unlimited()).publishRatePerPrincipal(RateLimit.unlimited()).build();
    start(h, WebSocketTransport.builder(h));
    try (Channel c = Transports.open(TransportConfig.builder().transport("ws").url(jetty.url()).build())) {
      Set<String> received = Collections.synchronizedSet(new HashSet<>());
      AtomicInteger count = new AtomicInteger();
      Message marker = hub.publish("hammer", "marker").toCompletableFuture().get();
      c.subscribe("hammer", marker.id(), (MessageListener) m -> {
        received.add(m.text());
        count.incrementAndGet();
      });
      List<Thread> threads = new ArrayList<>();
      List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
      Set<String> acked = Collections.synchronizedSet(new HashSet<>());
      for (int t = 0; t < 16; t++) {
        int tt = t;
        Thread th = new Thread(() -> {
          try {
            for (int i = 0; i < 200; i++) {
              acked.add(c.send(Message.text("hammer", tt + "/" + i)).toCompletableFuture().get(30, TimeUnit.SECONDS).id());
            }
          } catch (Throwable e) {
            errors.add(e);
          }
        });
        threads.add(th);
        th.start();
      }
      for (Thread th : threads) {
        th.join();
      }
      assertTrue(errors.isEmpty(), "errors: " + errors);
      assertEquals(3200, acked.size());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (count.get() < 3200 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(3200, count.get(), "every message once");
      assertEquals(3200, received.size());
      assertEquals(0, hub.slowConsumerDisconnects());
    }
  }

  @Test
  void crossOriginHandshake_withoutTheHandshakeFilter_isClosedWith4403_unlessAllowed() throws Exception {
    Hub h = Hub.builder().originPolicy(OriginPolicy.builder().allowOrigin("https://app.example").build()).build();
    start(h, WebSocketTransport.builder(h));
    Raw evil = new Raw().open("Origin", "https://evil.example");
    assertTrue(evil.closeReason().startsWith("4403 forbidden_origin"), evil.closed.get());
    Raw allowed = new Raw().open("Origin", "https://app.example");
    allowed.send("{\"op\":\"subscribe\",\"topic\":\"o\"}");
    assertTrue(allowed.next().contains("subscribed"));
    Raw same = new Raw().open("Origin", "http://127.0.0.1:" + jetty.port());
    same.send("{\"op\":\"subscribe\",\"topic\":\"o2\"}");
    assertTrue(same.next().contains("subscribed"));
    Raw otherScheme = new Raw().open("Origin", "https://127.0.0.1:" + jetty.port());
    assertTrue(otherScheme.closeReason().startsWith("4403 forbidden_origin"), otherScheme.closed.get());
    Raw noOrigin = new Raw().open(); // not a browser: no Origin header, nothing to hijack
    noOrigin.send("{\"op\":\"subscribe\",\"topic\":\"o3\"}");
    assertTrue(noOrigin.next().contains("subscribed"));
  }

  @Test
  void unauthenticatedHandshake_withoutTheHandshakeFilter_isClosedWith4401_andTheAuthenticatorSeesHeadersAndQuery() throws Exception {
    Principal bob = () -> "bob";
    Hub h = Hub.builder().authenticator(Authenticator.bearer(t -> t.equals("tok") ? bob : null)).build();
    start(h, WebSocketTransport.builder(h));
    assertTrue(new Raw().open().closeReason().startsWith("4401 unauthenticated"));
    Raw header = new Raw().open("Authorization", "Bearer tok");
    header.send("{\"op\":\"subscribe\",\"topic\":\"a\"}");
    assertTrue(header.next().contains("subscribed"));
    Raw query = new Raw();
    query.ws = http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL)
        .buildAsync(URI.create("ws://127.0.0.1:" + jetty.port() + "/v1/ws?access_token=tok"), query).join();
    raws.add(query);
    query.send("{\"op\":\"subscribe\",\"topic\":\"b\"}");
    assertTrue(query.next().contains("subscribed"));
  }

  @Test
  void frameOverTheSizeLimit_isClosedWith1009() throws Exception {
    Hub h = Hub.builder().build();
    start(h, WebSocketTransport.builder(h).maxMessageBytes(4096));
    Raw r = new Raw().open();
    r.ws.sendText("{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"" + "x".repeat(10_000) + "\"}", true);
    assertTrue(r.closeReason().startsWith("1009"), r.closed.get());
  }

  @Test
  void shutdown_closesSessionsWith1001() throws Exception {
    start();
    Raw r = new Raw().open();
    r.send("{\"op\":\"subscribe\",\"topic\":\"s\"}");
    r.next();
    hub.shutdown();
    assertTrue(r.closeReason().startsWith("1001"), r.closed.get());
  }

  @Test
  void idleSession_isClosedAfterTheIdleTimeout() throws Exception {
    Hub h = Hub.builder().build();
    start(h, WebSocketTransport.builder(h).pingInterval(Duration.ofMinutes(10)).idleTimeout(Duration.ofMillis(300)));
    Raw r = new Raw().open();
    r.send("{\"op\":\"subscribe\",\"topic\":\"idle\"}");
    r.next();
    assertTrue(r.closeReason().startsWith("1001"), "closed as idle: " + r.closed.get());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (hub.subscriberCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void pings_areSpreadOverTheInterval_notSentToEverySessionAtOnce() throws Exception {
    Hub h = Hub.builder().build();
    start(h, WebSocketTransport.builder(h).pingInterval(Duration.ofMillis(800)));
    List<Raw> clients = new java.util.ArrayList<>();
    for (int i = 0; i < WebSocketTransport.PING_SLICES; i++) {
      clients.add(new Raw().open());
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (clients.stream().anyMatch(c -> c.firstPingNanos == 0) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(clients.stream().allMatch(c -> c.firstPingNanos != 0), "every session is pinged");
    long first = clients.stream().mapToLong(c -> c.firstPingNanos).min().orElseThrow();
    long last = clients.stream().mapToLong(c -> c.firstPingNanos).max().orElseThrow();
    // Eight sessions in eight 100 ms slices: their first pings span about 700 ms, not one instant.
    assertTrue(last - first >= TimeUnit.MILLISECONDS.toNanos(300),
        "first pings spread over " + TimeUnit.NANOSECONDS.toMillis(last - first) + " ms");
    assertTrue(clients.stream().allMatch(c -> !c.closed.isDone()), "sessions answering pings stay open");
  }

  @Test
  void peerThatStopsAnsweringPings_isClosed() throws Exception {
    Hub h = Hub.builder().build();
    start(h, WebSocketTransport.builder(h).pingInterval(Duration.ofMillis(100)));
    try (Socket s = new Socket("127.0.0.1", jetty.port())) {
      OutputStream out = s.getOutputStream();
      out.write(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] head = new byte[12];
      assertEquals(12, in.readNBytes(head, 0, 12));
      assertEquals("HTTP/1.1 101", new String(head, StandardCharsets.US_ASCII));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (hub.connectionCount() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(1, hub.connectionCount());
      // Never answer the pings: the server must close us.
      while (hub.connectionCount() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(0, hub.connectionCount(), "a peer that ignores pings is closed");
    }
  }
}
