package dev.switchboard.http3;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.TransportConfig;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole transport contract over SSE on HTTP/3: the hub on Jetty's QUIC connector, the client on
 * Jetty's HTTP/3 client ({@code switchboard.http3=true}), trusting the test certificate. Skipped, saying
 * why, where the native quiche library cannot load.
 */
class Http3SseContractTest extends TransportContractTest {
  @BeforeAll
  static void requireHttp3() {
    assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
  }

  @Override
  protected String transport() {
    return "sse";
  }

  @Override
  protected TransportConfig.Builder configure(TransportConfig.Builder b) {
    return b.http3(true).trustStore(Http3TestServer.CERT.trustStore());
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    return Http3TestServer.start(hub, port);
  }
}
