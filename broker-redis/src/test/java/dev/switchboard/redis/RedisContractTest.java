package dev.switchboard.redis;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.ws.WebSocketTransport;
import java.util.List;
import java.util.UUID;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;

/** The whole transport contract with {@link RedisBroker} behind the hub (local Redis), over SSE and WebSocket. */
class RedisContractTest {
  abstract static class OverRedis extends TransportContractTest {
    private final String prefix = "sbtest:" + UUID.randomUUID() + ":";

    /** The Redis behind the hub (a cluster in {@link RedisClusterContractTest}). */
    protected String redisUri() {
      return RedisBrokerTest.REDIS;
    }

    @Override
    protected Broker newBroker(int historySize) {
      return RedisBroker.builder(redisUri()).keyPrefix(prefix + UUID.randomUUID() + ":")
          .maxLength(historySize).exactTrimming(true).build();
    }

    @Override
    protected Server startServer(Hub hub, int port) throws Exception {
      WebSocketTransport ws = WebSocketTransport.builder(hub).build();
      return EmbeddedJetty.start(port, List.of(new SseTransportFilter(hub), new HttpTransportFilter(hub)),
          context -> JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(container)));
    }

    @AfterEach
    void deleteKeys() {
      RedisTestSupport.deleteKeys(redisUri(), prefix);
    }
  }

  @Nested
  class Sse extends OverRedis {
    @Override
    protected String transport() {
      return "sse";
    }
  }

  @Nested
  class WebSocket extends OverRedis {
    @Override
    protected String transport() {
      return "ws";
    }
  }
}
