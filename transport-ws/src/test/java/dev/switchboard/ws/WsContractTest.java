package dev.switchboard.ws;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;

/** The whole transport contract over WebSocket on embedded Jetty 12 (ee10 Jakarta WebSocket). */
class WsContractTest extends TransportContractTest {
  @Override
  protected String transport() {
    return "ws";
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    WebSocketTransport ws = WebSocketTransport.builder(hub).pingInterval(Duration.ofSeconds(1)).build();
    return EmbeddedJetty.start(port, List.of(), context ->
        JakartaWebSocketServletContainerInitializer.configure(context, (servletContext, container) -> ws.register(container)));
  }
}
