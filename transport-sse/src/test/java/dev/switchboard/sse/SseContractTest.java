package dev.switchboard.sse;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import java.time.Duration;
import java.util.List;

/** The whole transport contract over Server-Sent Events on embedded Jetty 12 (subclasses: other containers). */
class SseContractTest extends TransportContractTest {
  @Override
  protected String transport() {
    return "sse";
  }

  /** The container the suite runs on. */
  protected EmbeddedContainer container() {
    return EmbeddedContainer.JETTY;
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    SseTransportFilter sse = SseTransportFilter.builder(hub)
        .heartbeat(Duration.ofMillis(200))
        .retry(Duration.ofMillis(50))
        .build();
    return container().start(port, List.of(sse, new HttpTransportFilter(hub)));
  }
}
