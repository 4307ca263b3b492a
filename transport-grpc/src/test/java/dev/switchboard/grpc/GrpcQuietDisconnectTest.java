package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Clients that vanish while the server still has data for them: nothing above DEBUG (JUL FINE) in
 * gRPC's own logs, no stack trace. Netty's HTTP/2 flow controller fails the frames still queued for
 * a stream that closed ("Stream closed before write could take place") and grpc-netty logged each
 * such failure as a WARNING "Stream Error" with a stack trace (10 of them in this test before
 * {@link ClientGoneStreamErrors}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcQuietDisconnectTest {
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      if (r.getLevel().intValue() > Level.FINE.intValue()
          || String.valueOf(r.getMessage()).contains(ClientGoneStreamErrors.CLOSED_BEFORE_WRITE)) {
        records.add(r);
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private final Logger grpcLogs = Logger.getLogger("io.grpc");
  private final Logger handlerLogs = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler");
  private Level handlerLevel;
  private Hub hub;
  private GrpcHubServer server;

  @AfterEach
  void stop() {
    grpcLogs.removeHandler(capture);
    handlerLogs.setLevel(handlerLevel);
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  private static <T> ClientResponseObserver<SubscribeRequest, T> neverReads() {
    return new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<SubscribeRequest> r) {
        r.disableAutoRequestWithInitial(0);
      }

      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  @Test
  void clientsVanishingWithDataQueuedForThem_logNothingAboveDebug() throws Exception {
    grpcLogs.addHandler(capture);
    handlerLevel = handlerLogs.getLevel();
    handlerLogs.setLevel(Level.FINE); // so the demoted records are seen: the condition did occur
    hub = Hub.builder().maxPayloadBytes(64 * 1024).build();
    server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ofSeconds(1)).start();
    byte[] filler = new byte[8 * 1024];
    for (int round = 0; round < 5; round++) {
      // A small window, filled at once, so data waits in the server's flow controller.
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
          .flowControlWindow(16 * 1024).build();
      HubGrpc.HubStub stub = HubGrpc.newStub(channel);
      String topic = "flood" + round;
      stub.subscribe(SubscribeRequest.newBuilder().setTopic(topic).build(), neverReads());
      StreamObserver<ClientFrame> session = stub.connect(new ClientResponseObserver<ClientFrame, ServerFrame>() {
        @Override
        public void beforeStart(ClientCallStreamObserver<ClientFrame> r) {
          r.disableAutoRequestWithInitial(0);
        }

        @Override
        public void onNext(ServerFrame value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      });
      session.onNext(ClientFrame.newBuilder().setSubscribe(SubscribeRequest.newBuilder().setTopic(topic)).build());
      await("both subscriptions are in place", () -> hub.subscriberCount() == 2);
      for (int i = 0; i < 40; i++) {
        hub.publish(Message.builder(topic).payload(filler).build()).toCompletableFuture().get();
      }
      channel.shutdownNow(); // abrupt: RST_STREAM for both calls, then the connection goes
      await("the server released both", () -> hub.subscriberCount() == 0 && hub.connectionCount() == 0);
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    // The flow controller fails the queued frames on the server's event loop, which may run after the
    // release seen above: give it a moment before checking that nothing was logged.
    Thread.sleep(500);
    List<String> loud = records.stream().filter(r -> r.getLevel().intValue() > Level.FINE.intValue()
        || r.getThrown() != null).map(r -> r.getLevel() + " " + r.getLoggerName() + ": " + r.getMessage()
        + (r.getThrown() == null ? "" : " " + r.getThrown())).toList();
    assertEquals(List.of(), loud);
    assertTrue(records.size() >= 5, "data was still queued when clients vanished, logged at FINE: " + records.size());
    assertTrue(hub.slowConsumerDisconnects() == 0, "the clients went away, they were not cut off");
  }
}
