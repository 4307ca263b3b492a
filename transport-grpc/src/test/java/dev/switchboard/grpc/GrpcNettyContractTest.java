package dev.switchboard.grpc;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.TransportContractTest;
import java.net.URI;
import java.time.Duration;

/** The whole transport contract over real Netty on a loopback port, through {@link GrpcHubServer}. */
class GrpcNettyContractTest extends TransportContractTest {
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
