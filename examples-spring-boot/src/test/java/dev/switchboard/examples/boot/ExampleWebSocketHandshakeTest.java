package dev.switchboard.examples.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The starter's WebSocket handshake filter runs before Tomcat's own {@code WsFilter} (which does the
 * upgrade) on Boot's embedded Tomcat: a refused handshake is a plain HTTP 403 or 401 with the JSON
 * error body, never a 101 followed by a close. Checked on the wire with a raw socket and with the
 * JDK WebSocket client; a valid handshake on the same path is the control that gets 101. (Without
 * the filter these refusals are 101 and a close 4401 or 4403, and these tests fail. Setting the filter's
 * {@code matchAfter} did not change the outcome: Boot adds its filters from its own
 * {@code ServletContainerInitializer}, which runs before Tomcat's {@code WsSci} adds {@code WsFilter}.)
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ExampleWebSocketHandshakeTest {
  private static final String PATH = "/realtime/v1/ws";
  private static final String EVIL = "http://evil.example";

  @Value("${local.server.port}")
  int port;

  @Test
  void crossOriginUpgrade_onTheWire_is403BeforeTheUpgrade() throws Exception {
    Raw r = upgrade("Origin: " + EVIL + "\r\nAuthorization: Bearer " + Clients.TOKEN + "\r\n");
    assertEquals(403, r.status, r.statusLine);
    assertTrue(r.body.contains("\"error\":\"forbidden_origin\""), r.body);
    assertTrue(r.headers.getOrDefault("content-type", "").startsWith("application/json"), r.headers.toString());
  }

  @Test
  void upgradeWithoutToken_onTheWire_is401BeforeTheUpgrade() throws Exception {
    Raw r = upgrade("");
    assertEquals(401, r.status, r.statusLine);
    assertTrue(r.body.contains("\"error\":\"unauthenticated\""), r.body);
  }

  @Test
  void sameOriginUpgradeWithToken_onTheWire_is101() throws Exception {
    // The control: the path and the request are right, so the refusals above are the filter's.
    Raw r = upgrade("Origin: http://127.0.0.1:" + port + "\r\nAuthorization: Bearer " + Clients.TOKEN + "\r\n");
    assertEquals(101, r.status, r.statusLine);
  }

  @Test
  void crossOriginUpgrade_jdkWebSocketClient_isRefusedWith403() throws Exception {
    HttpResponse<?> response = refusedHandshake(Clients.HTTP.newWebSocketBuilder()
        .header("Origin", EVIL).header("Authorization", "Bearer " + Clients.TOKEN));
    assertEquals(403, response.statusCode());
    assertTrue(body(response).contains("\"error\":\"forbidden_origin\""), body(response));
  }

  @Test
  void upgradeWithoutToken_jdkWebSocketClient_isRefusedWith401() throws Exception {
    HttpResponse<?> response = refusedHandshake(Clients.HTTP.newWebSocketBuilder());
    assertEquals(401, response.statusCode());
    assertTrue(body(response).contains("\"error\":\"unauthenticated\""), body(response));
  }

  private HttpResponse<?> refusedHandshake(WebSocket.Builder builder) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> {
      WebSocket ws = builder.subprotocols("switchboard.v1.json")
          .buildAsync(URI.create("ws://127.0.0.1:" + port + PATH), new WebSocket.Listener() {})
          .get(30, TimeUnit.SECONDS);
      ws.abort();
    }, "the handshake was upgraded (101) instead of refused");
    return assertInstanceOf(WebSocketHandshakeException.class, e.getCause()).getResponse();
  }

  /** The JDK client keeps a refused handshake's body as a String or bytes depending on the version. */
  private static String body(HttpResponse<?> response) {
    Object b = response.body();
    return b instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : String.valueOf(b);
  }

  /** A WebSocket upgrade of {@link #PATH} written by hand, read as plain HTTP (no body after a 101). */
  private Raw upgrade(String extraHeaders) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + PATH + " HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + port + "\r\n"
          + "Upgrade: websocket\r\n"
          + "Connection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\n"
          + "Sec-WebSocket-Protocol: switchboard.v1.json\r\n"
          + extraHeaders + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      String statusLine = line(in);
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l; !(l = line(in)).isEmpty(); ) {
        int colon = l.indexOf(':');
        headers.putIfAbsent(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
      }
      int status = Integer.parseInt(statusLine.split(" ", 3)[1]);
      String length = headers.get("content-length");
      String body = status == 101 || length == null ? ""
          : new String(in.readNBytes(Integer.parseInt(length)), StandardCharsets.UTF_8);
      return new Raw(statusLine, status, headers, body);
    }
  }

  private record Raw(String statusLine, int status, Map<String, String> headers, String body) {}

  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int c; (c = in.read()) != '\n'; ) {
      if (c == -1) {
        throw new IOException("connection closed in the response head: " + sb);
      }
      sb.append((char) c);
    }
    return sb.toString().stripTrailing();
  }
}
