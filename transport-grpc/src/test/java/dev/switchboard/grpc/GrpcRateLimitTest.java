package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.Error;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.PublishSummary;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.RateLimit;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * gRPC publishes over a rate limit fail RESOURCE_EXHAUSTED ({@code too_many_requests}, 429,
 * {@code retry-after}) on a Netty server, while other principals and connections go on. One permit
 * an hour after the burst, so nothing refills while the test runs.
 */
@Timeout(120)
class GrpcRateLimitTest {
  private static final RateLimit BURST_5_THEN_HOURLY = RateLimit.of(1, Duration.ofHours(1)).withBurst(5);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private Hub hub;
  private GrpcHubServer server;
  private ManagedChannel channel;

  private void start(RateLimit perConnection, RateLimit perPrincipal) {
    hub = Hub.builder()
        .authenticator(h -> h.bearerToken() == null ? Authenticator.ANONYMOUS : h::bearerToken)
        .publishRatePerConnection(perConnection)
        .publishRatePerPrincipal(perPrincipal)
        .build();
    server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ofSeconds(1)).start();
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private static Metadata bearer(String token) {
    Metadata md = new Metadata();
    md.put(AUTHORIZATION, "Bearer " + token);
    return md;
  }

  private HubGrpc.HubBlockingStub blocking(String token) {
    return HubGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static PublishRequest request(String topic) {
    return PublishRequest.newBuilder().setTopic(topic).setContentType("text/plain")
        .setData(ByteString.copyFromUtf8("x")).build();
  }

  private static String trailer(StatusRuntimeException e, String key) {
    Metadata t = e.getTrailers();
    return t == null ? null : t.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
  }

  private static void assertTooManyRequests(Error e) {
    assertEquals(8, e.getCode(), e.toString());
    assertEquals(429, e.getStatus(), e.toString());
    assertEquals("too_many_requests", e.getError(), e.toString());
    assertTrue(e.getRetryAfter() > 3000 && e.getRetryAfter() <= 3600, e.toString());
  }

  @Test
  void unaryPublish_overThePrincipalsLimit_isResourceExhaustedWithRetryAfter_whileAnotherPrincipalPublishes() {
    start(RateLimit.unlimited(), BURST_5_THEN_HOURLY);
    for (int i = 0; i < 5; i++) {
      blocking("alice").publish(request("t"));
    }
    for (int i = 0; i < 10; i++) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking("alice").publish(request("t")));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
      assertEquals("too_many_requests", trailer(e, "switchboard-error"));
      assertEquals("429", trailer(e, "switchboard-status"));
      long retryAfter = Long.parseLong(trailer(e, "retry-after"));
      assertTrue(retryAfter > 3000 && retryAfter <= 3600, "retry-after " + retryAfter);
    }
    for (int i = 0; i < 5; i++) {
      blocking("bob").publish(request("t")); // bob has his own bucket
    }
    assertEquals(10, hub.rateLimitedPublishes());
  }

  @Test
  void publishStream_overThePrincipalsLimit_listsTheRefusedMessagesAsFailures() throws Exception {
    start(RateLimit.unlimited(), BURST_5_THEN_HOURLY);
    CompletableFuture<PublishSummary> summary = new CompletableFuture<>();
    StreamObserver<PublishRequest> requests = HubGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("alice")))
        .withDeadlineAfter(20, TimeUnit.SECONDS).publishStream(new StreamObserver<>() {
          @Override
          public void onNext(PublishSummary s) {
            summary.complete(s);
          }

          @Override
          public void onError(Throwable t) {
            summary.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    for (int i = 0; i < 8; i++) {
      requests.onNext(request("t"));
    }
    requests.onCompleted();
    PublishSummary s = summary.get(20, TimeUnit.SECONDS);
    assertEquals(5, s.getAccepted(), s.toString());
    assertEquals(3, s.getFailed(), s.toString());
    assertEquals(5, s.getFailures(0).getIndex());
    s.getFailuresList().forEach(f -> assertTooManyRequests(f.getError()));
  }

  @Test
  void grpcClientSend_overTheLimit_failsWithTooManyRequestsAndTheRetryHint() throws Exception {
    start(BURST_5_THEN_HOURLY, RateLimit.unlimited());
    try (Channel c = Transports.open(TransportConfig.builder().transport("grpc")
        .url("grpc://127.0.0.1:" + server.port()).build())) {
      for (int i = 0; i < 5; i++) {
        c.send(Message.text("t", "m" + i)).toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> c.send(Message.text("t", "over")).toCompletableFuture().get(20, TimeUnit.SECONDS));
      SwitchboardException s = SwitchboardException.from(e);
      assertEquals(dev.switchboard.transport.Status.TOO_MANY_REQUESTS, s.status());
      assertEquals("too_many_requests", s.errorCode());
      assertTrue(s.retryAfter().orElseThrow().toSeconds() > 3000, s.toString());
    }
  }

  /** A Connect session recording every server frame. */
  private final class Session implements StreamObserver<ServerFrame> {
    final LinkedBlockingQueue<ServerFrame> frames = new LinkedBlockingQueue<>();
    final StreamObserver<ClientFrame> out;

    Session() {
      out = HubGrpc.newStub(channel).connect(this);
    }

    ServerFrame publish(String ref) throws InterruptedException {
      out.onNext(ClientFrame.newBuilder().setRef(ref).setPublish(request("t")).build());
      return next();
    }

    ServerFrame next() throws InterruptedException {
      ServerFrame f = frames.poll(20, TimeUnit.SECONDS);
      assertNotNull(f, "no frame within 20 s");
      return f;
    }

    @Override
    public void onNext(ServerFrame f) {
      frames.add(f);
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  @Test
  void connectSession_overItsLimit_getsErrorFrames_staysOpen_andAnotherSessionPublishes() throws Exception {
    start(BURST_5_THEN_HOURLY, RateLimit.unlimited());
    Session flooder = new Session();
    for (int i = 0; i < 5; i++) {
      ServerFrame f = flooder.publish("p" + i);
      assertTrue(f.hasAck(), f.toString());
      assertEquals("p" + i, f.getRef());
    }
    for (int i = 5; i < 20; i++) {
      ServerFrame f = flooder.publish("p" + i);
      assertTrue(f.hasError(), f.toString());
      assertEquals("p" + i, f.getRef());
      assertTooManyRequests(f.getError());
    }
    Session other = new Session();
    for (int i = 0; i < 5; i++) {
      assertTrue(other.publish("o" + i).hasAck());
    }
    flooder.out.onNext(ClientFrame.newBuilder().setRef("s")
        .setSubscribe(SubscribeRequest.newBuilder().setTopic("t")).build());
    ServerFrame subscribed = flooder.next();
    assertTrue(subscribed.hasSubscribed(), "the limited session is still served: " + subscribed);
    flooder.out.onCompleted();
    other.out.onCompleted();
  }
}
