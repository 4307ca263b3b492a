package dev.switchboard.http3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The QUIC connector's plumbing: same port as HTTPS, Alt-Svc on TLS only, PEM directory removed at stop. */
class Http3ServerTest {
  private static Hub hub;
  private static Http3TestServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
    hub = Http3TestServer.newHub();
    server = Http3TestServer.start(hub, 0);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
      hub.shutdown();
    }
  }

  @Test
  void tlsConnector_advertisesTheQuicPort_withAltSvc() throws Exception {
    assertEquals(server.tls.getLocalPort(), server.h3.getLocalPort(), "TCP and UDP share the port number");
    HttpClient client = HttpClient.newBuilder().sslContext(Http3TestServer.CERT.clientContext()).build();
    for (HttpClient.Version v : new HttpClient.Version[] {HttpClient.Version.HTTP_2, HttpClient.Version.HTTP_1_1}) {
      hub.publish(Message.text("alt", "x"));
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/topics/alt/messages"))
          .version(v).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode());
      assertEquals(v, r.version(), "ALPN chose " + v);
      assertEquals("h3=\":" + server.port() + "\"; ma=86400", r.headers().firstValue("Alt-Svc").orElse(null));
    }
  }

  @Test
  void unavailableReason_isNullWhereTheNativeLibraryLoads() {
    assertEquals(null, Http3.unavailableReason());
    Http3.requireAvailable();
  }

  @Test
  void pemDirectory_isRemovedWhenTheConnectorStops() throws Exception {
    Hub h = Http3TestServer.newHub();
    Http3TestServer s = Http3TestServer.start(h, 0);
    Path pemDir = s.h3.getServerQuicConfiguration().getPemWorkDirectory();
    assertTrue(Files.isDirectory(pemDir), "quiche's PEM files live in " + pemDir);
    s.close();
    h.shutdown();
    assertFalse(Files.exists(pemDir), "removed at stop: " + pemDir);
  }
}
