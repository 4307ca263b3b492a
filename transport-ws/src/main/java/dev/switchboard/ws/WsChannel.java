package dev.switchboard.ws;

import com.fasterxml.jackson.core.JsonParser;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import dev.switchboard.transport.internal.ChannelState;
import dev.switchboard.transport.internal.ClientSupport;
import dev.switchboard.transport.internal.ListenerSubscription;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
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
 * A {@link Channel} over one WebSocket ({@code /v1/ws}, subprotocol {@code switchboard.v1.json}) on
 * the JDK's {@link WebSocket}. Publishes complete on the server's {@code ack} (or fail with its
 * {@code error}); after a dropped connection it reconnects with backoff and resubscribes every
 * subscription after the last id it delivered. A close for bad credentials (1008) ends the channel.
 *
 * <p>Thread-safe. Listener callbacks run on the HTTP client's threads, one at a time; a listener that
 * blocks stops reading (back-pressure), and the server then treats the client as a slow consumer.
 */
final class WsChannel implements Channel {
  private static final Logger log = LoggerFactory.getLogger(WsChannel.class);

  private final TransportConfig config;
  private final URI uri;
  private final HttpClient http;
  private final ChannelState state = new ChannelState(State.CONNECTING);
  private final Map<String, Sub> subs = new ConcurrentHashMap<>();
  private final Map<String, Sub> pendingSubscribes = new ConcurrentHashMap<>();
  private final Map<String, Pending> pendingPublishes = new ConcurrentHashMap<>();
  private final AtomicLong refs = new AtomicLong();
  private final Backoff.Retry retry;
  private final Object sendLock = new Object();
  private CompletableFuture<?> sendChain = CompletableFuture.completedFuture(null); // guarded by sendLock
  private volatile CompletableFuture<WebSocket> connected = new CompletableFuture<>();
  private volatile SwitchboardException terminal;

  private record Pending(Message draft, CompletableFuture<Message> result) {}

  WsChannel(TransportConfig config) {
    this.config = config;
    this.uri = webSocketUri(config.url());
    this.retry = config.reconnectBackoff().start();
    HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(config.connectTimeout());
    if (config.sslContext() != null) {
      hb.sslContext(config.sslContext());
    }
    this.http = hb.build();
    connect();
  }

  static URI webSocketUri(URI base) {
    String scheme = base.getScheme().toLowerCase(java.util.Locale.ROOT);
    String ws;
    switch (scheme) {
      case "http": case "ws": ws = "ws"; break;
      case "https": case "wss": ws = "wss"; break;
      default:
        throw new IllegalArgumentException("transport ws needs an http(s):// or ws(s):// URL, not " + base);
    }
    String s = base.toString();
    s = ws + s.substring(scheme.length());
    if (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return URI.create(s + "/v1/ws");
  }

  private void connect() {
    if (state.get() == State.CLOSED) {
      return;
    }
    CompletableFuture<WebSocket> attempt = connected;
    WebSocket.Builder b = http.newWebSocketBuilder()
        .connectTimeout(config.connectTimeout())
        .subprotocols(WsProtocol.SUBPROTOCOL);
    config.headers().forEach(b::header);
    b.buildAsync(uri, new Listener()).whenComplete((ws, err) -> {
      if (err != null) {
        onDisconnect(handshakeFailure(unwrap(err)), attempt);
        return;
      }
      if (state.get() == State.CLOSED) {
        ws.abort();
        return;
      }
      synchronized (sendLock) {
        sendChain = CompletableFuture.completedFuture(null);
      }
      retry.reset();
      state.set(State.OPEN, null);
      // Subscriptions first, then the sends that waited for the connection. A subscribe() racing
      // with this loop also sends once the future completes; markSent() keeps it to one frame.
      for (Sub s : subs.values()) {
        sendSubscribe(ws, s);
      }
      attempt.complete(ws);
    });
  }

  private SwitchboardException handshakeFailure(Throwable t) {
    if (t instanceof WebSocketHandshakeException) {
      // The hub's handshake filter answers refusals with its JSON error body (403 forbidden_origin,
      // 401 unauthenticated, 503 with Retry-After); a proxy's page keeps the status's own code.
      java.net.http.HttpResponse<?> r = ((WebSocketHandshakeException) t).getResponse();
      int code = r.statusCode();
      Object body = r.body();
      byte[] bytes = body instanceof String ? ((String) body).getBytes(java.nio.charset.StandardCharsets.UTF_8)
          : body instanceof byte[] ? (byte[]) body : new byte[0];
      Duration hint = dev.switchboard.transport.internal.HttpChannel.retryAfter(r.headers());
      SwitchboardException server = MessageJson.readError(code, bytes, hint);
      return new SwitchboardException(server.status(), server.errorCode(), "WebSocket handshake to " + uri
          + " refused with HTTP " + code + ": " + server.getMessage(), hint, t);
    }
    return new SwitchboardException(Status.UNAVAILABLE, "cannot connect to " + uri + ": " + t, t);
  }

  /** The connection is gone: fail what awaited an answer, then reconnect or, if refused, end. */
  private void onDisconnect(SwitchboardException cause, CompletableFuture<WebSocket> attempt) {
    boolean retryable = cause.status().isRetryable() || cause.status() == Status.PAYLOAD_TOO_LARGE;
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
      end(retryable ? new SwitchboardException(Status.UNAVAILABLE, "gave up reconnecting to " + uri
          + " after " + retry.attempts() + " attempts: " + cause.getMessage(), cause) : cause);
      attempt.completeExceptionally(terminal);
      return;
    }
    // New sends wait for the next connection.
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
    // Closed before subscriptions are told, so a send from inside a callback already sees the end.
    terminal = cause;
    state.close(cause);
    connected.completeExceptionally(cause);
    for (Sub s : List.copyOf(subs.values())) {
      s.fail(cause);
    }
  }

  private static SwitchboardException closeCause(int code, String reason) {
    String r = reason == null ? "" : reason;
    Status status;
    if (code == 1008) {
      status = r.startsWith("unauthenticated") ? Status.UNAUTHENTICATED : Status.PERMISSION_DENIED;
    } else if (code == 1009) {
      status = Status.PAYLOAD_TOO_LARGE;
    } else if (code == 4000) {
      status = Status.SLOW_CONSUMER;
    } else if (code == 1013 || code == 1012) {
      status = Status.TOO_MANY_REQUESTS;
    } else {
      status = Status.UNAVAILABLE;
    }
    return new SwitchboardException(status, "connection closed by server (" + code + (r.isEmpty() ? "" : " " + r) + ")");
  }

  @Override
  public String transport() {
    return "ws";
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
    String frame = WsProtocol.publish(message, ref);
    connected.whenComplete((ws, err) -> {
      if (err != null) {
        result.completeExceptionally(SwitchboardException.from(err));
        return;
      }
      pendingPublishes.put(ref, new Pending(message, result));
      if (ws.isInputClosed() || state.get() == State.CLOSED) {
        // The connection ended between our look and our put: its disconnect may not see this one.
        if (pendingPublishes.remove(ref) != null) {
          result.completeExceptionally(terminal != null ? terminal
              : new SwitchboardException(Status.UNAVAILABLE, "connection closed before the publish was sent"));
        }
        return;
      }
      sendText(ws, frame).whenComplete((v, e) -> {
        if (e != null && pendingPublishes.remove(ref) != null) {
          result.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE,
              "sending the publish failed: " + unwrap(e), unwrap(e)));
        }
      });
    });
    return result;
  }

  /** The JDK WebSocket allows one outstanding send: sends are chained. */
  private CompletableFuture<?> sendText(WebSocket ws, String text) {
    synchronized (sendLock) {
      CompletableFuture<?> next = sendChain.handle((x, e) -> null).thenCompose(x -> ws.sendText(text, true));
      sendChain = next;
      return next;
    }
  }

  private void sendSubscribe(WebSocket ws, Sub s) {
    if (!s.markSent(ws)) {
      return;
    }
    String ref = "s" + refs.incrementAndGet();
    pendingSubscribes.put(ref, s);
    sendText(ws, WsProtocol.subscribe(s.topic(), s.lastId(), ref));
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
    // Now if connected, else when the connection is up (connect() also sends it; once per connection).
    connected.thenAccept(ws -> sendSubscribe(ws, s));
    return s;
  }

  @Override
  public void close() {
    if (!state.close(null)) {
      return;
    }
    subs.clear();
    for (String ref : List.copyOf(pendingPublishes.keySet())) {
      Pending p = pendingPublishes.remove(ref);
      if (p != null) {
        p.result.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "channel closed"));
      }
    }
    CompletableFuture<WebSocket> c = connected;
    c.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "channel closed"));
    if (c.isDone() && !c.isCompletedExceptionally()) {
      WebSocket ws = c.join();
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").orTimeout(2, TimeUnit.SECONDS)
          .whenComplete((x, e) -> ws.abort());
    }
  }


  private void onFrame(String text) {
    WsProtocol.Frame f;
    try {
      f = WsProtocol.parse(text);
    } catch (WsProtocol.BadFrame e) {
      log.warn("ignoring a malformed frame from the server: {}", e.getMessage());
      return;
    }
    switch (f.op()) {
      case "message": {
        Message m;
        try (JsonParser p = MessageJson.JSON.createParser(f.raw())) {
          p.nextToken();
          m = MessageJson.readMessage(p, f.raw());
        } catch (IOException | RuntimeException e) {
          log.warn("ignoring a malformed message frame: {}", e.toString());
          return;
        }
        Sub s = subs.get(m.topic());
        if (s != null) {
          s.deliver(m);
        }
        break;
      }
      case "reset": {
        Sub s = f.topic() == null ? null : subs.get(f.topic());
        if (s != null) {
          s.reset(f.reason() == null ? "history_gap" : f.reason());
        }
        break;
      }
      case "ack": {
        Pending p = f.ref() == null ? null : pendingPublishes.remove(f.ref());
        if (p != null) {
          p.result.complete(p.draft.toBuilder().id(f.id()).build());
        }
        break;
      }
      case "error": {
        SwitchboardException e = new SwitchboardException(
            Status.fromHttpStatus(f.status() == null ? 500 : f.status()),
            f.error() == null ? "error" : f.error(), f.message(),
            f.retryAfter() == null || f.retryAfter() < 1 ? null : Duration.ofSeconds(f.retryAfter()), null);
        if (f.ref() == null) {
          log.warn("server reported an error: {}", e.getMessage());
          break;
        }
        Pending p = pendingPublishes.remove(f.ref());
        if (p != null) {
          p.result.completeExceptionally(e);
          break;
        }
        Sub s = pendingSubscribes.remove(f.ref());
        if (s != null) {
          s.fail(e);
        }
        break;
      }
      case "subscribed": {
        pendingSubscribes.values().removeIf(s -> s.topic().equals(f.topic()));
        break;
      }
      default: // unsubscribed, and ops from newer servers: nothing to do
    }
  }

  /** Receives frames; asks for the next one only after handling this one (back-pressure). */
  private final class Listener implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();
    private volatile boolean reported;

    @Override
    public void onOpen(WebSocket ws) {
      ws.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        try {
          onFrame(text);
        } catch (RuntimeException e) {
          log.warn("frame handling failed", e);
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, java.nio.ByteBuffer data, boolean last) {
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
      disconnected(closeCause(code, reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      disconnected(new SwitchboardException(Status.UNAVAILABLE, "connection to " + uri + " broke: " + error, error));
    }

    private void disconnected(SwitchboardException cause) {
      if (!reported) {
        reported = true;
        onDisconnect(cause, connected);
      }
    }
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
      CompletableFuture<WebSocket> c = connected;
      if (c.isDone() && !c.isCompletedExceptionally()) {
        sendText(c.join(), WsProtocol.unsubscribe(topic()));
      }
    }

    @Override
    protected void onEnd() {
      subs.remove(topic(), this);
    }
  }
}
