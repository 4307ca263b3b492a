package dev.switchboard.http;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
import java.net.URI;
import java.util.List;

/** The whole transport contract over long polling on embedded Jetty 12. */
class LongPollContractTest extends TransportContractTest {
  @Override
  protected String transport() {
    return "longpoll";
  }

  @Override
  protected boolean serverPush() {
    return false;
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    EmbeddedJetty jetty = EmbeddedJetty.start(port, List.of(new HttpTransportFilter(hub)));
    return new Server() {
      @Override
      public URI url() {
        return jetty.url();
      }

      @Override
      public int port() {
        return jetty.port();
      }

      @Override
      public void close() throws Exception {
        jetty.close();
      }
    };
  }
}
