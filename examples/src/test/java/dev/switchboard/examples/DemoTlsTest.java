package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.http3.Http3;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The demo's {@code --https-port} and {@code --http3-port}: every Java transport over HTTPS with the
 * generated certificate, Alt-Svc naming the QUIC port, the printed URLs and SPKI hash, and the options'
 * errors.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DemoTlsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void options_parseTheTlsSettings_andRefuseBadOnes() {
    DemoHub.Options o = DemoHub.parse(new String[] {"--https-port", "8443", "--http3-port=8443", "--no-demo-feed"});
    assertEquals(new DemoTls.Settings(8443, 8443, null, null), o.tls());
    assertEquals(DemoTls.Settings.OFF, DemoHub.parse(new String[0]).tls());
    for (String[] bad : new String[][] {{"--https-port", "x"}, {"--http3-port", "70000"}, {"--https-port"},
        {"--keystore", "/nonexistent.p12", "--keystore-password", "p", "--https-port", "0"},
        {"--keystore-password", "p", "--https-port", "0"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DemoHub.parse(bad));
      assertTrue(e.getMessage().contains(bad[0]), e.getMessage());
    }
  }

  @Test
  void everyTransportWorksOverHttps_andTheTlsConnectorAdvertisesHttp3() throws Exception {
    assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed",
        "--https-port", "0", "--http3-port", "0"}))) {
      DemoTls tls = demo.tls();
      String https = tls.httpsUrl("127.0.0.1");
      assertEquals(https, tls.http3Url("127.0.0.1"), "QUIC takes the HTTPS port number (UDP)");
      ByteArrayOutputStream printed = new ByteArrayOutputStream();
      demo.printListening(new PrintStream(printed, true, StandardCharsets.UTF_8));
      String out = printed.toString(StandardCharsets.UTF_8);
      assertTrue(out.contains("https=" + https) && out.contains("http3=" + https)
          && out.contains("SPKI sha256 (base64) " + tls.certificate().spkiSha256()), out);

      HttpClient client = HttpClient.newBuilder().sslContext(tls.certificate().clientContext()).build();
      HttpResponse<String> index = client.send(HttpRequest.newBuilder(URI.create(https + "/")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, index.statusCode());
      assertEquals(HttpClient.Version.HTTP_2, index.version());
      int port = Integer.parseInt(https.substring(https.lastIndexOf(':') + 1));
      assertEquals("h3=\":" + port + "\"; ma=86400", index.headers().firstValue("Alt-Svc").orElse(null));

      for (String transport : new String[] {"ws", "sse", "longpoll"}) {
        try (Channel c = Transports.open(TransportConfig.builder().transport(transport).url(https)
            .sslContext(tls.certificate().clientContext()).longPollWait(Duration.ofSeconds(5)).build())) {
          String topic = "tls-" + transport;
          Message marker = c.send(Message.text(topic, "marker")).toCompletableFuture().get(30, TimeUnit.SECONDS);
          RecordingListener l = new RecordingListener();
          c.subscribe(topic, marker.id(), l);
          c.send(Message.text(topic, "over tls")).toCompletableFuture().get(30, TimeUnit.SECONDS);
          assertEquals("over tls", l.messages(1, WAIT).get(0).text(), transport);
        }
      }
    }
  }
}
