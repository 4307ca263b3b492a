package dev.switchboard.grpc;

import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.grpc.v1.Unsubscribe;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.ChannelState;
import dev.switchboard.transport.internal.ClientSupport;
import dev.switchboard.transport.internal.ListenerSubscription;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.TlsChannelCredentials;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Channel} over one {@code switchboard.v1.Hub/Connect} stream. Publishes complete on the
 * server's {@code ack} (or fail with its {@code error}, or with UNAVAILABLE when no answer comes
 * within the request timeout); after a dropped stream it reconnects with backoff and resubscribes
 * every subscription after the last id it delivered. UNAUTHENTICATED or PERMISSION_DENIED on the
 * stream itself ends the channel.
 *
 * <p>Thread-safe. Listener callbacks run on gRPC's executor, one at a time per channel; a listener
 * that blocks stops reading (gRPC flow control), and the server then treats the client as a slow
 * consumer.
 */
final class GrpcChannel implements Channel {
  private static final Logger log = LoggerFactory.getLogger(GrpcChannel.class);
  /** Room for the envelope around a payload of the largest allowed size. */
  private static final int ENVELOPE_BYTES = 64 * 1024;

  private final TransportConfig config;
  private final ManagedChannel managed;
  private final io.grpc.Channel authed;
  private final ChannelState state = new ChannelState(State.CONNECTING);
  private final Map<String, Sub> subs = new ConcurrentHashMap<>();
  private final Map<String, Sub> pendingSubscribes = new ConcurrentHashMap<>();
  private final Map<String, Pending> pendingPublishes = new ConcurrentHashMap<>();
  private final AtomicLong refs = new AtomicLong();
  private final Backoff.Retry retry;
  private volatile CompletableFuture<Session> connected = new CompletableFuture<>();
  private volatile SwitchboardException terminal;

  private record Pending(Message draft, CompletableFuture<Message> result) {}

  GrpcChannel(TransportConfig config) {
    this.config = config;
    this.managed = managedChannel(config);
    Metadata headers = new Metadata();
    config.headers().forEach((k, v) ->
        headers.put(Metadata.Key.of(k.toLowerCase(Locale.ROOT), Metadata.ASCII_STRING_MARSHALLER), v));
    this.authed = ClientInterceptors.intercept(managed, MetadataUtils.newAttachHeadersInterceptor(headers));
    this.retry = config.reconnectBackoff().start();
    connect();
  }

  /**
   * The gRPC channel for {@code switchboard.url}: {@code grpc://} and {@code http://} in plain text,
   * {@code grpcs://} and {@code https://} with TLS (the JDK's trusted roots), {@code inprocess://NAME}
   * for an in-process server (tests).
   */
  static ManagedChannel managedChannel(TransportConfig config) {
    URI url = config.url();
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
    ManagedChannelBuilder<?> b;
    if (scheme.equals("inprocess")) {
      b = InProcessChannelBuilder.forName(url.getHost());
    } else {
      boolean tls;
      switch (scheme) {
        case "grpc": case "http": tls = false; break;
        case "grpcs": case "https": tls = true; break;
        default:
          throw new IllegalArgumentException("transport grpc needs a grpc://, grpcs://, http://, https:// "
              + "or inprocess:// URL, not " + url);
      }
      if (url.getHost() == null) {
        throw new IllegalArgumentException("switchboard.url has no host: " + url);
      }
      int port = url.getPort() > 0 ? url.getPort() : tls ? 443 : scheme.equals("http") ? 80 : 9090;
      b = Grpc.newChannelBuilderForAddress(url.getHost(), port,
          tls ? TlsChannelCredentials.create() : InsecureChannelCredentials.create());
    }
    b.maxInboundMessageSize(config.maxMessageBytes() + ENVELOPE_BYTES);
    if (!config.keepAlive().isZero()) {
      b.keepAliveTime(config.keepAlive().toMillis(), TimeUnit.MILLISECONDS)
          .keepAliveTimeout(Math.max(5, config.keepAlive().toSeconds() / 2), TimeUnit.SECONDS)
          .keepAliveWithoutCalls(true);
    }
    return b.build();
  }

  private void connect() {
    if (state.get() == State.CLOSED) {
      return;
    }
    managed.resetConnectBackoff(); // our Backoff decides when to try again, not gRPC's own
    Session session = new Session(connected);
    ClientCall<ClientFrame, ServerFrame> call = ClientInterceptors.intercept(authed, session)
        .newCall(HubGrpc.getConnectMethod(), CallOptions.DEFAULT);
    io.grpc.stub.ClientCalls.asyncBidiStreamingCall(call, session); // beforeStart hands us the request side
  }

  /** The stream is open: the server sent its headers, so it authenticated us and holds a session. */
  private void opened(Session session) {
    if (state.get() == State.CLOSED) {
      session.cancel("channel closed");
      return;
    }
    retry.reset();
    state.set(State.OPEN, null);
    // Subscriptions first, then the sends that waited for the stream. A subscribe() racing with
    // this loop also sends once the future completes; markSent() keeps it to one frame.
    for (Sub s : subs.values()) {
      sendSubscribe(session, s);
    }
    session.attempt.complete(session);
  }

  /** The stream is gone: fail what awaited an answer, then reconnect or, if refused, end. */
  private void onDisconnect(SwitchboardException cause, CompletableFuture<Session> attempt) {
    boolean retryable = cause.status().isRetryable();
    for (String ref : List.copyOf(pendingPublishes.keySet())) {
      Pending p = pendingPublishes.remove(ref);
      if (p != null) {
        p.result.completeExceptionally(!retryable ? cause : new SwitchboardException(Status.UNAVAILABLE,
            "connection lost before the server acknowledged the publish (it may or may not be stored): "
                + cause.getMessage(), cause));
      }
    }
    pendingSubscribes.clear();
    if (state.get() == State.CLOSED) {
      return;
    }
    Optional<Duration> delay = retryable ? retry.next(cause.retryAfter().orElse(null)) : Optional.empty();
    if (delay.isEmpty()) {
      end(retryable ? new SwitchboardException(Status.UNAVAILABLE, "gave up reconnecting to "
          + config.url() + " after " + retry.attempts() + " attempts: " + cause.getMessage(), cause) : cause);
      attempt.completeExceptionally(terminal);
      return;
    }
    if (attempt == connected && attempt.isDone()) {
      // The connection that was up is gone: new sends wait for the next one. (Sends made while the
      // first connection is still being tried keep waiting on the same future, which the next
      // success or the final give-up completes.)
      connected = new CompletableFuture<>();
    }
    state.set(State.RECONNECTING, cause);
    ClientSupport.TIMER.schedule(this::connect, delay.get().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void end(SwitchboardException cause) {
    terminal = cause;
    state.close(cause);
    connected.completeExceptionally(cause);
    for (Sub s : List.copyOf(subs.values())) {
      s.fail(cause);
    }
    managed.shutdown();
  }

  @Override
  public String transport() {
    return "grpc";
  }

  @Override
  public State state() {
    return state.get();
  }

  @Override
  public void addStateListener(StateListener listener) {
    state.addListener(listener);
  }

  @Override
  public CompletionStage<Message> send(Message message) {
    if (state.get() == State.CLOSED) {
      return CompletableFuture.failedFuture(terminal != null ? terminal
          : new SwitchboardException(Status.UNAVAILABLE, "channel is closed"));
    }
    if (message.payloadSize() > config.maxMessageBytes()) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.PAYLOAD_TOO_LARGE,
          "payload of " + message.payloadSize() + " bytes is over the client limit of "
              + config.maxMessageBytes() + " bytes (switchboard.max-message-bytes)"));
    }
    String ref = "p" + refs.incrementAndGet();
    CompletableFuture<Message> result = new CompletableFuture<>();
    ClientFrame frame = ClientFrame.newBuilder().setRef(ref).setPublish(GrpcCodec.toRequest(message)).build();
    connected.whenComplete((session, err) -> {
      if (err != null) {
        result.completeExceptionally(SwitchboardException.from(err));
        return;
      }
      pendingPublishes.put(ref, new Pending(message, result));
      if (session.ended || state.get() == State.CLOSED) {
        // The stream ended between our look and our put: its disconnect may not see this one.
        if (pendingPublishes.remove(ref) != null) {
          result.completeExceptionally(terminal != null ? terminal
              : new SwitchboardException(Status.UNAVAILABLE, "connection closed before the publish was sent"));
        }
        return;
      }
      session.send(frame);
    });
    // One deadline for the whole publish: waiting for a connection, sending, and the answer.
    ClientSupport.TIMER.schedule(() -> {
      pendingPublishes.remove(ref);
      result.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "deadline_exceeded",
          "no answer to the publish within " + config.requestTimeout().toMillis()
              + " ms (switchboard.request-timeout); it may or may not be stored", null, null));
    }, config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
    return result;
  }

  private void sendSubscribe(Session session, Sub s) {
    if (!s.markSent(session)) {
      return;
    }
    String ref = "s" + refs.incrementAndGet();
    pendingSubscribes.put(ref, s);
    SubscribeRequest.Builder r = SubscribeRequest.newBuilder().setTopic(s.topic());
    if (s.lastId() != null) {
      r.setAfter(s.lastId());
    }
    session.send(ClientFrame.newBuilder().setRef(ref).setSubscribe(r).build());
  }

  @Override
  public Subscription subscribe(String topic, String afterId, MessageListener listener) {
    if (state.get() == State.CLOSED) {
      if (terminal == null) {
        throw new IllegalStateException("channel is closed");
      }
      // The server ended the channel (e.g. refused the credentials): the listener hears why.
      Sub failed = new Sub(topic, afterId, listener);
      failed.fail(terminal);
      return failed;
    }
    Sub s = new Sub(topic, afterId, listener);
    if (subs.putIfAbsent(topic, s) != null) {
      throw new IllegalStateException("this channel is already subscribed to topic " + topic);
    }
    // Now if connected, else when the stream is up (opened() also sends it; once per session).
    connected.thenAccept(session -> sendSubscribe(session, s));
    return s;
  }

  @Override
  public void close() {
    if (!state.close(null)) {
      return;
    }
    subs.clear();
    SwitchboardException closed = new SwitchboardException(Status.UNAVAILABLE, "channel closed");
    for (String ref : List.copyOf(pendingPublishes.keySet())) {
      Pending p = pendingPublishes.remove(ref);
      if (p != null) {
        p.result.completeExceptionally(closed);
      }
    }
    CompletableFuture<Session> c = connected;
    c.completeExceptionally(closed);
    if (c.isDone() && !c.isCompletedExceptionally()) {
      c.join().halfClose();
    }
    managed.shutdown();
    try {
      if (!managed.awaitTermination(2, TimeUnit.SECONDS)) {
        managed.shutdownNow();
      }
    } catch (InterruptedException e) {
      managed.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private void onFrame(ServerFrame f) {
    switch (f.getFrameCase()) {
      case MESSAGE: {
        Message m;
        try {
          m = GrpcCodec.fromProto(f.getMessage());
        } catch (RuntimeException e) {
          log.warn("ignoring a malformed message frame: {}", e.toString());
          return;
        }
        Sub s = subs.get(m.topic());
        if (s != null) {
          s.deliver(m);
        }
        break;
      }
      case RESET: {
        Sub s = subs.get(f.getReset().getTopic());
        if (s != null) {
          s.reset(f.getReset().getReason().isEmpty() ? "history_gap" : f.getReset().getReason());
        }
        break;
      }
      case ACK: {
        Pending p = pendingPublishes.remove(f.getRef());
        if (p != null) {
          Message.Builder b = p.draft.toBuilder().id(f.getAck().getId());
          if (f.getAck().hasTime()) {
            b.time(GrpcCodec.instant(f.getAck().getTime()));
          }
          p.result.complete(b.build());
        }
        break;
      }
      case ERROR: {
        SwitchboardException e = GrpcCodec.fromError(f.getError());
        if (f.getRef().isEmpty()) {
          log.warn("server reported an error: {}", e.getMessage());
          break;
        }
        Pending p = pendingPublishes.remove(f.getRef());
        if (p != null) {
          p.result.completeExceptionally(e);
          break;
        }
        Sub s = pendingSubscribes.remove(f.getRef());
        if (s != null) {
          s.fail(e);
        }
        break;
      }
      case SUBSCRIBED:
        pendingSubscribes.values().removeIf(s -> s.topic().equals(f.getSubscribed().getTopic()));
        break;
      default: // unsubscribed, and frames from newer servers: nothing to do
    }
  }

  /**
   * One {@code Connect} call: watches for the server's headers (the stream is open), receives
   * frames, and sends them one at a time (a gRPC call is not safe for concurrent sends).
   */
  private final class Session implements ClientResponseObserver<ClientFrame, ServerFrame>, ClientInterceptor {
    final CompletableFuture<Session> attempt;
    volatile ClientCallStreamObserver<ClientFrame> requests;
    volatile boolean ended;

    Session(CompletableFuture<Session> attempt) {
      this.attempt = attempt;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ClientFrame> requestStream) {
      this.requests = requestStream;
    }

    synchronized void send(ClientFrame frame) {
      if (ended) {
        return;
      }
      try {
        requests.onNext(frame);
      } catch (RuntimeException e) {
        log.debug("send on an ending stream failed: {}", e.toString());
      }
    }

    synchronized void halfClose() {
      if (!ended) {
        ended = true;
        requests.onCompleted();
      }
    }

    synchronized void cancel(String why) {
      if (!ended) {
        ended = true;
        requests.cancel(why, null);
      }
    }

    @Override
    public void onNext(ServerFrame frame) {
      try {
        onFrame(frame);
      } catch (RuntimeException e) {
        log.warn("frame handling failed", e);
      }
    }

    @Override
    public void onError(Throwable t) {
      ended = true;
      Throwable cause = unwrap(t);
      onDisconnect(GrpcCodec.fromStatus(cause), attempt);
    }

    @Override
    public void onCompleted() {
      ended = true;
      onDisconnect(new SwitchboardException(Status.UNAVAILABLE, "the server ended the session"), attempt);
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options,
        io.grpc.Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            @Override
            public void onHeaders(Metadata h) {
              opened(Session.this);
              super.onHeaders(h);
            }
          }, headers);
        }
      };
    }
  }

  /** One subscription; resubscribed after reconnects from its last delivered id. */
  private final class Sub extends ListenerSubscription {
    private Session sentOn; // guarded by this

    Sub(String topic, String afterId, MessageListener listener) {
      super(topic, afterId, listener);
    }

    /** True the first time for each session: subscribe once per session. */
    synchronized boolean markSent(Session session) {
      if (sentOn == session) {
        return false;
      }
      sentOn = session;
      return true;
    }

    @Override
    public void close() {
      if (!isActive()) {
        return;
      }
      super.close();
      CompletableFuture<Session> c = connected;
      if (c.isDone() && !c.isCompletedExceptionally()) {
        c.join().send(ClientFrame.newBuilder()
            .setUnsubscribe(Unsubscribe.newBuilder().setTopic(topic())).build());
      }
    }

    @Override
    protected void onEnd() {
      subs.remove(topic(), this);
    }
  }
}
