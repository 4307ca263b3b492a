package dev.switchboard.ws;

import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import com.fasterxml.jackson.core.JsonParser;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.ClientSupport;
import dev.switchboard.transport.internal.FrameChannel;
import dev.switchboard.transport.internal.HttpChannel;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Channel} over one WebSocket ({@code /v1/ws}, subprotocol {@code switchboard.v1.json}) on
 * the JDK's {@link WebSocket}: the session logic is {@link FrameChannel}'s, this class connects,
 * encodes frames as JSON text and writes them. A close for bad credentials (4401, 4403) ends the
 * channel.
 *
 * <p>A connection that has been silent for {@link #PING_AFTER} is pinged (every few seconds until it
 * answers), and one still silent {@link #DEAD_AFTER} after its last frame is dropped and
 * reconnected. Besides a server that vanished without closing (power loss, a dropped network path),
 * this covers a JDK bug: when the server's FIN arrives while a listener callback is still running,
 * the JDK's WebSocket fails internally ({@code TransportImpl.acknowledgeReception} throws
 * {@code InternalError} for want of demand) and never calls {@code onClose} or {@code onError}; the
 * socket then stays in CLOSE_WAIT for ever.
 *
 * <p>Thread-safe. Listener callbacks run on the HTTP client's threads, one at a time; a listener that
 * blocks stops reading (back-pressure), and the server then treats the client as a slow consumer.
 */
final class WsChannel extends FrameChannel<WebSocket, String> {
  private static final Logger log = LoggerFactory.getLogger(WsChannel.class);
  /** A connection with no frame from the server for this long is pinged. */
  static final Duration PING_AFTER = Duration.ofSeconds(10);
  /** A connection with no frame (pong included) from the server for this long is dropped. */
  static final Duration DEAD_AFTER = Duration.ofSeconds(20);
  private static final long CHECK_EVERY_MS = 2_000;
  private static final ByteBuffer PING =
      ByteBuffer.wrap("sb-client".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();

  private final URI uri;
  private final HttpClient http;
  private final Object sendLock = new Object();
  private CompletableFuture<?> sendChain = CompletableFuture.completedFuture(null); // guarded by sendLock

  WsChannel(TransportConfig config) {
    this(config, webSocketUri(config.url()));
  }

  private WsChannel(TransportConfig config, URI uri) {
    super("ws", config, uri);
    this.uri = uri;
    HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(config.connectTimeout());
    if (config.sslContext() != null) {
      hb.sslContext(config.sslContext());
    }
    this.http = hb.build();
    start();
  }

  static URI webSocketUri(URI base) {
    String scheme = base.getScheme().toLowerCase(Locale.ROOT);
    String ws = switch (scheme) {
      case "http", "ws" -> "ws";
      case "https", "wss" -> "wss";
      default -> throw new IllegalArgumentException(
          "transport ws needs an http(s):// or ws(s):// URL, not " + base);
    };
    String s = ws + base.toString().substring(scheme.length());
    return URI.create((s.endsWith("/") ? s.substring(0, s.length() - 1) : s) + "/v1/ws");
  }

  @Override
  protected void connect(CompletableFuture<WebSocket> attempt) {
    WebSocket.Builder b = http.newWebSocketBuilder()
        .connectTimeout(config.connectTimeout())
        .subprotocols(WsProtocol.SUBPROTOCOL);
    config.headers().forEach(b::header);
    b.buildAsync(uri, new Listener(attempt)).whenComplete((ws, err) -> {
      if (err != null) {
        disconnected(attempt, handshakeFailure(unwrap(err)));
        return;
      }
      synchronized (sendLock) {
        sendChain = CompletableFuture.completedFuture(null);
      }
      opened(attempt, ws);
    });
  }

  private SwitchboardException handshakeFailure(Throwable t) {
    if (t instanceof WebSocketHandshakeException h) {
      // The hub's handshake filter answers refusals with its JSON error body (403 forbidden_origin,
      // 401 unauthenticated, 503 with Retry-After); a proxy's page keeps the status's own code.
      java.net.http.HttpResponse<?> r = h.getResponse();
      int code = r.statusCode();
      byte[] bytes = r.body() instanceof String text ? text.getBytes(StandardCharsets.UTF_8)
          : r.body() instanceof byte[] raw ? raw : new byte[0];
      Duration hint = HttpChannel.retryAfter(r.headers());
      SwitchboardException server = MessageJson.readError(code, bytes, hint);
      return new SwitchboardException(server.status(), server.errorCode(), "WebSocket handshake to " + uri
          + " refused with HTTP " + code + ": " + server.getMessage(), hint, t);
    }
    return new SwitchboardException(Status.UNAVAILABLE, "cannot connect to " + uri + ": " + t, t);
  }

  /** The status is the close code's ({@link Status#fromWebSocketClose}); the reason is only told. */
  static SwitchboardException closeCause(int code, String reason) {
    String r = reason == null || reason.isEmpty() ? "" : " " + reason;
    return new SwitchboardException(Status.fromWebSocketClose(code), "connection closed by server (" + code + r + ")");
  }

  @Override
  protected String publishFrame(Message draft, String ref) {
    return WsProtocol.publish(draft, ref);
  }

  @Override
  protected String subscribeFrame(String topic, String after, String ref) {
    return WsProtocol.subscribe(topic, after, ref);
  }

  @Override
  protected String unsubscribeFrame(String topic) {
    return WsProtocol.unsubscribe(topic);
  }

  @Override
  protected int frameBytes(String frame) {
    return frame.length(); // chars: what the String holds in memory, one byte each for ASCII
  }

  /** The JDK WebSocket allows one outstanding send: sends are chained. */
  @Override
  protected CompletionStage<?> write(WebSocket ws, String text) {
    synchronized (sendLock) {
      CompletableFuture<?> next = sendChain.handle((x, e) -> null).thenCompose(x -> ws.sendText(text, true));
      sendChain = next;
      return next;
    }
  }

  @Override
  protected boolean isEnded(WebSocket ws) {
    return ws.isInputClosed();
  }

  @Override
  protected void closeConnection(WebSocket ws) {
    ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").orTimeout(2, TimeUnit.SECONDS)
        .whenComplete((x, e) -> ws.abort());
  }

  private void onFrame(String text) {
    WsProtocol.ServerFrame f;
    try {
      f = WsProtocol.parseServer(text);
    } catch (WsProtocol.BadFrame e) {
      log.warn("ignoring a malformed frame from the server: {}", e.getMessage());
      return;
    }
    if (f instanceof WsProtocol.MessageFrame m) {
      Message message;
      try (JsonParser p = MessageJson.JSON.createParser(m.raw())) {
        p.nextToken();
        message = MessageJson.readMessage(p, m.raw());
      } catch (IOException | RuntimeException e) {
        log.warn("ignoring a malformed message frame: {}", e.toString());
        return;
      }
      onMessageFrame(message);
    } else if (f instanceof WsProtocol.Reset r) {
      onResetFrame(r.topic(), r.reason());
    } else if (f instanceof WsProtocol.Ack a) {
      onAckFrame(a.ref(), a.id(), a.time());
    } else if (f instanceof WsProtocol.ErrorFrame e) {
      onErrorFrame(e.ref(), e.error());
    } else if (f instanceof WsProtocol.Subscribed s) {
      onSubscribedFrame(s.topic(), s.recovered());
    } // unsubscribed, and ops from newer servers: nothing to do
  }

  /**
   * Receives one connection's frames; asks for the next one only after handling this one
   * (back-pressure). Watches that the server is still there (see the class comment).
   */
  private final class Listener implements WebSocket.Listener {
    private final CompletableFuture<WebSocket> attempt;
    private final StringBuilder partial = new StringBuilder();
    private final AtomicBoolean reported = new AtomicBoolean();
    private volatile long lastHeardNanos = System.nanoTime();
    /** While a frame is being handled the client is not reading: its silence is not the server's. */
    private volatile boolean handling;
    private volatile ScheduledFuture<?> watchdog;

    Listener(CompletableFuture<WebSocket> attempt) {
      this.attempt = attempt;
    }

    @Override
    public void onOpen(WebSocket ws) {
      lastHeardNanos = System.nanoTime();
      watchdog = ClientSupport.TIMER.scheduleWithFixedDelay(() -> check(ws),
          CHECK_EVERY_MS, CHECK_EVERY_MS, TimeUnit.MILLISECONDS);
      ws.request(1);
    }

    /** On the timer: pings a silent connection, drops a dead one. */
    private void check(WebSocket ws) {
      if (reported.get() || state() == State.CLOSED) {
        watchdog.cancel(false);
        return;
      }
      if (handling) {
        return;
      }
      long silentNanos = System.nanoTime() - lastHeardNanos;
      if (silentNanos >= DEAD_AFTER.toNanos()) {
        long ms = silentNanos / 1_000_000;
        log.debug("no frame from {} for {} ms: dropping the connection", uri, ms);
        ended(new SwitchboardException(Status.UNAVAILABLE,
            "connection to " + uri + " presumed dead: no frame or pong for " + ms + " ms"));
        ws.abort();
      } else if (silentNanos >= PING_AFTER.toNanos() && !ws.isOutputClosed()) {
        ws.sendPing(PING.duplicate()).whenComplete((x, e) -> {
          if (e != null) {
            log.debug("ping to {} failed: {}", uri, unwrap(e).toString());
          }
        });
      }
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      handling = true;
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
      lastHeardNanos = System.nanoTime();
      handling = false;
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      lastHeardNanos = System.nanoTime();
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
      lastHeardNanos = System.nanoTime(); // the JDK answers with a pong
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
      lastHeardNanos = System.nanoTime();
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
      ended(closeCause(code, reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      ended(new SwitchboardException(Status.UNAVAILABLE, "connection to " + uri + " broke: " + error, error));
    }

    private void ended(SwitchboardException cause) {
      if (reported.compareAndSet(false, true)) {
        ScheduledFuture<?> w = watchdog;
        if (w != null) {
          w.cancel(false);
        }
        disconnected(attempt, cause);
      }
    }
  }
}
