package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DemoHubTest {
  private static void assertCrossOriginWebSocketRefused(String httpUrl) {
    java.util.concurrent.CompletionException e = assertThrows(java.util.concurrent.CompletionException.class, () ->
        java.net.http.HttpClient.newHttpClient().newWebSocketBuilder().header("Origin", "https://elsewhere.example")
            .buildAsync(java.net.URI.create(httpUrl.replace("http:", "ws:") + "/v1/ws"),
                new java.net.http.WebSocket.Listener() {}).join());
    java.net.http.WebSocketHandshakeException refused =
        assertInstanceOf(java.net.http.WebSocketHandshakeException.class, e.getCause());
    assertEquals(403, refused.getResponse().statusCode(), "cross-origin handshakes are refused before the upgrade");
  }

  /** One request on a raw socket (the JDK client cannot forge Host): the head and the body. */
  private static String raw(int port, String request) throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      java.io.InputStream in = s.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          break;
        }
        head.write(b);
      }
      String h = head.toString(StandardCharsets.ISO_8859_1);
      java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(h);
      byte[] body = length.find() ? in.readNBytes(Integer.parseInt(length.group(1))) : in.readAllBytes();
      return h + new String(body, StandardCharsets.UTF_8);
    }
  }

  @Test
  void options_parseAndRefuseBadOnes() {
    assertEquals(new DemoHub.Options(8080, 9090, "127.0.0.1", "memory", true, null, false, null, true), DemoHub.parse(new String[0]));
    assertEquals(new DemoHub.Options(0, 0, "0.0.0.0", "redis://127.0.0.1:6379", false, "whsec_abc", true,
        "admin-token-0123456789", false),
        DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--broker", "redis://127.0.0.1:6379", "--host", "0.0.0.0", "--no-demo-feed", "--webhook-secret", "whsec_abc",
            "--allow-private-webhook-targets", "--webhook-admin-token", "admin-token-0123456789", "--no-websocket"}));
    assertEquals(9000, DemoHub.parse(new String[] {"--port=9000"}).port());
    assertEquals(9001, DemoHub.parse(new String[] {"--grpc-port=9001"}).grpcPort());
    assertNull(DemoHub.parse(new String[] {"--help"}));
    for (String[] bad : new String[][] {{"--bogus"}, {"--port"}, {"--port", "x"}, {"--port", "70000"}, {"--port", "-1"}, {"--grpc-port", "x"}, {"--grpc-port"}, {"--broker", "kafka://x"}, {"--webhook-secret", "plain"}, {"--webhook-admin-token", "short"}, {"--webhook-admin-token"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DemoHub.parse(bad));
      assertTrue(e.getMessage().contains(bad[0].split("=")[0]), e.getMessage());
    }
  }

  @Test
  void demo_answersOnlyTheHostsItBindsTo_andRefusesCrossOriginWrites() throws Exception {
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed"}))) {
      int port = Integer.parseInt(demo.httpUrl().substring(demo.httpUrl().lastIndexOf(':') + 1));
      String rebound = raw(port, "GET /v1/topics/chat/messages HTTP/1.1\r\nHost: evil.example:" + port
          + "\r\nConnection: close\r\n\r\n");
      assertTrue(rebound.startsWith("HTTP/1.1 403 ") && rebound.contains("\"error\":\"forbidden_host\""), rebound);
      String handshake = raw(port, "GET /v1/ws HTTP/1.1\r\nHost: evil.example:" + port + "\r\nOrigin: http://evil.example:"
          + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\n\r\n");
      assertTrue(handshake.startsWith("HTTP/1.1 403 ") && handshake.contains("\"error\":\"forbidden_host\""), handshake);
      for (String host : new String[] {"localhost", "127.0.0.1"}) {
        String ok = raw(port, "GET /v1/topics/chat/messages HTTP/1.1\r\nHost: " + host + ":" + port
            + "\r\nConnection: close\r\n\r\n");
        assertTrue(ok.startsWith("HTTP/1.1 200 "), ok);
      }
      String csrf = raw(port, "POST /v1/topics/chat/messages HTTP/1.1\r\nHost: 127.0.0.1:" + port
          + "\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
          + "Connection: close\r\n\r\npwned");
      assertTrue(csrf.startsWith("HTTP/1.1 403 ") && csrf.contains("\"error\":\"forbidden_origin\""), csrf);
      assertTrue(demo.hub().broker().history("chat", null, 10).toCompletableFuture().get().messages().isEmpty(),
          "the refused publish stored nothing");
    }
  }

  @Test
  void demo_printsOneListeningLine_andServesEveryTransportWithTheTicker() throws Exception {
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0"}))) {
      assertCrossOriginWebSocketRefused(demo.httpUrl());
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      demo.printListening(new PrintStream(buf, true, StandardCharsets.UTF_8));
      String line = buf.toString(StandardCharsets.UTF_8);
      assertTrue(line.matches("switchboard demo listening http=http://127\\.0\\.0\\.1:\\d+ grpc=127\\.0\\.0\\.1:\\d+\n"), line);
      assertTrue(!line.contains(":0 "), "the real port is printed: " + line);

      for (String transport : new String[] {"ws", "sse", "longpoll", "auto", "grpc"}) {
        String url = transport.equals("grpc") ? "grpc://" + demo.grpcAddress() : demo.httpUrl();
        try (Channel c = Transports.open(TransportConfig.builder().transport(transport).url(url).build())) {
          LinkedBlockingQueue<Message> prices = new LinkedBlockingQueue<>();
          LinkedBlockingQueue<Message> chat = new LinkedBlockingQueue<>();
          c.subscribe("prices", (MessageListener) prices::add);
          Message price = prices.poll(20, TimeUnit.SECONDS);
          assertTrue(price != null && price.text().contains("\"symbol\":\"ACME\""), transport + ": " + price);
          assertEquals("price", price.event());
          assertEquals(transport.equals("auto") ? "ws" : transport, c.transport());
          Message marker = demo.hub().publish("chat", "marker").toCompletableFuture().get();
          c.subscribe("chat", marker.id(), (MessageListener) chat::add);
          c.send(Message.text("chat", "hello over " + transport)).toCompletableFuture().get(20, TimeUnit.SECONDS);
          assertEquals("hello over " + transport, chat.poll(20, TimeUnit.SECONDS).text());
        }
      }
    }
  }
}
