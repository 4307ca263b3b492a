package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** At the hub's connection limit every new call of the Hub service is UNAVAILABLE with a retry hint. */
@Timeout(60)
class GrpcAdmissionTest {
  private Hub hub;
  private GrpcHubServer server;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    hub = Hub.builder().broker(new InMemoryBroker(10)).maxConnections(1).build();
    server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ofSeconds(1)).start();
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    hub.shutdown();
  }

  private static String trailer(StatusRuntimeException e, String key) {
    Metadata t = e.getTrailers();
    return t == null ? null : t.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
  }

  private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  private static void assertRefused(StatusRuntimeException e) {
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals("too_many_connections", trailer(e, "switchboard-error"));
    assertEquals("503", trailer(e, "switchboard-status"));
    assertEquals("1", trailer(e, "retry-after"));
  }

  @Test
  void atTheLimit_newStreamsAreUnavailable_publishesAndHealthStillServe_andFreedCapacityIsUsable() throws Exception {
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    PublishRequest publish = PublishRequest.newBuilder().setTopic("t")
        .setData(ByteString.copyFromUtf8("x")).setContentType("text/plain").build();
    Context.CancellableContext first = Context.current().withCancellation();
    try {
      Iterator<SubscribeEvent> events = first.call(() -> stub.subscribe(SubscribeRequest.newBuilder().setTopic("t").build()));
      // A message reaches the stream: it holds the hub's one connection now.
      await("the stream is subscribed", () -> hub.subscriberCount() == 1);
      hub.publish("t", "x").toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertEquals("x", events.next().getMessage().getData().toStringUtf8());
      assertEquals(1, hub.connectionCount());

      assertRefused(assertThrows(StatusRuntimeException.class,
          () -> stub.subscribe(SubscribeRequest.newBuilder().setTopic("t").build()).next()));
      // A unary publish holds no connection: a hub full of subscribers still takes it.
      assertEquals("t", stub.publish(publish).getTopic());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(20, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus());
    } finally {
      first.cancel(null);
    }
    await("the cancelled stream released its connection", () -> hub.connectionCount() == 0);
    Context.CancellableContext again = Context.current().withCancellation();
    try {
      Iterator<SubscribeEvent> events = again.call(() -> stub.subscribe(SubscribeRequest.newBuilder().setTopic("t2").build()));
      await("the new stream is subscribed", () -> hub.subscriberCount() == 1);
      hub.publish("t2", "y").toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertEquals("y", events.next().getMessage().getData().toStringUtf8());
    } finally {
      again.cancel(null);
    }
  }
}
