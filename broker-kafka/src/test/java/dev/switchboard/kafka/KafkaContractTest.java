package dev.switchboard.kafka;

import dev.switchboard.grpc.GrpcHubServer;
import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.ws.WebSocketTransport;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.Nested;

/**
 * The whole transport contract with {@link KafkaBroker} behind the hub (a real Kafka broker), over
 * SSE, long polling, WebSocket and gRPC. Each hub gets a Kafka topic of its own, and the suite's
 * history size is the broker's resume window.
 */
class KafkaContractTest {
  abstract static class OverKafka extends TransportContractTest {
    @Override
    protected Broker newBroker(int historySize) {
      return KafkaTestSupport.node(KafkaTestSupport.newTopic()).partitions(1).maxMessagesPerTopic(historySize).build();
    }

    @Override
    protected Server startServer(Hub hub, int port) throws Exception {
      WebSocketTransport ws = WebSocketTransport.builder(hub).build();
      return EmbeddedJetty.start(port, List.of(new SseTransportFilter(hub), new HttpTransportFilter(hub)),
          context -> JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(container)));
    }
  }

  @Nested
  class Sse extends OverKafka {
    @Override
    protected String transport() {
      return "sse";
    }
  }

  @Nested
  class LongPolling extends OverKafka {
    @Override
    protected String transport() {
      return "longpoll";
    }

    @Override
    protected boolean serverPush() {
      return false;
    }
  }

  @Nested
  class WebSocket extends OverKafka {
    @Override
    protected String transport() {
      return "ws";
    }
  }

  @Nested
  class Grpc extends OverKafka {
    @Override
    protected String transport() {
      return "grpc";
    }

    @Override
    protected Server startServer(Hub hub, int port) {
      GrpcHubServer server = GrpcHubServer.builder(hub).host("127.0.0.1").port(port)
          .shutdownGrace(Duration.ofSeconds(2)).start();
      return new Server() {
        @Override
        public URI url() {
          return URI.create("grpc://127.0.0.1:" + server.port());
        }

        @Override
        public int port() {
          return server.port();
        }

        @Override
        public void close() {
          server.close();
        }
      };
    }
  }
}
