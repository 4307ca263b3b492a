package dev.switchboard.http3;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.SelfSignedCertificate;
import dev.switchboard.testkit.TransportContractTest;
import jakarta.servlet.Filter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.quic.quiche.server.QuicheServerConnector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A hub's REST and SSE endpoints on Jetty over HTTPS (h2, http/1.1) and HTTP/3, both on one port
 * number (TCP and UDP), with {@code Alt-Svc} on the TLS connector.
 */
final class Http3TestServer implements TransportContractTest.Server {
  static final SelfSignedCertificate CERT = SelfSignedCertificate.localhost();

  final Server server;
  final ServerConnector tls;
  final QuicheServerConnector h3;

  private Http3TestServer(Server server, ServerConnector tls, QuicheServerConnector h3) {
    this.server = server;
    this.tls = tls;
    this.h3 = h3;
  }

  static Http3TestServer start(Hub hub, int port) throws Exception {
    SseTransportFilter sse = SseTransportFilter.builder(hub).heartbeat(Duration.ofMillis(500))
        .retry(Duration.ofMillis(50)).build();
    return start(List.of(sse, new HttpTransportFilter(hub)), port);
  }

  static Http3TestServer start(List<? extends Filter> filters, int port) throws Exception {
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    var ssl = EmbeddedJetty.sslContextFactory(CERT);
    ServerConnector tls = EmbeddedJetty.httpsConnector(server, ssl, config);
    tls.setHost("127.0.0.1");
    tls.setPort(port);
    server.addConnector(tls);
    tls.open(); // the TCP port first, so the UDP connector can take the same number
    QuicheServerConnector h3 = Http3.addConnector(server, ssl, config, "127.0.0.1", tls.getLocalPort());
    Http3.advertise(config, h3);
    server.setHandler(EmbeddedJetty.context(filters));
    server.start();
    return new Http3TestServer(server, tls, h3);
  }

  static Hub newHub() {
    return Hub.builder().broker(new InMemoryBroker(1000)).build();
  }

  @Override
  public URI url() {
    return URI.create("https://localhost:" + port());
  }

  @Override
  public int port() {
    return h3.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
