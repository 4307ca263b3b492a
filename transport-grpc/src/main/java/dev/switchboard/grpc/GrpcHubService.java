package dev.switchboard.grpc;

import dev.switchboard.grpc.v1.Ack;
import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishFailure;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.PublishResponse;
import dev.switchboard.grpc.v1.PublishSummary;
import dev.switchboard.grpc.v1.Reset;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.grpc.v1.Subscribed;
import dev.switchboard.grpc.v1.Unsubscribed;
import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OutboundWriter;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.FanoutCache;
import dev.switchboard.transport.internal.IdempotentPublishes;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.Principal;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code switchboard.v1.Hub} gRPC service over a {@link Hub}: add it to your own
 * {@code io.grpc.Server} next to your own services, or let {@link GrpcHubServer} start one.
 *
 * <p>Every call is authenticated by the hub's {@code Authenticator} from the call's metadata
 * ({@code authorization: Bearer …}) and remote address, and every subscribe and publish is checked
 * by its {@code Authorizer}. Server streams are written only while the call {@code isReady()}; what
 * the client does not read waits in the hub's bounded per-connection queue, and a client that falls
 * too far behind is closed with RESOURCE_EXHAUSTED ({@code slow_consumer}) and resumes from
 * history. {@code PublishStream} reads one request at a time (manual inbound flow control). A
 * cancelled call or an expired deadline removes its subscriptions at once.
 *
 * <p>Errors are gRPC statuses (see {@link Status#grpcCode()}) with trailers {@code switchboard-error}
 * (the short code), {@code switchboard-status} (the HTTP status other transports use) and, when the
 * caller should wait, {@code retry-after} (seconds). Thread-safe.
 */
public final class GrpcHubService implements BindableService {
  private static final Logger log = LoggerFactory.getLogger(GrpcHubService.class);
  private static final Context.Key<Principal> PRINCIPAL = Context.key("switchboard-principal");
  private static final Context.Key<InetSocketAddress> REMOTE = Context.key("switchboard-remote");
  /** Most per-message failures listed in a {@code PublishSummary} (all are counted). */
  static final int MAX_LISTED_FAILURES = 1000;

  private final Hub hub;
  private final Impl impl = new Impl();
  private final java.util.Set<Stream<?>> streams = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final FanoutCache<Message, SubscribeEvent> subscribeEvents =
      FanoutCache.ofMessages(m -> SubscribeEvent.newBuilder().setMessage(GrpcCodec.toProto(m)).build());
  private final FanoutCache<Message, ServerFrame> messageFrames =
      FanoutCache.ofMessages(m -> ServerFrame.newBuilder().setMessage(GrpcCodec.toProto(m)).build());

  private final IdempotentPublishes idempotency;

  /**
   * A service over {@code hub}; the hub's limits and auth hooks apply. Idempotency keys are kept
   * for 24 hours, at most 100,000 of them.
   */
  public GrpcHubService(Hub hub) {
    this(hub, 100_000, Duration.ofHours(24));
  }

  /**
   * A service over {@code hub} that remembers at most {@code idempotencyMaxKeys} publish
   * {@code idempotency_key}s (oldest forgotten first), each for {@code idempotencyTtl}.
   */
  public GrpcHubService(Hub hub, int idempotencyMaxKeys, Duration idempotencyTtl) {
    this(hub, idempotencyMaxKeys, IdempotentPublishes.defaultMaxBytes(), idempotencyTtl);
  }

  /**
   * As {@link #GrpcHubService(Hub, int, Duration)}, with the keys also bounded by their estimated
   * bytes (default a sixteenth of the max heap; a key keeps a digest and the stored id, never the
   * payload).
   *
   * @throws IllegalArgumentException if a bound is below 1 or the ttl is not positive
   */
  public GrpcHubService(Hub hub, int idempotencyMaxKeys, long idempotencyMaxBytes, Duration idempotencyTtl) {
    this.hub = Objects.requireNonNull(hub, "hub");
    ClientGoneStreamErrors.install(); // a client that vanishes is no WARNING with a stack trace
    this.idempotency = new IdempotentPublishes(idempotencyMaxKeys, idempotencyMaxBytes, idempotencyTtl,
        Clock.systemUTC());
  }

  /**
   * Publishes a client's request; with an {@code idempotency_key}, a retry gets the first result
   * (same id) instead of a second message.
   */
  private CompletionStage<Message> publish(Principal principal, PublishRequest request,
      Function<Message, CompletionStage<Message>> publisher) {
    Message draft = GrpcCodec.draft(request);
    if (request.getIdempotencyKey().isEmpty()) {
      return publisher.apply(draft);
    }
    return idempotency.publish(principal, draft, request.getIdempotencyKey(), publisher).stored();
  }

  /** A publish outside any hub connection ({@code Publish}, {@code PublishStream}): the principal's rate limit. */
  private CompletionStage<Message> publish(Principal principal, InetSocketAddress remote, PublishRequest request) {
    return publish(principal, request, d -> hub.publish("grpc", principal, remote, d));
  }

  /**
   * Ends every open {@code Subscribe} and {@code Connect} stream of this service with UNAVAILABLE
   * (after writing what is queued), so clients reconnect elsewhere or later. Used when a server
   * shuts down; {@link Hub#shutdown()} does the same for every transport.
   */
  public void closeStreams(String reason) {
    for (Stream<?> s : List.copyOf(streams)) {
      s.closeAfterFlush(SwitchboardException.of(Status.UNAVAILABLE, "shutting_down", reason));
    }
  }

  @Override
  public ServerServiceDefinition bindService() {
    // Subscribe and Connect fan the same message instance out to many streams: encode it once.
    return ServerInterceptors.intercept(
        FanoutMarshaller.wrapResponses(impl.bindService(), Set.of("Subscribe", "Connect")), new AuthInterceptor());
  }

  /** Authenticates each call from its metadata before any of the service's code runs. */
  private final class AuthInterceptor implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
      Principal principal;
      Handshake handshake = handshake(call, headers);
      try {
        principal = hub.authenticate(handshake);
      } catch (RuntimeException e) {
        StatusRuntimeExceptionParts s = StatusRuntimeExceptionParts.of(GrpcCodec.toStatus(e));
        call.close(s.status, s.trailers);
        return new ServerCall.Listener<>() {};
      }
      if (call.getMethodDescriptor().getFullMethodName().equals(HubGrpc.getConnectMethod().getFullMethodName())) {
        // Headers go out at once, so a client knows its session is open before any frame is due.
        call.sendHeaders(new Metadata());
        call = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void sendHeaders(Metadata ignored) {
            // already sent
          }
        };
      }
      return Contexts.interceptCall(Context.current().withValues(PRINCIPAL, principal,
          REMOTE, handshake.remoteAddress()), call, headers, next);
    }
  }

  private record StatusRuntimeExceptionParts(io.grpc.Status status, Metadata trailers) {
    static StatusRuntimeExceptionParts of(io.grpc.StatusRuntimeException e) {
      return new StatusRuntimeExceptionParts(e.getStatus(),
          e.getTrailers() == null ? new Metadata() : e.getTrailers());
    }
  }

  private static Handshake handshake(ServerCall<?, ?> call, Metadata md) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String key : md.keys()) {
      if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        continue;
      }
      List<String> values = new ArrayList<>();
      md.getAll(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER)).forEach(values::add);
      headers.put(key, values);
    }
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    return new Handshake("grpc", remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null,
        headers, Map.of());
  }

  private static Principal principal() {
    return PRINCIPAL.get();
  }

  private final class Impl extends HubGrpc.HubImplBase {
    @Override
    public void publish(PublishRequest request, StreamObserver<PublishResponse> responses) {
      CompletionStage<Message> stage;
      try {
        stage = GrpcHubService.this.publish(principal(), REMOTE.get(), request);
      } catch (RuntimeException e) {
        responses.onError(GrpcCodec.toStatus(e));
        return;
      }
      stage.whenComplete((stored, err) -> {
        if (((ServerCallStreamObserver<PublishResponse>) responses).isCancelled()) {
          return; // the client went away: what was stored stays stored, nobody is left to tell
        }
        if (err != null) {
          responses.onError(GrpcCodec.toStatus(err));
          return;
        }
        responses.onNext(PublishResponse.newBuilder().setId(stored.id()).setTopic(stored.topic())
            .setTime(GrpcCodec.timestamp(stored.time())).build());
        responses.onCompleted();
      });
    }

    @Override
    public void subscribe(SubscribeRequest request, StreamObserver<SubscribeEvent> responses) {
      ServerCallStreamObserver<SubscribeEvent> out = (ServerCallStreamObserver<SubscribeEvent>) responses;
      String topic;
      try {
        topic = requireTopic(request.getTopic(), "subscribe");
      } catch (RuntimeException e) {
        out.onError(GrpcCodec.toStatus(e));
        return;
      }
      Stream<SubscribeEvent> stream = new Stream<>(out) {
        @Override
        protected SubscribeEvent encode(Connection.Event e) {
          if (e instanceof Connection.Delivery) {
            return subscribeEvents.get(((Connection.Delivery) e).message());
          }
          if (e instanceof Connection.Reset) {
            Connection.Reset r = (Connection.Reset) e;
            return SubscribeEvent.newBuilder()
                .setReset(Reset.newBuilder().setTopic(r.topic()).setReason(r.reason())).build();
          }
          return null; // Subscribed: a server stream has no frame for it
        }
      };
      if (!stream.open()) {
        return;
      }
      String after = request.getAfter().isEmpty() ? null : request.getAfter();
      stream.connection().subscribe(topic, after).whenComplete((v, err) -> {
        if (err != null) {
          stream.closeAfterFlush(SwitchboardException.from(err));
        }
      });
    }

    @Override
    public StreamObserver<PublishRequest> publishStream(StreamObserver<PublishSummary> responses) {
      return new Ingest((ServerCallStreamObserver<PublishSummary>) responses, principal(), REMOTE.get());
    }

    @Override
    public StreamObserver<ClientFrame> connect(StreamObserver<ServerFrame> responses) {
      Session session = new Session((ServerCallStreamObserver<ServerFrame>) responses);
      session.open();
      return session;
    }
  }

  private static String requireTopic(String topic, String op) {
    if (topic.isEmpty()) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "missing_field",
          op + " needs a topic");
    }
    return Topics.requireValid(topic);
  }

  /**
   * One server stream fed by a hub connection, written by its {@link OutboundWriter}: replies and the
   * connection's events go out one at a time, only while the call is ready.
   */
  private abstract class Stream<T> extends OutboundWriter<T> {
    final ServerCallStreamObserver<T> out;
    private final Principal principal = PRINCIPAL.get();
    private final InetSocketAddress remote = REMOTE.get();

    Stream(ServerCallStreamObserver<T> out) {
      super(false);
      this.out = out;
    }

    /** Registers with the hub; false (and the call is failed) when the hub refuses. */
    boolean open() {
      out.setOnCancelHandler(() -> {
        streams.remove(this);
        released(); // the client went away: its subscriptions go at once
      });
      out.setOnReadyHandler(this::drain);
      streams.add(this);
      try {
        connect(hub, principal, remote, "grpc");
      } catch (RuntimeException e) {
        streams.remove(this);
        out.onError(GrpcCodec.toStatus(e));
        return false;
      }
      start();
      return true;
    }

    Principal principal() {
      return principal;
    }

    @Override
    protected boolean isReady() {
      return out.isReady();
    }

    @Override
    protected void write(T frame) {
      out.onNext(frame); // after a cancel a no-op (we set a cancel handler), never an exception
    }

    @Override
    protected void close(SwitchboardException error) {
      streams.remove(this);
      if (out.isCancelled()) {
        return; // the client is gone: nobody to tell, and nothing for gRPC to log
      }
      if (error == null) {
        out.onCompleted();
      } else {
        out.onError(GrpcCodec.toStatus(error));
      }
    }
  }

  /** {@code Connect}: one bidirectional session mirroring the WebSocket protocol's ops. */
  private final class Session extends Stream<ServerFrame> implements StreamObserver<ClientFrame> {
    Session(ServerCallStreamObserver<ServerFrame> out) {
      super(out);
    }

    @Override
    protected ServerFrame encode(Connection.Event e) {
      if (e instanceof Connection.Delivery) {
        return messageFrames.get(((Connection.Delivery) e).message());
      }
      if (e instanceof Connection.Reset) {
        Connection.Reset r = (Connection.Reset) e;
        return ServerFrame.newBuilder()
            .setReset(Reset.newBuilder().setTopic(r.topic()).setReason(r.reason())).build();
      }
      Connection.Subscribed s = (Connection.Subscribed) e;
      return ServerFrame.newBuilder().setSubscribed(
          Subscribed.newBuilder().setTopic(s.topic()).setRecovered(s.recovered())).build();
    }

    @Override
    public void onNext(ClientFrame frame) {
      Connection c = connection();
      if (c == null) {
        return;
      }
      String ref = frame.getRef();
      try {
        switch (frame.getFrameCase()) {
          case SUBSCRIBE: {
            SubscribeRequest s = frame.getSubscribe();
            String topic = requireTopic(s.getTopic(), "subscribe");
            c.subscribe(topic, s.getAfter().isEmpty() ? null : s.getAfter()).whenComplete((v, err) -> {
              if (err != null) {
                replyError(ref, err);
              }
            });
            break;
          }
          case UNSUBSCRIBE: {
            String topic = requireTopic(frame.getUnsubscribe().getTopic(), "unsubscribe");
            c.unsubscribe(topic);
            reply(ServerFrame.newBuilder().setRef(ref)
                .setUnsubscribed(Unsubscribed.newBuilder().setTopic(topic)).build());
            break;
          }
          case PUBLISH: {
            GrpcHubService.this.publish(principal(), frame.getPublish(), c::publish).whenComplete((stored, err) -> {
              if (err != null) {
                replyError(ref, err);
              } else {
                reply(ServerFrame.newBuilder().setRef(ref).setAck(Ack.newBuilder().setId(stored.id())
                    .setTopic(stored.topic()).setTime(GrpcCodec.timestamp(stored.time()))).build());
              }
            });
            break;
          }
          default:
            throw SwitchboardException.of(Status.INVALID_ARGUMENT, "unknown_frame",
                "client frame has no subscribe, unsubscribe or publish (unknown field numbers: "
                    + frame.getUnknownFields().asMap().keySet() + ")");
        }
      } catch (RuntimeException e) {
        replyError(ref, e);
      }
    }

    private void replyError(String ref, Throwable err) {
      SwitchboardException e = SwitchboardException.from(err);
      if (e.status() == Status.INTERNAL) {
        log.warn("unexpected failure handling a frame", err);
      }
      reply(ServerFrame.newBuilder().setRef(ref).setError(GrpcCodec.error(e)).build());
    }

    @Override
    public void onError(Throwable t) {
      streams.remove(this);
      released(); // the client cancelled
    }

    @Override
    public void onCompleted() {
      closeAfterFlush(null); // the client half-closed: end normally once what is queued is written
    }
  }

  /**
   * {@code PublishStream}: requests one message at a time and publishes it; the next is requested
   * only when the previous one is stored, so a fast client cannot queue work without bound.
   */
  private final class Ingest implements StreamObserver<PublishRequest> {
    private final ServerCallStreamObserver<PublishSummary> out;
    private final Principal principal;
    private final InetSocketAddress remote;
    private final List<PublishFailure> failures = new ArrayList<>();
    private long index;
    private long accepted;
    private long failed;
    private String firstId = "";
    private String lastId = "";
    private boolean completed;
    private boolean pending;

    Ingest(ServerCallStreamObserver<PublishSummary> out, Principal principal, InetSocketAddress remote) {
      this.out = out;
      this.principal = principal;
      this.remote = remote;
      out.setOnCancelHandler(() -> { });
      out.disableAutoRequest();
      out.request(1);
    }

    @Override
    public void onNext(PublishRequest request) {
      long i;
      synchronized (this) {
        i = index++;
        pending = true;
      }
      try {
        GrpcHubService.this.publish(principal, remote, request).whenComplete((stored, err) -> done(i, stored, err));
      } catch (RuntimeException e) {
        done(i, null, e);
      }
    }

    private void done(long i, Message stored, Throwable err) {
      boolean finish;
      synchronized (this) {
        pending = false;
        if (err == null) {
          accepted++;
          if (firstId.isEmpty()) {
            firstId = stored.id();
          }
          lastId = stored.id();
        } else {
          failed++;
          if (failures.size() < MAX_LISTED_FAILURES) {
            failures.add(PublishFailure.newBuilder().setIndex(i)
                .setError(GrpcCodec.error(SwitchboardException.from(err))).build());
          }
        }
        finish = completed;
      }
      if (finish) {
        sendSummary();
      } else if (!out.isCancelled()) {
        out.request(1);
      }
    }

    @Override
    public void onError(Throwable t) {
      // The client cancelled: what was stored stays stored; nobody is left to tell.
    }

    @Override
    public void onCompleted() {
      boolean now;
      synchronized (this) {
        completed = true;
        now = !pending;
      }
      if (now) {
        sendSummary();
      }
    }

    private void sendSummary() {
      if (out.isCancelled()) {
        return;
      }
      PublishSummary summary;
      synchronized (this) {
        summary = PublishSummary.newBuilder().setAccepted(accepted).setFirstId(firstId)
            .setLastId(lastId).setFailed(failed).addAllFailures(failures).build();
      }
      out.onNext(summary);
      out.onCompleted();
    }
  }
}
