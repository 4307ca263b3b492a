package dev.switchboard.ws;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import java.time.Duration;
import java.util.List;

/** The whole transport contract over WebSocket on embedded Jetty 12 (subclasses: other containers). */
class WsContractTest extends TransportContractTest {
  @Override
  protected String transport() {
    return "ws";
  }

  /** The container the suite runs on. */
  protected EmbeddedContainer container() {
    return EmbeddedContainer.JETTY;
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    WebSocketTransport ws = WebSocketTransport.builder(hub).pingInterval(Duration.ofSeconds(30)).build();
    return container().start(port, List.of(), ws::register);
  }
}
