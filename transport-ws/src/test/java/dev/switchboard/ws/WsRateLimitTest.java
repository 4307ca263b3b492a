package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.RateLimit;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * WebSocket publishes over a rate limit get an {@code error} frame with status 429 and the
 * connection stays open, while other connections and principals go on. One permit an hour after the
 * burst, so nothing refills while the test runs.
 */
@Timeout(120)
class WsRateLimitTest {
  private static final RateLimit BURST_5_THEN_HOURLY = RateLimit.of(1, Duration.ofHours(1)).withBurst(5);

  private Hub hub;
  private TransportContractTest.Server server;
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<WebSocket> sockets = new ArrayList<>();

  private void start(RateLimit perConnection, RateLimit perPrincipal) throws Exception {
    start(EmbeddedContainer.JETTY, perConnection, perPrincipal);
  }

  /** The hub and a server with the WebSocket endpoint behind its handshake filter. */
  private void start(EmbeddedContainer container, RateLimit perConnection, RateLimit perPrincipal) throws Exception {
    hub = Hub.builder()
        .authenticator(h -> h.bearerToken() == null ? Authenticator.ANONYMOUS : h::bearerToken)
        .publishRatePerConnection(perConnection)
        .publishRatePerPrincipal(perPrincipal)
        .build();
    WebSocketTransport ws = WebSocketTransport.builder(hub).build();
    if (container == EmbeddedContainer.JETTY) {
      server = EmbeddedJetty.start(0, List.of(), context ->
          JakartaWebSocketServletContainerInitializer.configure(context, (sc, c) -> ws.register(sc, c)));
    } else {
      server = container.start(0, List.of(ws.handshakeFilter()), ws::register);
    }
  }

  @AfterEach
  void stop() throws Exception {
    sockets.forEach(WebSocket::abort);
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  /** A client recording every text frame. */
  private final class Client implements WebSocket.Listener {
    final LinkedBlockingQueue<String> frames = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    final WebSocket ws;

    Client(String token) {
      WebSocket.Builder b = http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL);
      if (token != null) {
        b.header("Authorization", "Bearer " + token);
      }
      ws = b.buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/v1/ws"), this).join();
      sockets.add(ws);
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

    /** Publishes and returns the answer with this ref (ack or error). */
    String publish(String ref) throws InterruptedException {
      ws.sendText("{\"op\":\"publish\",\"topic\":\"t\",\"data\":\"x\",\"ref\":\"" + ref + "\"}", true).join();
      return next();
    }

    String next() throws InterruptedException {
      String f = frames.poll(20, TimeUnit.SECONDS);
      assertNotNull(f, "no frame within 20 s");
      return f;
    }
  }

  private static void assertAck(String frame, String ref) {
    assertTrue(frame.startsWith("{\"op\":\"ack\",\"ref\":\"" + ref + "\""), frame);
  }

  private static void assertTooManyRequests(String frame, String ref) {
    assertTrue(frame.startsWith("{\"op\":\"error\",\"ref\":\"" + ref + "\",\"status\":429,\"error\":\"too_many_requests\","),
        frame);
    long retryAfter = Long.parseLong(frame.replaceAll(".*\"retryAfter\":(\\d+).*", "$1"));
    assertTrue(retryAfter > 3000 && retryAfter <= 3600, frame);
  }

  @Test
  void floodingConnection_getsErrorFrames429_staysOpen_andAnotherConnectionPublishes() throws Exception {
    start(BURST_5_THEN_HOURLY, RateLimit.unlimited());
    Client flooder = new Client(null);
    for (int i = 0; i < 5; i++) {
      assertAck(flooder.publish("p" + i), "p" + i);
    }
    for (int i = 5; i < 30; i++) {
      assertTooManyRequests(flooder.publish("p" + i), "p" + i);
    }
    Client other = new Client(null); // same principal and address, another connection
    for (int i = 0; i < 5; i++) {
      assertAck(other.publish("o" + i), "o" + i);
    }
    // The limited connection is still open and served.
    flooder.ws.sendText("{\"op\":\"subscribe\",\"topic\":\"t\"}", true).join();
    assertEquals("{\"op\":\"subscribed\",\"topic\":\"t\",\"recovered\":true}", flooder.next());
    assertEquals(25, hub.rateLimitedPublishes());
  }

  @Test
  void principalBucket_isSharedByItsConnections_andNotByOtherPrincipals() throws Exception {
    start(RateLimit.unlimited(), BURST_5_THEN_HOURLY);
    Client alice1 = new Client("alice");
    Client alice2 = new Client("alice");
    Client bob = new Client("bob");
    for (int i = 0; i < 3; i++) {
      assertAck(alice1.publish("a1-" + i), "a1-" + i);
    }
    assertAck(alice2.publish("a2-0"), "a2-0");
    assertAck(alice2.publish("a2-1"), "a2-1");
    assertTooManyRequests(alice2.publish("a2-2"), "a2-2");
    assertTooManyRequests(alice1.publish("a1-3"), "a1-3");
    for (int i = 0; i < 5; i++) {
      assertAck(bob.publish("b" + i), "b" + i);
    }
  }

  @Test
  void wsClientSend_overTheLimit_failsWithTooManyRequestsAndTheRetryHint() throws Exception {
    start(BURST_5_THEN_HOURLY, RateLimit.unlimited());
    try (Channel channel = Transports.open(TransportConfig.builder().transport("ws").url(server.url().toString())
        .build())) {
      for (int i = 0; i < 5; i++) {
        channel.send(Message.text("t", "m" + i)).toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> channel.send(Message.text("t", "over")).toCompletableFuture().get(20, TimeUnit.SECONDS));
      SwitchboardException s = SwitchboardException.from(e);
      assertEquals(Status.TOO_MANY_REQUESTS, s.status());
      assertEquals("too_many_requests", s.errorCode());
      assertTrue(s.retryAfter().orElseThrow().toSeconds() > 3000, s.toString());
    }
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void anonymousConnectionsFromOneAddress_shareTheAddressBucket(EmbeddedContainer container) throws Exception {
    start(container, RateLimit.unlimited(), BURST_5_THEN_HOURLY);
    Client first = new Client(null);
    Client second = new Client(null);
    for (int i = 0; i < 3; i++) {
      assertAck(first.publish("f" + i), "f" + i);
    }
    assertAck(second.publish("s0"), "s0");
    assertAck(second.publish("s1"), "s1");
    assertTooManyRequests(second.publish("s2"), "s2");
    assertTooManyRequests(first.publish("f3"), "f3");
  }
}
