package dev.switchboard.http;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
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
    return EmbeddedJetty.start(port, List.of(new HttpTransportFilter(hub)));
  }
}
