package dev.switchboard.http;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import java.util.List;

/** The whole transport contract over long polling on embedded Jetty 12 (subclasses: other containers). */
class LongPollContractTest extends TransportContractTest {
  @Override
  protected String transport() {
    return "longpoll";
  }

  @Override
  protected boolean serverPush() {
    return false;
  }

  /** The container the suite runs on. */
  protected EmbeddedContainer container() {
    return EmbeddedContainer.JETTY;
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    return container().start(port, List.of(new HttpTransportFilter(hub)));
  }
}
