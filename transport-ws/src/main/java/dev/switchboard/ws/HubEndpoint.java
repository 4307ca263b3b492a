package dev.switchboard.ws;

import dev.switchboard.hub.Connection;
import dev.switchboard.hub.OutboundWriter;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import jakarta.websocket.CloseReason;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.PongMessage;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket session: translates frames to hub calls; its {@link OutboundWriter} sends the hub's
 * queue plus its own replies through the async remote with at most one send in flight (so
 * concurrent publishes never hit the container's "already writing" state and no container thread
 * ever blocks), and a send that fails or throws (Tomcat throws on a session closed under us) ends
 * this session only.
 *
 * <p>Public only because Jakarta WebSocket containers require endpoint classes to be; it is created
 * by {@link WebSocketTransport}'s configurator, not by applications. Thread-safe.
 */
public final class HubEndpoint extends Endpoint {
  private static final Logger log = LoggerFactory.getLogger(HubEndpoint.class);

  private final WebSocketTransport transport;
  private final Outbound out = new Outbound();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile Session session;
  private volatile Connection connection;
  private volatile Principal principal;
  private volatile long lastPongNanos = System.nanoTime();
  volatile int pingSlice; // which slice of the ping interval pings this session (set when opened)

  HubEndpoint(WebSocketTransport transport) {
    this.transport = transport;
  }

  @Override
  public void onOpen(Session s, EndpointConfig config) {
    this.session = s;
    Object refused = config.getUserProperties().get(HubConfigurator.REFUSED);
    if (refused instanceof SwitchboardException e) {
      close(e.status().webSocketCloseCode(), e.errorCode() + ": " + e.getMessage());
      return;
    }
    principal = (Principal) config.getUserProperties().get(HubConfigurator.PRINCIPAL);
    if (principal == null) {
      close(Status.UNAUTHENTICATED.webSocketCloseCode(), "unauthenticated: handshake was not authenticated");
      return;
    }
    s.setMaxTextMessageBufferSize(transport.maxMessageBytes);
    s.setMaxBinaryMessageBufferSize(WsProtocol.MAX_BINARY_BYTES);
    s.setMaxIdleTimeout(transport.idleTimeout.toMillis());
    if (transport.maxWriteBatch > 0 && WebSocketTransport.JETTY_CORE_VISIBLE) {
      out.jetty = JettyFrames.of(s.getAsyncRemote());
    }
    try {
      connection = out.connect(transport.hub, principal,
          (InetSocketAddress) config.getUserProperties().get(HubConfigurator.REMOTE), "ws");
    } catch (SwitchboardException e) {
      close(e.status().webSocketCloseCode(), e.errorCode() + ": " + e.getMessage());
      return;
    }
    s.addMessageHandler(String.class, (MessageHandler.Whole<String>) this::onText);
    s.addMessageHandler(ByteBuffer.class, (MessageHandler.Whole<ByteBuffer>) b -> out.reply(WsProtocol.error(null,
        SwitchboardException.of(Status.UNSUPPORTED_MEDIA_TYPE, "binary_frame",
            "binary frames are not supported: send one JSON object per text frame"))));
    s.addMessageHandler(PongMessage.class, (MessageHandler.Whole<PongMessage>) p -> lastPongNanos = System.nanoTime());
    transport.opened(this);
    out.start();
  }

  private void onText(String text) {
    String ref = null;
    try {
      WsProtocol.ClientFrame f = WsProtocol.parseClient(text);
      ref = f.ref();
      if (f instanceof WsProtocol.Subscribe s) {
        subscribe(s);
      } else if (f instanceof WsProtocol.Unsubscribe u) {
        unsubscribe(u);
      } else if (f instanceof WsProtocol.Publish p) {
        publish(p);
      }
    } catch (WsProtocol.BadFrame e) {
      out.reply(WsProtocol.error(e.ref, e.error));
    } catch (SwitchboardException e) {
      out.reply(WsProtocol.error(ref, e));
    } catch (RuntimeException e) {
      log.warn("unexpected failure handling a frame", e);
      out.reply(WsProtocol.error(ref, new SwitchboardException(Status.INTERNAL, "internal error")));
    }
  }

  private static String requireTopic(String op, String topic, String ref) throws WsProtocol.BadFrame {
    if (topic == null) {
      throw WsProtocol.bad("missing_field", op + " needs 'topic'", ref);
    }
    return Topics.requireValid(topic);
  }

  private void subscribe(WsProtocol.Subscribe f) throws WsProtocol.BadFrame {
    String topic = requireTopic("subscribe", f.topic(), f.ref());
    String ref = f.ref();
    connection.subscribe(topic, f.after()).whenComplete((v, err) -> {
      if (err != null) {
        out.reply(WsProtocol.error(ref, SwitchboardException.from(err)));
      }
    });
  }

  private void unsubscribe(WsProtocol.Unsubscribe f) throws WsProtocol.BadFrame {
    String topic = requireTopic("unsubscribe", f.topic(), f.ref());
    connection.unsubscribe(topic);
    out.reply(WsProtocol.unsubscribed(topic, f.ref()));
  }

  private void publish(WsProtocol.Publish f) throws WsProtocol.BadFrame {
    String topic = requireTopic("publish", f.topic(), f.ref());
    Message draft = WsProtocol.payload(Message.builder(topic).event(Topics.requireValidEvent(f.event())), f).build();
    String ref = f.ref();
    connection.publish(draft).whenComplete((stored, err) -> out.reply(err == null
        ? WsProtocol.ack(ref, stored.id(), stored.time()) : WsProtocol.error(ref, SwitchboardException.from(err))));
  }

  /**
   * The session's writer: frames go out through the async remote, one send in flight; on Jetty the
   * frames queued when a send starts go out with it in one write ({@link JettyFrames}).
   */
  private final class Outbound extends OutboundWriter<String> {
    /** The one completion handler of every send (no allocation per frame). */
    private final SendHandler onSent = this::onSent;
    /** Jetty's frame flusher, or null on other containers (set in onOpen, before start()). */
    JettyFrames jetty;
    private JettyFrames.Done lastSent;
    private JettyFrames.Done batched;

    Outbound() {
      super(true);
    }

    @Override
    protected String encode(Connection.Event e) {
      if (e instanceof Connection.Delivery d) {
        return WsProtocol.message(d.message());
      }
      if (e instanceof Connection.Reset r) {
        return WsProtocol.reset(r.topic(), r.reason());
      }
      Connection.Subscribed sub = (Connection.Subscribed) e;
      return WsProtocol.subscribed(sub.topic(), sub.recovered());
    }

    @Override
    protected void write(String frame) {
      JettyFrames j = jetty;
      if (j == null) {
        // Tomcat throws IllegalStateException here when the session closed under us: the writer
        // ends this session only.
        session.getAsyncRemote().sendText(frame, onSent);
        return;
      }
      if (lastSent == null) {
        lastSent = new JettyFrames.Done(() -> sent(null), this::sent);
        // A batched frame's failure fails the frame after it too (Jetty's flusher fails what is
        // queued behind it), whose completion ends the session: nothing to do here.
        batched = new JettyFrames.Done(() -> { }, t -> log.debug("batched send failed: {}", t.toString()));
      }
      String next = pollFrame();
      if (next == null) {
        j.send(frame, false, lastSent); // a lone frame: written at once, from the shared bytes
        return;
      }
      int chars = frame.length();
      do {
        j.send(frame, true, batched);
        frame = next;
        chars += frame.length();
      } while (chars < transport.maxWriteBatch && (next = pollFrame()) != null);
      transport.coalescedWrites.increment();
      j.send(frame, false, lastSent); // writes the batch and this frame together; completes the write
    }

    private void onSent(SendResult result) {
      sent(result.isOK() ? null : result.getException() != null ? result.getException()
          : new IOException("send failed"));
    }

    @Override
    protected void close(SwitchboardException error) {
      if (error == null) {
        HubEndpoint.this.close(WsProtocol.CLOSE_NORMAL, "closing");
      } else {
        HubEndpoint.this.close(error.status().webSocketCloseCode(), error.errorCode() + ": " + error.getMessage());
      }
    }
  }

  void ping(Duration interval) {
    Session s = session;
    if (s == null || closed.get()) {
      return;
    }
    if (System.nanoTime() - lastPongNanos > interval.toNanos() * 2 + interval.toNanos() / 2) {
      out.closeNow(SwitchboardException.of(Status.UNAVAILABLE, "ping_timeout",
          "no pong for " + interval.multipliedBy(2).toSeconds() + " s"));
      return;
    }
    try {
      s.getAsyncRemote().sendPing(ByteBuffer.wrap("sb".getBytes(StandardCharsets.US_ASCII)));
    } catch (IOException | RuntimeException e) {
      log.debug("ping failed: {}", e.toString());
    }
  }

  /** Closes the session once (the writer's end, or a refused handshake before there is a writer). */
  private void close(int code, String reason) {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Connection c = connection;
    if (c != null) {
      c.release();
    }
    transport.closed(this);
    Session s = session;
    if (s == null) {
      return;
    }
    byte[] r = reason.getBytes(StandardCharsets.UTF_8);
    String shortReason = r.length <= 120 ? reason : new String(r, 0, 120, StandardCharsets.UTF_8);
    try {
      s.close(new CloseReason(CloseReason.CloseCodes.getCloseCode(code), shortReason));
    } catch (IOException | RuntimeException e) {
      log.debug("close failed: {}", e.toString());
    }
  }

  @Override
  public void onClose(Session s, CloseReason reason) {
    closed.set(true);
    out.released(); // releases the hub connection: the client is gone
    transport.closed(this);
  }

  @Override
  public void onError(Session s, Throwable t) {
    log.debug("websocket error: {}", t.toString());
  }
}
