package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishFailure;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.PublishResponse;
import dev.switchboard.grpc.v1.PublishSummary;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Message;
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
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The gRPC wire protocol as another language's generated client sees it: raw stubs against
 * {@link GrpcHubServer} on a loopback port. Status codes, trailers, flow control, cancellation,
 * bulk ingest, bad frames, health and reflection.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcWireTest {
  private static final long WAIT_SECONDS = 30;

  private InMemoryBroker broker;
  private Hub hub;
  private GrpcHubServer server;
  private final List<ManagedChannel> channels = new ArrayList<>();

  private void start(int history, Consumer<Hub.Builder> customize) {
    broker = new InMemoryBroker(history);
    Hub.Builder b = Hub.builder().broker(broker).maxPayloadBytes(64 * 1024);
    customize.accept(b);
    hub = b.build();
    server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ofSeconds(1)).start();
  }

  private ManagedChannel channel() {
    ManagedChannel c = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(),
        InsecureChannelCredentials.create()).maxInboundMessageSize(16 << 20).build();
    channels.add(c);
    return c;
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private static PublishRequest text(String topic, String text) {
    return PublishRequest.newBuilder().setTopic(topic).setData(ByteString.copyFromUtf8(text))
        .setContentType("text/plain; charset=utf-8").build();
  }

  private static StatusRuntimeException failure(Runnable call) {
    return assertThrows(StatusRuntimeException.class, call::run);
  }

  private static String trailer(StatusRuntimeException e, String key) {
    Metadata t = e.getTrailers();
    return t == null ? null : t.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void publishThenSubscribe_replaysHistoryAfterTheIdThenStreamsLive_withEveryField() throws Exception {
    start(1000, b -> { });
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(channel());
    PublishResponse first = stub.publish(text("orders", "one"));
    assertEquals("orders", first.getTopic());
    assertTrue(first.hasTime());
    stub.publish(PublishRequest.newBuilder().setTopic("orders").setEvent("created")
        .setData(ByteString.copyFrom(new byte[] {0, 1, 2, (byte) 255})).setContentType("application/x-thing")
        .putHeaders("trace", "abc").build());

    Context.CancellableContext ctx = Context.current().withCancellation();
    try {
      Iterator<SubscribeEvent> events = ctx.call(() ->
          stub.subscribe(SubscribeRequest.newBuilder().setTopic("orders").setAfter(first.getId()).build()));
      dev.switchboard.grpc.v1.Message m = events.next().getMessage();
      assertEquals("created", m.getEvent());
      assertEquals(ByteString.copyFrom(new byte[] {0, 1, 2, (byte) 255}), m.getData());
      assertEquals("application/x-thing", m.getContentType());
      assertEquals("abc", m.getHeadersMap().get("trace"));
      assertTrue(m.hasTime());
      assertFalse(m.getId().isEmpty());
      hub.publish("orders", "live").toCompletableFuture().get();
      assertEquals("live", events.next().getMessage().getData().toStringUtf8());
    } finally {
      ctx.cancel(null);
    }
  }

  @Test
  void idempotencyKey_retryGetsTheFirstId_anotherRequestWithTheKeyIsRefused() throws Exception {
    start(1000, b -> { });
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(channel());
    PublishRequest pay = text("pay", "{\"n\":1}").toBuilder().setIdempotencyKey("k-1").build();
    PublishResponse first = stub.publish(pay);
    assertEquals(first.getId(), stub.publish(pay).getId(), "a retry is answered with the first id");
    StatusRuntimeException e = failure(() -> stub.publish(pay.toBuilder().setData(ByteString.copyFromUtf8("other")).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("idempotency_key_reused", trailer(e, "switchboard-error"));
    e = failure(() -> stub.publish(pay.toBuilder().setIdempotencyKey("bad key").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals(1, broker.history("pay", null, 100).toCompletableFuture().get().messages().size(),
        "the retry stored no second message");
  }

  @Test
  void badPublishes_getTheRightStatus_withSwitchboardTrailers() {
    start(1000, b -> { });
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(channel());

    StatusRuntimeException e = failure(() -> stub.publish(text("bad topic!", "x")));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals("400", trailer(e, "switchboard-status"));
    assertTrue(e.getStatus().getDescription().contains("bad topic!"), e.getStatus().getDescription());

    e = failure(() -> stub.publish(PublishRequest.newBuilder().setData(ByteString.copyFromUtf8("x")).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals("missing_field", trailer(e, "switchboard-error"));

    e = failure(() -> stub.publish(text("ok", "x").toBuilder().setEvent("bad event\n").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());

    // Over the hub's payload limit: refused by Switchboard, with the HTTP status other transports use.
    e = failure(() -> stub.publish(PublishRequest.newBuilder().setTopic("big")
        .setData(ByteString.copyFrom(new byte[100 * 1024])).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("413", trailer(e, "switchboard-status"));

    // Over the server's inbound message limit (payload limit + 64 KiB): refused by gRPC before it is read.
    e = failure(() -> stub.publish(PublishRequest.newBuilder().setTopic("big")
        .setData(ByteString.copyFrom(new byte[512 * 1024])).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());

    e = failure(() -> stub.subscribe(SubscribeRequest.newBuilder().setTopic("x".repeat(201)).build()).next());
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());

    // An id this hub never gave out cannot be resumed from: said with a reset, like a stale id.
    Context.CancellableContext ctx = Context.current().withCancellation();
    try {
      SubscribeEvent first = ctx.call(() -> stub.subscribe(
          SubscribeRequest.newBuilder().setTopic("ok").setAfter("not-an-id").build()).next());
      assertEquals("history_gap", first.getReset().getReason());
    } catch (Exception x) {
      throw new AssertionError(x);
    } finally {
      ctx.cancel(null);
    }

    // The server is still fine.
    assertFalse(stub.publish(text("ok", "still works")).getId().isEmpty());
  }

  @Test
  void authentication_fromBearerMetadata_andAuthorizationPerTopic() {
    Principal alice = () -> "alice";
    start(1000, b -> b.authenticator(Authenticator.bearer(t -> t.equals("s3cret") ? alice : null))
        .authorizer((p, topic, action) -> !topic.startsWith("secret")));
    ManagedChannel ch = channel();
    HubGrpc.HubBlockingStub anonymous = HubGrpc.newBlockingStub(ch);
    StatusRuntimeException e = failure(() -> anonymous.publish(text("news", "x")));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    e = failure(() -> anonymous.subscribe(SubscribeRequest.newBuilder().setTopic("news").build()).next());
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());

    Metadata wrong = new Metadata();
    wrong.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer guess");
    e = failure(() -> anonymous.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wrong))
        .publish(text("news", "x")));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());

    Metadata right = new Metadata();
    right.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer s3cret");
    HubGrpc.HubBlockingStub authed = anonymous.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(right));
    assertFalse(authed.publish(text("news", "x")).getId().isEmpty());
    e = failure(() -> authed.publish(text("secret.plans", "x")));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    e = failure(() -> authed.subscribe(SubscribeRequest.newBuilder().setTopic("secret.plans").build()).next());
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
  }

  @Test
  void subscribeFromAnIdOlderThanHistory_startsWithAHistoryGapReset() {
    start(5, b -> { });
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(channel());
    String first = stub.publish(text("gap", "g0")).getId();
    for (int i = 1; i < 20; i++) {
      stub.publish(text("gap", "g" + i));
    }
    Context.CancellableContext ctx = Context.current().withCancellation();
    try {
      Iterator<SubscribeEvent> events = ctx.call(() ->
          stub.subscribe(SubscribeRequest.newBuilder().setTopic("gap").setAfter(first).build()));
      SubscribeEvent reset = events.next();
      assertEquals("history_gap", reset.getReset().getReason());
      assertEquals("gap", reset.getReset().getTopic());
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        texts.add(events.next().getMessage().getData().toStringUtf8());
      }
      assertEquals(List.of("g15", "g16", "g17", "g18", "g19"), texts);
    } catch (Exception e) {
      throw new AssertionError(e);
    } finally {
      ctx.cancel(null);
    }
  }

  @Test
  void cancelledSubscribe_andExpiredDeadline_removeTheSubscriptionAtOnce() throws Exception {
    start(1000, b -> { });
    HubGrpc.HubStub stub = HubGrpc.newStub(channel());
    LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    Context.CancellableContext ctx = Context.current().withCancellation();
    ctx.run(() -> stub.subscribe(SubscribeRequest.newBuilder().setTopic("c").build(), recorder(events)));
    await("the subscription is in place", () -> hub.subscriberCount() == 1);
    ctx.cancel(null);
    await("the cancelled subscription is gone", () -> hub.subscriberCount() == 0);
    assertEquals(Status.Code.CANCELLED, Status.fromThrowable((Throwable) events.poll(WAIT_SECONDS, TimeUnit.SECONDS)).getCode());
    assertEquals(0, hub.connectionCount());

    events.clear();
    stub.withDeadlineAfter(500, TimeUnit.MILLISECONDS)
        .subscribe(SubscribeRequest.newBuilder().setTopic("c").build(), recorder(events));
    Object end = events.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    while (!(end instanceof Throwable)) {
      end = events.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(end, "the deadline ends the call");
    }
    assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable((Throwable) end).getCode());
    await("the expired subscription is gone", () -> hub.subscriberCount() == 0 && hub.connectionCount() == 0);
  }

  /** Completes {@code f} with the first response (or the call's error). */
  static <T> StreamObserver<T> firstValue(CompletableFuture<T> f) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        f.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        f.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        f.completeExceptionally(new AssertionError("completed without a response"));
      }
    };
  }

  private static <T> StreamObserver<T> recorder(LinkedBlockingQueue<Object> events) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        events.add(value);
      }

      @Override
      public void onError(Throwable t) {
        events.add(t);
      }

      @Override
      public void onCompleted() {
        events.add("completed");
      }
    };
  }

  @Test
  void clientThatNeverReads_isGovernedByFlowControl_andCutOffAsASlowConsumer() throws Exception {
    start(100_000, b -> b.maxQueuedMessages(16).maxQueuedBytes(64 * 1024));
    HubGrpc.HubStub stub = HubGrpc.newStub(channel());
    LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
    CompletableFuture<ClientCallStreamObserver<?>> requests = new CompletableFuture<>();
    stub.subscribe(SubscribeRequest.newBuilder().setTopic("flood").build(),
        new ClientResponseObserver<SubscribeRequest, SubscribeEvent>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<SubscribeRequest> r) {
            r.disableAutoRequestWithInitial(0); // reads nothing until told
            requests.complete(r);
          }

          @Override
          public void onNext(SubscribeEvent value) {
            events.add(value);
          }

          @Override
          public void onError(Throwable t) {
            events.add(t);
          }

          @Override
          public void onCompleted() {
            events.add("completed");
          }
        });
    await("the subscription is in place", () -> hub.subscriberCount() == 1);
    byte[] filler = new byte[8 * 1024];
    int published = 0;
    while (hub.slowConsumerDisconnects() == 0 && published < 20_000) {
      hub.publish(Message.builder("flood").payload(filler).build()).toCompletableFuture().get();
      published++;
    }
    assertEquals(1, hub.slowConsumerDisconnects(), "cut off after " + published + " messages");
    assertEquals(0, hub.subscriberCount());
    // What gRPC's own window held is still delivered; then the call ends with the reason.
    requests.get().request(Integer.MAX_VALUE);
    Object last;
    int delivered = 0;
    while (!((last = events.poll(WAIT_SECONDS, TimeUnit.SECONDS)) instanceof Throwable)) {
      assertNotNull(last, "the call ends");
      delivered++;
    }
    assertTrue(delivered < published, "undelivered messages were dropped, not buffered: " + delivered);
    StatusRuntimeException e = (StatusRuntimeException) last;
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("slow_consumer", trailer(e, "switchboard-error"));
  }

  @Test
  void publishStream_publishesInOrder_andSummarisesFailuresWithoutStopping() throws Exception {
    start(1000, b -> { });
    HubGrpc.HubStub stub = HubGrpc.newStub(channel());
    CompletableFuture<PublishSummary> summary = new CompletableFuture<>();
    StreamObserver<PublishRequest> in = stub.publishStream(firstValue(summary));
    for (int i = 0; i < 200; i++) {
      if (i == 10) {
        in.onNext(text("bad topic!", "x"));
      } else if (i == 50) {
        in.onNext(PublishRequest.newBuilder().setTopic("bulk").setData(ByteString.copyFrom(new byte[100 * 1024])).build());
      } else {
        in.onNext(text("bulk", "b" + i));
      }
    }
    in.onCompleted();
    PublishSummary s = summary.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertEquals(198, s.getAccepted());
    assertEquals(2, s.getFailed());
    assertEquals(List.of(10L, 50L), s.getFailuresList().stream().map(PublishFailure::getIndex).collect(Collectors.toList()));
    assertEquals(Status.Code.INVALID_ARGUMENT.value(), s.getFailures(0).getError().getCode());
    assertEquals(413, s.getFailures(1).getError().getStatus());

    List<Message> stored = broker.history("bulk", null, 1000).toCompletableFuture().get().messages();
    assertEquals(198, stored.size());
    assertEquals(s.getFirstId(), stored.get(0).id());
    assertEquals(s.getLastId(), stored.get(197).id());
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      if (i != 10 && i != 50) {
        expected.add("b" + i);
      }
    }
    assertEquals(expected, stored.stream().map(Message::text).collect(Collectors.toList()));
  }

  @Test
  void connect_answersBadFramesWithErrorFrames_andTheSessionGoesOn() throws Exception {
    start(1000, b -> { });
    HubGrpc.HubStub stub = HubGrpc.newStub(channel());
    LinkedBlockingQueue<Object> frames = new LinkedBlockingQueue<>();
    StreamObserver<ClientFrame> out = stub.connect(recorder(frames));

    out.onNext(ClientFrame.newBuilder().setRef("r1").build()); // no frame kind at all
    ServerFrame f = next(frames);
    assertEquals("r1", f.getRef());
    assertEquals("unknown_frame", f.getError().getError());
    assertEquals(Status.Code.INVALID_ARGUMENT.value(), f.getError().getCode());

    // A frame kind from a newer client (field 99) is unknown here too.
    out.onNext(ClientFrame.newBuilder().setRef("r2").setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(99, UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFromUtf8("?")).build())
        .build()).build());
    f = next(frames);
    assertEquals("r2", f.getRef());
    assertTrue(f.getError().getMessage().contains("99"), f.getError().getMessage());

    out.onNext(ClientFrame.newBuilder().setRef("r3").setPublish(PublishRequest.newBuilder()
        .setData(ByteString.copyFromUtf8("no topic"))).build());
    f = next(frames);
    assertEquals("r3", f.getRef());
    assertEquals("missing_field", f.getError().getError());

    out.onNext(ClientFrame.newBuilder().setRef("r4").setSubscribe(SubscribeRequest.newBuilder().setTopic("bad topic!")).build());
    f = next(frames);
    assertEquals("r4", f.getRef());
    assertEquals(400, f.getError().getStatus());

    out.onNext(ClientFrame.newBuilder().setRef("r5").setPublish(PublishRequest.newBuilder().setTopic("big")
        .setData(ByteString.copyFrom(new byte[100 * 1024]))).build());
    f = next(frames);
    assertEquals("r5", f.getRef());
    assertEquals(413, f.getError().getStatus());

    // Still usable: subscribe, publish with an ack, receive.
    out.onNext(ClientFrame.newBuilder().setRef("s1").setSubscribe(SubscribeRequest.newBuilder().setTopic("room")).build());
    f = next(frames);
    assertEquals("room", f.getSubscribed().getTopic());
    out.onNext(ClientFrame.newBuilder().setRef("p1").setPublish(text("room", "hello")).build());
    List<ServerFrame> two = List.of(next(frames), next(frames));
    ServerFrame ack = two.stream().filter(ServerFrame::hasAck).findFirst().orElseThrow();
    ServerFrame msg = two.stream().filter(ServerFrame::hasMessage).findFirst().orElseThrow();
    assertEquals("p1", ack.getRef());
    assertEquals(ack.getAck().getId(), msg.getMessage().getId());
    assertEquals("hello", msg.getMessage().getData().toString(StandardCharsets.UTF_8));

    out.onNext(ClientFrame.newBuilder().setRef("u1").setUnsubscribe(
        dev.switchboard.grpc.v1.Unsubscribe.newBuilder().setTopic("room")).build());
    f = next(frames);
    assertEquals("u1", f.getRef());
    assertEquals("room", f.getUnsubscribed().getTopic());
    assertEquals(0, hub.subscriberCount());

    out.onCompleted();
    assertEquals("completed", frames.poll(WAIT_SECONDS, TimeUnit.SECONDS));
    await("the session is released", () -> hub.connectionCount() == 0);
  }

  private static ServerFrame next(LinkedBlockingQueue<Object> frames) throws InterruptedException {
    Object o = frames.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertNotNull(o, "expected a frame");
    if (!(o instanceof ServerFrame)) {
      throw new AssertionError("expected a frame, got " + o);
    }
    return (ServerFrame) o;
  }

  /** A payload that, pasted raw into a history page, makes REST readers see a second message. */
  private static final String FORGED = "1,\"time\":\"2024-01-01T00:00:00Z\"},{\"id\":\"forged-1\",\"topic\":\"p\","
      + "\"contentType\":\"text/plain\",\"data\":\"pwned\"";

  /** A bad publish and what every path must answer: HTTP status and Switchboard error code. */
  private record BadPublish(PublishRequest request, int httpStatus, String error) {}

  private static List<BadPublish> badPublishes() {
    PublishRequest base = PublishRequest.newBuilder().setTopic("p").setData(ByteString.copyFromUtf8("x"))
        .setContentType("text/plain").build();
    PublishRequest.Builder manyHeaders = base.toBuilder();
    for (int i = 0; i < 5000; i++) {
      manyHeaders.putHeaders("h" + i, "v");
    }
    return List.of(
        new BadPublish(base.toBuilder().setContentType("text/plain\r\nX-Evil: 1").build(), 415, "unsupported_media_type"),
        new BadPublish(base.toBuilder().setContentType("text/" + "x".repeat(10_000)).build(), 415, "unsupported_media_type"),
        new BadPublish(base.toBuilder().setContentType("garbage").build(), 415, "unsupported_media_type"),
        new BadPublish(base.toBuilder().setContentType("text/plain; charset=latin1").build(), 415, "unsupported_charset"),
        new BadPublish(base.toBuilder().putHeaders("a\u0001", "v").build(), 400, "invalid_header"),
        new BadPublish(base.toBuilder().putHeaders("a", "v\n").build(), 400, "invalid_header"),
        new BadPublish(base.toBuilder().putHeaders("a b", "v").build(), 400, "invalid_header"),
        new BadPublish(manyHeaders.build(), 400, "too_many_headers"),
        new BadPublish(base.toBuilder().putHeaders("big", "v".repeat(9000)).build(), 400, "headers_too_large"),
        new BadPublish(base.toBuilder().setContentType("application/json").setData(ByteString.copyFromUtf8(FORGED)).build(),
            400, "invalid_json"),
        new BadPublish(base.toBuilder().setContentType("application/json").setData(ByteString.copyFromUtf8("{bad")).build(),
            400, "invalid_json"),
        new BadPublish(base.toBuilder().setData(ByteString.copyFrom(new byte[] {'a', (byte) 0xff})).build(), 400, "invalid_text"));
  }

  @Test
  void publishRules_onEveryGrpcPath_areInvalidArgumentNeverInternal_andStoreNothing() throws Exception {
    start(1000, b -> { });
    PrintStream originalErr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    List<BadPublish> bad = badPublishes();
    try {
      // Publish (unary)
      HubGrpc.HubBlockingStub blocking = HubGrpc.newBlockingStub(channel());
      for (BadPublish b : bad) {
        StatusRuntimeException e = failure(() -> blocking.publish(b.request()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.toString());
        assertEquals(Integer.toString(b.httpStatus()), trailer(e, "switchboard-status"), e.toString());
        assertEquals(b.error(), trailer(e, "switchboard-error"), e.toString());
        assertFalse(e.getStatus().getDescription().contains("IllegalArgumentException"), e.toString());
      }
      // PublishStream
      HubGrpc.HubStub async = HubGrpc.newStub(channel());
      CompletableFuture<PublishSummary> summary = new CompletableFuture<>();
      StreamObserver<PublishRequest> in = async.publishStream(firstValue(summary));
      bad.forEach(b -> in.onNext(b.request()));
      in.onNext(text("good", "fine"));
      in.onCompleted();
      PublishSummary s = summary.get(WAIT_SECONDS, TimeUnit.SECONDS);
      assertEquals(1, s.getAccepted());
      assertEquals(bad.size(), s.getFailed());
      for (int i = 0; i < bad.size(); i++) {
        dev.switchboard.grpc.v1.Error err = s.getFailures(i).getError();
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), err.getCode(), err.toString());
        assertEquals(bad.get(i).httpStatus(), err.getStatus(), err.toString());
        assertEquals(bad.get(i).error(), err.getError(), err.toString());
      }
      // Connect
      LinkedBlockingQueue<Object> frames = new LinkedBlockingQueue<>();
      StreamObserver<ClientFrame> out = async.connect(recorder(frames));
      for (int i = 0; i < bad.size(); i++) {
        out.onNext(ClientFrame.newBuilder().setRef("b" + i).setPublish(bad.get(i).request()).build());
        ServerFrame f = next(frames);
        assertEquals("b" + i, f.getRef());
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), f.getError().getCode(), f.toString());
        assertEquals(bad.get(i).httpStatus(), f.getError().getStatus(), f.toString());
        assertEquals(bad.get(i).error(), f.getError().getError(), f.toString());
      }
      out.onCompleted();
      assertEquals("completed", frames.poll(WAIT_SECONDS, TimeUnit.SECONDS));
    } finally {
      System.setErr(originalErr);
    }
    assertEquals(0, broker.history("p", null, 100).toCompletableFuture().get().messages().size(), "nothing was stored");
    List<Message> good = broker.history("good", null, 100).toCompletableFuture().get().messages();
    assertEquals(1, dev.switchboard.transport.internal.MessageJson.readPage(
        dev.switchboard.transport.internal.MessageJson.historyPage(good, null, true)).messages().size());
    String log = captured.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("WARN") || log.contains("ERROR"), log);
  }

  @Test
  void healthAndReflection_areServed() throws Exception {
    start(1000, b -> { });
    ManagedChannel ch = channel();
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(ch);
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.newBuilder().setService("switchboard.v1.Hub").build()).getStatus());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
    StatusRuntimeException e = failure(() -> health.check(HealthCheckRequest.newBuilder().setService("no.Such").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());

    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(ch).serverReflectionInfo(firstValue(answer));
    req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> services = answer.get(WAIT_SECONDS, TimeUnit.SECONDS).getListServicesResponse().getServiceList()
        .stream().map(ServiceResponse::getName).collect(Collectors.toList());
    req.onCompleted();
    assertTrue(services.contains("switchboard.v1.Hub"), services.toString());
    assertTrue(services.contains("grpc.health.v1.Health"), services.toString());
  }
}
