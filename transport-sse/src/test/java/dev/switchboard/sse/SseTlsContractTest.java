package dev.switchboard.sse;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.SelfSignedCertificate;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.TransportConfig;
import java.time.Duration;
import java.util.List;

/**
 * The whole transport contract over Server-Sent Events on HTTPS: Jetty with TLS and ALPN (the JDK
 * client negotiates h2), the client trusting the test certificate through
 * {@link TransportConfig.Builder#sslContext}.
 */
class SseTlsContractTest extends TransportContractTest {
  private static final SelfSignedCertificate CERT = SelfSignedCertificate.localhost();

  @Override
  protected String transport() {
    return "sse";
  }

  @Override
  protected TransportConfig.Builder configure(TransportConfig.Builder b) {
    return b.sslContext(CERT.clientContext());
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    SseTransportFilter sse = SseTransportFilter.builder(hub)
        .heartbeat(Duration.ofMillis(200))
        .retry(Duration.ofMillis(50))
        .build();
    return EmbeddedJetty.startTls(port, List.of(sse, new HttpTransportFilter(hub)), context -> { }, CERT);
  }
}
