package dev.switchboard.grpc;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.TransportContractTest;
import io.grpc.inprocess.InProcessServerBuilder;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The whole transport contract over gRPC's in-process transport, with the service added to a
 * server the test builds itself (as users add it to their own {@code io.grpc.Server}).
 */
class GrpcInProcessContractTest extends TransportContractTest {
  private static final AtomicInteger NEXT_ID = new AtomicInteger(1);

  @Override
  protected String transport() {
    return "grpc";
  }

  /**
   * The in-process transport has no socket buffers: a client that stops reading stops the server's
   * writes after one message, while its subscription is still replaying history, and a replaying
   * subscription reads the next page only when there is room, so it lags without ever overflowing
   * (and catches up later). The slow-consumer cut-off of a live subscriber is proven over Netty in
   * {@link GrpcNettyContractTest}; here the stalled-consumer test checks the rest (nobody else is
   * delayed, the stalled one catches up from history) as it does for long polling.
   */
  @Override
  protected boolean serverPush() {
    return false;
  }

  @Override
  protected Server startServer(Hub hub, int port) throws Exception {
    int id = port == 0 ? NEXT_ID.getAndIncrement() : port; // "port" names the in-process server
    String name = "switchboard-contract-" + id;
    GrpcHubService service = new GrpcHubService(hub);
    io.grpc.Server server = InProcessServerBuilder.forName(name)
        .addService(service)
        .maxInboundMessageSize(hub.maxPayloadBytes() + 64 * 1024)
        .build()
        .start();
    return new Server() {
      @Override
      public URI url() {
        return URI.create("inprocess://" + name);
      }

      @Override
      public int port() {
        return id;
      }

      @Override
      public void close() throws InterruptedException {
        server.shutdown();
        service.closeStreams("test server stopping");
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    };
  }
}
