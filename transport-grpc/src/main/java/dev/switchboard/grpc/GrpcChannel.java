package dev.switchboard.grpc;

import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import dev.switchboard.grpc.v1.ClientFrame;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.ServerFrame;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.grpc.v1.Unsubscribe;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.FrameChannel;
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
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Channel} over one {@code switchboard.v1.Hub/Connect} stream: the session logic is
 * {@link FrameChannel}'s, this class opens the stream, encodes protobuf frames and writes them as
 * gRPC flow control allows. UNAUTHENTICATED or PERMISSION_DENIED on the stream itself ends the
 * channel.
 *
 * <p>Thread-safe. Listener callbacks run on gRPC's executor, one at a time per channel; a listener
 * that blocks stops reading (gRPC flow control), and the server then treats the client as a slow
 * consumer.
 */
final class GrpcChannel extends FrameChannel<GrpcChannel.Session, ClientFrame> {
  private static final Logger log = LoggerFactory.getLogger(GrpcChannel.class);

  private final ManagedChannel managed;
  private final io.grpc.Channel authed;

  GrpcChannel(TransportConfig config) {
    super("grpc", config, config.url());
    this.managed = managedChannel(config);
    Metadata headers = new Metadata();
    config.headers().forEach((k, v) ->
        headers.put(Metadata.Key.of(k.toLowerCase(Locale.ROOT), Metadata.ASCII_STRING_MARSHALLER), v));
    this.authed = ClientInterceptors.intercept(managed, MetadataUtils.newAttachHeadersInterceptor(headers));
    start();
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
      boolean tls = switch (scheme) {
        case "grpc", "http" -> false;
        case "grpcs", "https" -> true;
        default -> throw new IllegalArgumentException("transport grpc needs a grpc://, grpcs://, http://, "
            + "https:// or inprocess:// URL, not " + url);
      };
      if (url.getHost() == null) {
        throw new IllegalArgumentException("switchboard.url has no host: " + url);
      }
      int port = url.getPort() > 0 ? url.getPort() : tls ? 443 : scheme.equals("http") ? 80 : 9090;
      b = Grpc.newChannelBuilderForAddress(url.getHost(), port,
          tls ? TlsChannelCredentials.create() : InsecureChannelCredentials.create());
    }
    b.maxInboundMessageSize(config.maxMessageBytes() + GrpcCodec.ENVELOPE_BYTES);
    if (!config.keepAlive().isZero()) {
      b.keepAliveTime(config.keepAlive().toMillis(), TimeUnit.MILLISECONDS)
          .keepAliveTimeout(Math.max(5, config.keepAlive().toSeconds() / 2), TimeUnit.SECONDS)
          .keepAliveWithoutCalls(true);
    }
    return b.build();
  }

  @Override
  protected void connect(CompletableFuture<Session> attempt) {
    managed.resetConnectBackoff(); // our Backoff decides when to try again, not gRPC's own
    Session session = new Session(attempt);
    ClientCall<ClientFrame, ServerFrame> call = ClientInterceptors.intercept(authed, session)
        .newCall(HubGrpc.getConnectMethod(), CallOptions.DEFAULT);
    ClientCalls.asyncBidiStreamingCall(call, session); // beforeStart hands us the request side
  }

  @Override
  protected ClientFrame publishFrame(Message draft, String ref) {
    return ClientFrame.newBuilder().setRef(ref).setPublish(GrpcCodec.toRequest(draft)).build();
  }

  @Override
  protected ClientFrame subscribeFrame(String topic, String after, String ref) {
    SubscribeRequest.Builder r = SubscribeRequest.newBuilder().setTopic(topic);
    if (after != null) {
      r.setAfter(after);
    }
    return ClientFrame.newBuilder().setRef(ref).setSubscribe(r).build();
  }

  @Override
  protected ClientFrame unsubscribeFrame(String topic) {
    return ClientFrame.newBuilder().setUnsubscribe(Unsubscribe.newBuilder().setTopic(topic)).build();
  }

  @Override
  protected int frameBytes(ClientFrame frame) {
    return frame.getSerializedSize();
  }

  @Override
  protected CompletionStage<?> write(Session session, ClientFrame frame) {
    return session.send(frame);
  }

  @Override
  protected boolean isEnded(Session session) {
    return session.ended;
  }

  @Override
  protected void closeConnection(Session session) {
    session.halfClose();
  }

  @Override
  protected void released() {
    managed.shutdown();
  }

  @Override
  public void close() {
    super.close();
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
      case MESSAGE -> {
        Message m;
        try {
          m = GrpcCodec.fromProto(f.getMessage());
        } catch (RuntimeException e) {
          log.warn("ignoring a malformed message frame: {}", e.toString());
          return;
        }
        onMessageFrame(m);
      }
      case RESET -> onResetFrame(f.getReset().getTopic(), f.getReset().getReason());
      case ACK -> onAckFrame(f.getRef(), f.getAck().getId(),
          f.getAck().hasTime() ? GrpcCodec.instant(f.getAck().getTime()) : null);
      case ERROR -> onErrorFrame(f.getRef(), GrpcCodec.fromError(f.getError()));
      case SUBSCRIBED -> onSubscribedFrame(f.getSubscribed().getTopic(), f.getSubscribed().getRecovered());
      default -> { } // unsubscribed, and frames from newer servers: nothing to do
    }
  }

  /**
   * One {@code Connect} call: watches for the server's headers (the stream is open), receives
   * frames, and sends them one at a time as gRPC's flow control allows (a gRPC call is not safe for
   * concurrent sends, and {@code onNext} would buffer without bound).
   */
  final class Session implements ClientResponseObserver<ClientFrame, ServerFrame>, ClientInterceptor {
    private final CompletableFuture<Session> attempt;
    private final Queue<Outgoing> queue = new ArrayDeque<>(); // guarded by this
    private volatile ClientCallStreamObserver<ClientFrame> requests;
    volatile boolean ended;

    private record Outgoing(ClientFrame frame, CompletableFuture<Void> sent) {}

    Session(CompletableFuture<Session> attempt) {
      this.attempt = attempt;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ClientFrame> requestStream) {
      this.requests = requestStream;
      requestStream.setOnReadyHandler(this::drain);
    }

    /** Queues a frame; it leaves the queue when the stream is ready for it. */
    CompletableFuture<Void> send(ClientFrame frame) {
      CompletableFuture<Void> sent = new CompletableFuture<>();
      synchronized (this) {
        if (ended) {
          sent.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "the stream has ended"));
          return sent;
        }
        queue.add(new Outgoing(frame, sent));
      }
      drain();
      return sent;
    }

    private synchronized void drain() {
      while (!ended && !queue.isEmpty() && requests.isReady()) {
        Outgoing o = queue.poll();
        try {
          requests.onNext(o.frame);
          o.sent.complete(null);
        } catch (RuntimeException e) {
          log.debug("send on an ending stream failed: {}", e.toString());
          o.sent.completeExceptionally(e);
        }
      }
    }

    /** The stream is over: what waited in the queue was never sent. */
    private void failQueued() {
      Queue<Outgoing> left;
      synchronized (this) {
        ended = true;
        left = new ArrayDeque<>(queue);
        queue.clear();
      }
      for (Outgoing o : left) {
        o.sent.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "the stream ended"));
      }
    }

    void halfClose() {
      synchronized (this) {
        if (ended) {
          return;
        }
        requests.onCompleted();
      }
      failQueued();
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
      failQueued();
      disconnected(attempt, GrpcCodec.fromStatus(unwrap(t)));
    }

    @Override
    public void onCompleted() {
      failQueued();
      disconnected(attempt, new SwitchboardException(Status.UNAVAILABLE, "the server ended the session"));
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
              opened(attempt, Session.this);
              super.onHeaders(h);
            }
          }, headers);
        }
      };
    }
  }
}
