package dev.switchboard.transport.internal;

import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
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
 * The client session of the transports that carry frames over one connection (WebSocket, gRPC):
 * state, subscriptions, publishes and subscribes awaiting their answer (matched by {@code ref}),
 * reconnect with backoff and resubscription from the last delivered id, and the dispatch of the
 * server's answers. A transport supplies only how to connect, how to encode a frame and how to
 * write one.
 *
 * <p>One behaviour on every such transport: a publish completes on the server's ack, fails with its
 * error, or fails with UNAVAILABLE ({@code deadline_exceeded}) when no answer comes within the
 * request timeout (which covers waiting for a connection too); at most
 * {@link TransportConfig#maxPendingPublishes()} publishes await an answer and at most
 * {@link TransportConfig#maxSendQueueBytes()} bytes of frames wait to be written, past which
 * {@link #send} fails at once with TOO_MANY_REQUESTS instead of buffering; a disconnect with a
 * retryable status ({@link Status#isRetryable()}) reconnects, any other ends the channel.
 *
 * <p>Internal. Thread-safe.
 *
 * @param <C> one connection (a WebSocket, a gRPC stream)
 * @param <F> one frame the client sends
 */
public abstract class FrameChannel<C, F> implements Channel {
  private static final Logger log = LoggerFactory.getLogger(FrameChannel.class);

  private final String transport;
  /** The channel's configuration. */
  protected final TransportConfig config;
  private final Object target;
  private final ChannelState state = new ChannelState(State.CONNECTING);
  private final Map<String, Sub> subs = new ConcurrentHashMap<>();
  private final Map<String, Sub> pendingSubscribes = new ConcurrentHashMap<>();
  private final Map<String, Pending> pendingPublishes = new ConcurrentHashMap<>();
  private final PublishGate gate;
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicLong refs = new AtomicLong();
  private final Backoff.Retry retry;
  private volatile CompletableFuture<C> connected = new CompletableFuture<>();
  private volatile SwitchboardException terminal;

  private record Pending(Message draft, CompletableFuture<Message> result) {}

  /**
   * @param transport the transport's name, e.g. {@code ws}
   * @param target where it connects, for error messages
   */
  protected FrameChannel(String transport, TransportConfig config, Object target) {
    this.transport = transport;
    this.config = config;
    this.target = target;
    this.gate = new PublishGate(config);
    this.retry = config.reconnectBackoff().start();
  }

  // ---- what a transport supplies

  /**
   * Starts one connection attempt, reported once through {@link #opened} or {@link #disconnected}
   * with this {@code attempt}; a connection that opened reports its end through {@link #disconnected}.
   */
  protected abstract void connect(CompletableFuture<C> attempt);

  /** The publish frame for a draft. */
  protected abstract F publishFrame(Message draft, String ref);

  /** The subscribe frame; {@code after} is null for live only. */
  protected abstract F subscribeFrame(String topic, String after, String ref);

  /** The unsubscribe frame. */
  protected abstract F unsubscribeFrame(String topic);

  /** A frame's size in bytes (as held in memory), counted against the send queue's bound. */
  protected abstract int frameBytes(F frame);

  /**
   * Queues one frame on the connection; the stage completes when the frame has left the
   * transport's queue, exceptionally when it could not be sent.
   */
  protected abstract CompletionStage<?> write(C connection, F frame);

  /** Whether the connection can no longer carry frames. */
  protected abstract boolean isEnded(C connection);

  /**
   * Ends a connection the channel no longer wants (closed, or opened after the close). May be called
   * twice for one connection when the close races its opening: must be idempotent.
   */
  protected abstract void closeConnection(C connection);

  /** The channel ended (closed or given up): release what the transport holds. Called once. */
  protected void released() {}

  /** Makes the first connection attempt: the subclass calls it last in its constructor. */
  protected final void start() {
    connect(connected);
  }

  // ---- what a transport reports

  /** The attempt connected (for a stream: the server accepted it): resubscribes, then sends what waited. */
  protected final void opened(CompletableFuture<C> attempt, C connection) {
    if (state.get() == State.CLOSED) {
      closeConnection(connection);
      return;
    }
    retry.reset();
    state.set(State.OPEN, null);
    // Subscriptions first, then the sends that waited for the connection. A subscribe() racing
    // with this loop also sends once the future completes; markSent() keeps it to one frame.
    for (Sub s : subs.values()) {
      sendSubscribe(connection, s);
    }
    // close() may have run since the check above: it ends only a connection whose future it finds
    // completed, so one it failed first (or that it raced) is ended here; else the server would keep
    // this connection and its subscriptions for as long as the socket lives.
    if (!attempt.complete(connection) || state.get() == State.CLOSED) {
      closeConnection(connection);
    }
  }

  /** The attempt failed or the connection is gone: fail what awaited an answer, then reconnect or end. */
  protected final void disconnected(CompletableFuture<C> attempt, SwitchboardException cause) {
    boolean retryable = cause.status().isRetryable();
    failPublishes(retryable ? new SwitchboardException(Status.UNAVAILABLE,
        "connection lost before the server acknowledged the publish (it may or may not be stored): "
            + cause.getMessage(), cause) : cause);
    pendingSubscribes.clear();
    if (state.get() == State.CLOSED) {
      return;
    }
    Optional<Duration> delay = retryable ? retry.next(cause.retryAfter().orElse(null)) : Optional.empty();
    if (delay.isEmpty()) {
      end(retryable ? new SwitchboardException(Status.UNAVAILABLE, "gave up reconnecting to " + target
          + " after " + retry.attempts() + " attempts: " + cause.getMessage(), cause) : cause);
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
    ClientSupport.TIMER.schedule(() -> {
      if (state.get() != State.CLOSED) {
        connect(connected);
      }
    }, delay.get().toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A message frame. */
  protected final void onMessageFrame(Message m) {
    Sub s = subs.get(m.topic());
    if (s != null) {
      s.deliver(m);
    }
  }

  /** A reset frame; a missing reason is {@link MessageListener#HISTORY_GAP}. */
  protected final void onResetFrame(String topic, String reason) {
    Sub s = topic == null ? null : subs.get(topic);
    if (s != null) {
      s.reset(reason == null || reason.isEmpty() ? MessageListener.HISTORY_GAP : reason);
    }
  }

  /** The subscribed frame: the subscription is in place. */
  protected final void onSubscribedFrame(String topic, boolean recovered) {
    pendingSubscribes.values().removeIf(s -> s.topic().equals(topic));
    Sub s = topic == null ? null : subs.get(topic);
    if (s != null) {
      s.subscribed(recovered);
    }
  }

  /** An ack: the publish {@code ref} is stored as {@code id} (at {@code time}, when the server says). */
  protected final void onAckFrame(String ref, String id, Instant time) {
    Pending p = ref == null ? null : pendingPublishes.remove(ref);
    if (p != null) {
      Message.Builder b = p.draft.toBuilder().id(id);
      if (time != null) {
        b.time(time);
      }
      p.result.complete(b.build());
    }
  }

  /** An error frame: fails the publish or subscription it answers; one without a ref is only logged. */
  protected final void onErrorFrame(String ref, SwitchboardException e) {
    if (ref == null || ref.isEmpty()) {
      log.warn("server reported an error: {}", e.getMessage());
      return;
    }
    Pending p = pendingPublishes.remove(ref);
    if (p != null) {
      p.result.completeExceptionally(e);
      return;
    }
    Sub s = pendingSubscribes.remove(ref);
    if (s != null) {
      s.fail(e);
    }
  }

  // ---- Channel

  @Override
  public final String transport() {
    return transport;
  }

  @Override
  public final State state() {
    return state.get();
  }

  @Override
  public final void addStateListener(StateListener listener) {
    state.addListener(listener);
  }

  @Override
  public final CompletionStage<Message> send(Message message) {
    if (state.get() == State.CLOSED) {
      return CompletableFuture.failedFuture(closedError());
    }
    CompletableFuture<Message> result = gate.admit(message);
    if (result.isDone()) {
      return result;
    }
    String ref = "p" + refs.incrementAndGet();
    // One deadline for the whole publish: waiting for a connection, sending, and the answer.
    CompletableFuture<Void> deadline = new CompletableFuture<Void>()
        .completeOnTimeout(null, config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
    deadline.thenRun(() -> {
      pendingPublishes.remove(ref);
      result.completeExceptionally(SwitchboardException.of(Status.UNAVAILABLE, "deadline_exceeded",
          "no answer to the publish within " + config.requestTimeout().toMillis()
              + " ms (switchboard.request-timeout); it may or may not be stored"));
    });
    result.whenComplete((m, e) -> deadline.cancel(false));
    F frame = publishFrame(message, ref);
    connected.whenComplete((c, err) -> {
      if (err != null) {
        result.completeExceptionally(SwitchboardException.from(err));
      } else if (!result.isDone()) {
        sendPublish(c, ref, frame, new Pending(message, result));
      }
    });
    return result;
  }

  private void sendPublish(C c, String ref, F frame, Pending p) {
    int size = frameBytes(frame);
    if (!reserve(size)) {
      p.result.completeExceptionally(SwitchboardException.of(Status.TOO_MANY_REQUESTS, "send_queue_full",
          "the send queue holds " + queuedBytes.get() + " bytes not yet written, and " + size
              + " more would pass its bound of " + config.maxSendQueueBytes()
              + " bytes (switchboard.max-send-queue-bytes): the connection is slower than the publishes"));
      return;
    }
    pendingPublishes.put(ref, p);
    if (isEnded(c) || state.get() == State.CLOSED) {
      // The connection ended between our look and our put: its disconnect may not see this one.
      queuedBytes.addAndGet(-size);
      if (pendingPublishes.remove(ref) != null) {
        p.result.completeExceptionally(terminal != null ? terminal
            : new SwitchboardException(Status.UNAVAILABLE, "connection closed before the publish was sent"));
      }
      return;
    }
    written(c, frame, size).whenComplete((v, e) -> {
      if (e != null && pendingPublishes.remove(ref) != null) {
        Throwable t = ClientSupport.unwrap(e);
        p.result.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE,
            "sending the publish failed: " + t, t));
      }
    });
  }

  /** Counts {@code size} bytes into the send queue unless that passes its bound (one frame always fits). */
  private boolean reserve(int size) {
    long q;
    do {
      q = queuedBytes.get();
      if (q > 0 && q + size > config.maxSendQueueBytes()) {
        return false;
      }
    } while (!queuedBytes.compareAndSet(q, q + size));
    return true;
  }

  /** Writes a reserved frame and releases its bytes once it has left the queue. */
  private CompletionStage<?> written(C c, F frame, int size) {
    CompletionStage<?> w;
    try {
      w = write(c, frame);
    } catch (RuntimeException e) {
      w = CompletableFuture.failedFuture(e);
    }
    return w.whenComplete((v, e) -> queuedBytes.addAndGet(-size));
  }

  /** Sends a control frame (subscribe, unsubscribe): small, bounded by the subscriptions, never refused. */
  private void sendControl(C c, F frame) {
    int size = frameBytes(frame);
    queuedBytes.addAndGet(size);
    written(c, frame, size);
  }

  private void sendSubscribe(C c, Sub s) {
    if (!s.markSent(c)) {
      return;
    }
    String ref = "s" + refs.incrementAndGet();
    pendingSubscribes.put(ref, s);
    sendControl(c, subscribeFrame(s.topic(), s.requestResume(), ref));
  }

  @Override
  public final Subscription subscribe(String topic, String afterId, MessageListener listener) {
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
    // Now if connected, else when the connection is up (opened() also sends it; once per connection).
    connected.thenAccept(c -> sendSubscribe(c, s));
    return s;
  }

  @Override
  public void close() {
    if (!state.close(null)) {
      return;
    }
    subs.clear();
    SwitchboardException closed = new SwitchboardException(Status.UNAVAILABLE, "channel closed");
    failPublishes(closed);
    CompletableFuture<C> c = connected;
    c.completeExceptionally(closed);
    if (c.isDone() && !c.isCompletedExceptionally()) {
      closeConnection(c.join());
    }
    released();
  }

  private void end(SwitchboardException cause) {
    // Closed before subscriptions are told, so a send from inside a callback already sees the end.
    terminal = cause;
    state.close(cause);
    connected.completeExceptionally(cause);
    for (Sub s : List.copyOf(subs.values())) {
      s.fail(cause);
    }
    released();
  }

  private void failPublishes(SwitchboardException cause) {
    for (String ref : List.copyOf(pendingPublishes.keySet())) {
      Pending p = pendingPublishes.remove(ref);
      if (p != null) {
        p.result.completeExceptionally(cause);
      }
    }
  }

  private SwitchboardException closedError() {
    return terminal != null ? terminal : new SwitchboardException(Status.UNAVAILABLE, "channel is closed");
  }

  /** One subscription; resubscribed after reconnects from its last delivered id. */
  private final class Sub extends ListenerSubscription {
    private Object sentOn; // the connection this was last subscribed on; guarded by this

    Sub(String topic, String afterId, MessageListener listener) {
      super(topic, afterId, listener);
    }

    /** True the first time for each connection: subscribe once per connection. */
    synchronized boolean markSent(Object connection) {
      if (sentOn == connection) {
        return false;
      }
      sentOn = connection;
      return true;
    }

    @Override
    public void close() {
      if (!isActive()) {
        return;
      }
      super.close();
      CompletableFuture<C> c = connected;
      if (c.isDone() && !c.isCompletedExceptionally()) {
        sendControl(c.join(), unsubscribeFrame(topic()));
      }
    }

    @Override
    protected void onEnd() {
      subs.remove(topic(), this);
    }
  }
}
