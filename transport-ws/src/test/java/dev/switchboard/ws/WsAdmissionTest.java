package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.testkit.EmbeddedJetty;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Handshakes past the hub's connection limit are refused with HTTP 503 before the upgrade (the
 * handshake filter), never upgraded and then closed.
 */
@Timeout(60)
class WsAdmissionTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private Hub hub;
  private WebSocketTransport ws;
  private EmbeddedJetty jetty;

  @BeforeEach
  void start() throws Exception {
    hub = Hub.builder().broker(new InMemoryBroker(10)).maxConnections(1).build();
    ws = WebSocketTransport.builder(hub).build();
    jetty = EmbeddedJetty.start(0, List.of(), context ->
        JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(sc, container)));
  }

  @AfterEach
  void stop() throws Exception {
    jetty.close();
    hub.shutdown();
  }

  private URI wsUri() {
    return URI.create("ws://127.0.0.1:" + jetty.port() + "/v1/ws");
  }

  private WebSocket open() throws Exception {
    return http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL)
        .buildAsync(wsUri(), new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS);
  }

  @Test
  void handshakePastTheLimit_isRefusedWith503BeforeTheUpgrade_jdkClient() throws Exception {
    WebSocket first = open();
    awaitCondition("the first session holds the hub's only connection", () -> ws.sessionCount() == 1);

    ExecutionException e = assertThrows(ExecutionException.class, this::open);
    WebSocketHandshakeException refused = assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
    HttpResponse<?> response = refused.getResponse();
    assertEquals(503, response.statusCode());
    assertEquals("1", response.headers().firstValue("Retry-After").orElse(null));
    assertEquals(1, ws.sessionCount(), "the refused handshake never became a session");

    // Once the connection closes, handshakes are upgraded again.
    first.abort();
    awaitCondition("the first session is gone", () -> ws.sessionCount() == 0);
    awaitCondition("a new handshake is accepted", () -> {
      try {
        open().abort();
        return true;
      } catch (Exception refusedStill) {
        return false; // the hub may not have seen the close yet
      }
    });
  }

  @Test
  void handshakePastTheLimit_rawSocket_reads503WithJsonBody_never101() throws Exception {
    WebSocket first = open();
    awaitCondition("the first session holds the hub's only connection", () -> ws.sessionCount() == 1);
    try {
      String answer = rawHandshake("/v1/ws");
      assertTrue(answer.startsWith("HTTP/1.1 503 "), answer);
      assertFalse(answer.contains(" 101 "), answer);
      String lower = answer.toLowerCase(Locale.ROOT);
      assertTrue(lower.contains("\r\nretry-after: 1\r\n"), answer);
      assertTrue(lower.contains("\r\ncontent-type: application/json"), answer);
      assertTrue(lower.contains("\r\nconnection: close\r\n"), answer);
      String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
      assertTrue(body.startsWith("{\"status\":503,\"error\":\"too_many_connections\",\"message\":\"server at its connection limit (1)"),
          body);
    } finally {
      first.abort();
    }
  }

  @Test
  void handshakeAfterShutdown_isRefusedWith503Unavailable() throws Exception {
    hub.shutdown();
    String answer = rawHandshake("/v1/ws");
    assertTrue(answer.startsWith("HTTP/1.1 503 "), answer);
    assertTrue(answer.contains("\"error\":\"unavailable\""), answer);
  }

  @Test
  void otherPaths_passThroughTheFilter_evenAtTheLimit() throws Exception {
    WebSocket first = open();
    awaitCondition("the first session holds the hub's only connection", () -> ws.sessionCount() == 1);
    try {
      String answer = rawHandshake("/v1/wsx");
      assertTrue(answer.startsWith("HTTP/1.1 404 "), answer);
    } finally {
      first.abort();
    }
  }

  /** Sends a WebSocket handshake on a raw socket and reads the whole answer until the server closes. */
  private String rawHandshake(String path) throws Exception {
    try (Socket s = new Socket("127.0.0.1", jetty.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + jetty.port() + "\r\n"
          + "Upgrade: websocket\r\n"
          + "Connection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Protocol: " + WsProtocol.SUBPROTOCOL + "\r\n"
          + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      for (int n; (n = in.read(buf)) != -1; ) {
        answer.write(buf, 0, n);
        String text = answer.toString(StandardCharsets.UTF_8);
        if (!text.startsWith("HTTP/1.1 503 ") && text.contains("\r\n\r\n")) {
          return text; // not a refusal (a 404 may keep the connection open): the head is enough
        }
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }

  private static void awaitCondition(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }
}
