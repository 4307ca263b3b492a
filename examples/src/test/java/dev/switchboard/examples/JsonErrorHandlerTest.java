package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo hub answers container-level errors with the JSON error body and refuses TRACE, over raw
 * sockets (so nothing in a client normalises the request): issue 16 item 6.
 */
class JsonErrorHandlerTest {
  private static DemoHub demo;
  private static URI base;

  @BeforeAll
  static void start() throws Exception {
    demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed",
        "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}));
    base = URI.create(demo.httpUrl());
  }

  @AfterAll
  static void stop() {
    if (demo != null) {
      demo.close();
    }
  }

  @Test
  void trace_isRefusedWith405_andEchoesNothing() throws Exception {
    for (String path : new String[] {"/", "/v1/topics/chat/messages", "/v1/ws", "/v1/webhooks/endpoints", "/nope"}) {
      for (String method : new String[] {"TRACE", "TRACK"}) {
        Reply r = send(base, method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cr3t-token\r\n"
            + "Cookie: session=s3cr3t-cookie\r\nConnection: close\r\n\r\n");
        assertJsonError(r, 405, "method_not_allowed");
        assertFalse(r.raw.contains("s3cr3t"), r.raw);
        assertFalse(r.header("allow").contains("TRACE"), r.raw);
      }
    }
  }

  @Test
  void otherMethods_areAnsweredWithJsonOrNothingSecret() throws Exception {
    // OPTIONS on the page: the servlet's Allow list must not advertise TRACE.
    Reply options = send(base, "OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertEquals(200, options.status, options.raw);
    assertFalse(options.header("allow").contains("TRACE"), options.raw);
    // A method nothing implements.
    Reply foo = send(base, "FOO / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertTrue(foo.status == 405 || foo.status == 501, foo.raw);
    assertJsonError(foo, foo.status, foo.status == 405 ? "method_not_allowed" : "not_implemented");
    Reply put = send(base, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assertJsonError(put, 405, "method_not_allowed");
  }

  @Test
  void pathsNoEndpointServes_get404Json() throws Exception {
    assertJsonError(send(base, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 404, "not_found");
    assertJsonError(send(base, "DELETE /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 405, "method_not_allowed");
  }

  @Test
  void requestsTheParserRefuses_get400_414_431Json() throws Exception {
    // An encoded slash is an ambiguous path separator.
    assertJsonError(send(base, "GET /v1/topics/a%2Fb/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        400, "invalid_argument");
    assertJsonError(send(base, "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        414, "uri_too_long");
    assertJsonError(send(base, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(20_000) + "\r\nConnection: close\r\n\r\n"),
        431, "request_header_fields_too_large");
    assertJsonError(send(base, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\nConnection: close\r\n\r\n"),
        400, "invalid_argument");
  }

  @Test
  void dotTopics_areRefusedWith400InvalidTopic_alsoPercentEncoded() throws Exception {
    for (String topic : new String[] {"%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e"}) {
      Reply r = send(base, "POST /v1/topics/" + topic + "/messages HTTP/1.1\r\nHost: x\r\n"
          + "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
      assertEquals(400, r.status, topic + ": " + r.raw);
      assertTrue(r.body.contains("\"error\":\"invalid_topic\"") || r.body.contains("\"error\":\"invalid_argument\""),
          topic + ": " + r.raw);
      assertJsonError(r, 400, null);
    }
  }

  @Test
  void anExceptionFromAServlet_isAGeneric500_withoutClassNamesOrStack() throws Exception {
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false); // as the demo does
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(config));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse res) {
        throw new IllegalStateException("internal detail dev.switchboard.Secret");
      }
    }), "/boom");
    server.setHandler(JsonErrorHandler.install(server, context));
    server.start();
    try {
      URI uri = URI.create("http://127.0.0.1:" + connector.getLocalPort());
      for (String method : new String[] {"GET", "POST"}) {
        Reply r = send(uri, "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".replace("GET", method));
        if (method.equals("GET")) {
          assertJsonError(r, 500, "internal");
          assertEquals("{\"status\":500,\"error\":\"internal\",\"message\":\"Server Error\"}", r.body);
        } else {
          assertJsonError(r, 405, "method_not_allowed");
        }
        assertFalse(r.raw.contains("IllegalStateException") || r.raw.contains("dev.switchboard")
            || r.raw.contains("internal detail") || r.raw.contains("\tat "), r.raw);
      }
    } finally {
      server.stop();
    }
  }

  private static void assertJsonError(Reply r, int status, String code) {
    assertEquals(status, r.status, r.raw);
    assertTrue(r.header("content-type").startsWith("application/json"), r.raw);
    assertTrue(r.body.startsWith("{\"status\":" + status + ",\"error\":\"") && r.body.endsWith("\"}"), r.raw);
    if (code != null) {
      assertTrue(r.body.contains("\"error\":\"" + code + "\""), r.raw);
    }
    String lower = r.raw.toLowerCase(Locale.ROOT);
    assertFalse(lower.contains("<html") || lower.contains("jetty") || lower.contains("exception"), r.raw);
  }

  /** A response read until the server closes the connection. */
  private record Reply(int status, String raw, String headers, String body) {
    String header(String name) {
      for (String line : headers.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          return line.substring(colon + 1).trim();
        }
      }
      return "";
    }
  }

  private static Reply send(URI uri, String request) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 10_000);
      s.setSoTimeout(30_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
        }
      } catch (java.net.SocketException reset) {
        // a server may reset after answering a request it refused before reading it all
      }
      String raw = out.toString(StandardCharsets.ISO_8859_1);
      int end = raw.indexOf("\r\n\r\n");
      assertTrue(raw.startsWith("HTTP/1.1 ") && end > 0, "no response: " + raw);
      return new Reply(Integer.parseInt(raw.substring(9, 12)), raw, raw.substring(0, end), raw.substring(end + 4));
    }
  }
}
