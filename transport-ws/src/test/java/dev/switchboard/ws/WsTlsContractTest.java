package dev.switchboard.ws;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.SelfSignedCertificate;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.TransportConfig;
import java.time.Duration;
import java.util.List;

/**
 * The whole transport contract over WebSocket on TLS ({@code wss://}, HTTP/1.1 upgrade on a connector
 * that also offers h2 by ALPN), the client trusting the test certificate through
 * {@link TransportConfig.Builder#sslContext}.
 */
class WsTlsContractTest extends TransportContractTest {
  private static final SelfSignedCertificate CERT = SelfSignedCertificate.localhost();

  @Override
  protected String transport() {
    return "ws";
  }

  @Override
  protected TransportConfig.Builder configure(TransportConfig.Builder b) {
    return b.sslContext(CERT.clientContext());
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    WebSocketTransport ws = WebSocketTransport.builder(hub).pingInterval(Duration.ofSeconds(30)).build();
    return EmbeddedJetty.startTls(port, List.of(), EmbeddedJetty.webSocket(ws::register), CERT);
  }
}
