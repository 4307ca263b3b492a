package dev.switchboard.ws;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.transport.internal.HubAccess;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContext;
import jakarta.websocket.DeploymentException;
import jakarta.websocket.server.ServerContainer;
import jakarta.websocket.server.ServerEndpointConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The WebSocket endpoint {@code GET /v1/ws} (subprotocol {@code switchboard.v1.json}) for any
 * Jakarta WebSocket 2.1 container (Jetty 12, Tomcat 10.1+, Undertow), registered programmatically:
 *
 * <pre>{@code
 * WebSocketTransport ws = WebSocketTransport.builder(hub).build();
 * ws.register(servletContext, serverContainer);   // handshake filter + endpoint, while the context starts
 * }</pre>
 *
 * <p>Every handshake is decided before the upgrade by the {@link #handshakeFilter() handshake
 * filter}, and a refusal is a plain HTTP answer with the JSON error body, never a 101: 403
 * ({@code forbidden_host}, {@code forbidden_origin}) when the hub's {@link Hub#originPolicy() origin
 * policy} refuses the {@code Host} or the {@code Origin} (same origin, or an allowed one; cross-origin
 * handshakes are refused by default), 401 when the hub's {@code Authenticator} refuses the
 * credentials, 503 with {@code Retry-After} at the connection limit or while shutting down. Without
 * the filter (only the endpoint added) the same checks run in the endpoint's configurator, after
 * the upgrade: the session is closed at once with 4403 or 4401 (1001 for capacity) and a reason naming why.
 *
 * <p>Frames are answered per
 * docs/protocol.md §4; a bad frame gets an {@code error} frame and the connection stays usable. Outbound
 * frames go through the hub's bounded per-connection queue and the async remote, one send in
 * flight per session (on Jetty, the frames queued by then go out together in one write: see
 * {@link Builder#maxWriteBatch}); a client that cannot keep up is closed with 4000 and resumes from history.
 * Server pings keep idle connections alive and close peers that stop answering.
 *
 * <p>Thread-safe.
 */
public final class WebSocketTransport {
  final Hub hub;
  final String path;
  final OriginPolicy originPolicy;
  final Duration pingInterval;
  final Duration idleTimeout;
  final int maxMessageBytes;
  final int maxWriteBatch;
  /** Writes that carried more than one frame (coalesced on Jetty); for tests and diagnosis. */
  final java.util.concurrent.atomic.LongAdder coalescedWrites = new java.util.concurrent.atomic.LongAdder();
  /** Sessions are pinged in this many slices of the ping interval, round robin by opening order. */
  static final int PING_SLICES = 8;

  final Set<HubEndpoint> sessions = ConcurrentHashMap.newKeySet();
  final HandshakeFilter handshakeFilter = new HandshakeFilter(this);
  private final AtomicLong opened = new AtomicLong();
  private volatile ScheduledFuture<?> pinger;

  private WebSocketTransport(Builder b) {
    this.hub = b.hub;
    this.path = b.path;
    this.originPolicy = WirePaths.withOrigins(hub.originPolicy(), b.allowedOrigins);
    this.pingInterval = b.pingInterval;
    this.idleTimeout = b.idleTimeout;
    this.maxMessageBytes = b.maxMessageBytes > 0 ? b.maxMessageBytes
        : (int) Math.min(Integer.MAX_VALUE, hub.maxPayloadBytes() * 2L + WsProtocol.ENVELOPE_BYTES);
    this.maxWriteBatch = b.maxWriteBatch;
  }

  /**
   * Whether Jetty's core WebSocket API is visible from this module (checked without linking it), so
   * that {@link JettyFrames} may be used on sessions whose remote is Jetty's.
   */
  static final boolean JETTY_CORE_VISIBLE = visible("org.eclipse.jetty.websocket.core.OutgoingFrames")
      && visible("org.eclipse.jetty.util.Callback");

  private static boolean visible(String className) {
    try {
      Class.forName(className, false, WebSocketTransport.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  public static Builder builder(Hub hub) {
    return new Builder(hub);
  }

  /** The endpoint configuration to add to a {@link ServerContainer}. */
  public ServerEndpointConfig endpointConfig() {
    return ServerEndpointConfig.Builder.create(HubEndpoint.class, path)
        .subprotocols(List.of(WsProtocol.SUBPROTOCOL))
        .configurator(new HubConfigurator(this))
        .build();
  }

  /**
   * Adds the endpoint to a container, without the {@link #handshakeFilter() handshake filter}: a
   * refused handshake is then upgraded and closed at once (4403 for origin or host, 4401 for credentials,
   * 1001 for the connection limit) instead of answered 403, 401 or 503, which browsers and most
   * WebSocket clients report as a successful open followed by a close. Prefer
   * {@link #register(ServletContext, ServerContainer)}.
   *
   * @throws DeploymentException when the container refuses it (e.g. the path is taken)
   */
  public void register(ServerContainer container) throws DeploymentException {
    container.addEndpoint(endpointConfig());
  }

  /**
   * Adds the {@link #handshakeFilter() handshake filter} for this endpoint's path, ahead of the
   * container's own filters (so it sees the handshake before the upgrade), and the endpoint. Call it
   * while the context starts: in Jetty's {@code JakartaWebSocketServletContainerInitializer.configure}
   * callback, or a {@code ServletContainerInitializer}.
   *
   * @throws DeploymentException when the container refuses the endpoint (e.g. the path is taken)
   * @throws IllegalStateException when the context has already started or the filter is already added
   */
  public void register(ServletContext context, ServerContainer container) throws DeploymentException {
    String name = "switchboard-ws-handshake " + path;
    FilterRegistration.Dynamic filter = context.addFilter(name, handshakeFilter);
    if (filter == null) {
      throw new IllegalStateException("a filter named '" + name + "' is already added to this context");
    }
    filter.setAsyncSupported(true);
    filter.addMappingForUrlPatterns(EnumSet.of(DispatcherType.REQUEST), false, path);
    container.addEndpoint(endpointConfig());
  }

  /**
   * The servlet filter that decides handshakes before the upgrade and answers refused ones with a
   * plain HTTP response and the JSON error body instead of an upgrade: 403 ({@code forbidden_host},
   * {@code forbidden_origin}) for the origin policy, 401 for the credentials, 503 with
   * {@code Retry-After} and {@code Connection: close} ({@code too_many_connections} at the hub's
   * connection limit, {@code unavailable} while it shuts down). Map it to the endpoint's path for
   * REQUEST dispatches ahead of the container's WebSocket filter (Spring Boot: a
   * {@code FilterRegistrationBean}); requests for other paths pass through. The endpoint then takes
   * the principal the filter authenticated (the Authenticator runs once per handshake).
   * {@link #register(ServletContext, ServerContainer)} does this for you.
   */
  public Filter handshakeFilter() {
    return handshakeFilter;
  }

  /** Open WebSocket sessions. */
  public int sessionCount() {
    return sessions.size();
  }

  void opened(HubEndpoint e) {
    e.pingSlice = (int) (opened.getAndIncrement() % PING_SLICES);
    sessions.add(e);
    if (pinger == null) {
      synchronized (this) {
        if (pinger == null) {
          try {
            // Each session is pinged once per interval, in one of PING_SLICES slices of it: pinging
            // every session at once stalled fan-out at 1,000 busy sessions (as SSE heartbeats did).
            long ms = Math.max(1, pingInterval.toMillis() / PING_SLICES);
            AtomicLong tick = new AtomicLong();
            pinger = HubAccess.scheduler(hub).scheduleAtFixedRate(() -> {
              int slice = (int) (tick.getAndIncrement() % PING_SLICES);
              for (HubEndpoint s : sessions) {
                if (s.pingSlice == slice) {
                  s.ping(pingInterval);
                }
              }
            }, ms, ms, TimeUnit.MILLISECONDS);
          } catch (java.util.concurrent.RejectedExecutionException ex) {
            // hub shut down: no pings needed
          }
        }
      }
    }
  }

  void closed(HubEndpoint e) {
    sessions.remove(e);
  }

  /** Builds a {@link WebSocketTransport}. Not thread-safe; setters fail fast on bad values. */
  public static final class Builder {
    private final Hub hub;
    private String path = "/v1/ws";
    private final List<String> allowedOrigins = new ArrayList<>();
    private Duration pingInterval = Duration.ofSeconds(30);
    private Duration idleTimeout = Duration.ofMinutes(5);
    private int maxMessageBytes;
    private int maxWriteBatch = 64 * 1024;

    private Builder(Hub hub) {
      this.hub = Objects.requireNonNull(hub, "hub");
    }

    /** Endpoint path (default {@code /v1/ws}); prefix a base path here, e.g. {@code /api/v1/ws}. */
    public Builder path(String path) {
      if (path == null || !path.startsWith("/") || path.endsWith("/")) {
        throw new IllegalArgumentException("path must start, and not end, with '/': " + path);
      }
      this.path = path;
      return this;
    }

    /** A base path before {@code /v1/ws}, like the HTTP filters' {@code basePath}. */
    public Builder basePath(String basePath) {
      return path(WirePaths.requireBasePath(basePath) + "/v1/ws");
    }

    /**
     * Allows handshakes from this origin ({@code https://app.example.com}) besides the hub's
     * {@link Hub.Builder#originPolicy origin policy}; {@code *} allows any (do not, if browsers send
     * credentials: Cross-Site WebSocket Hijacking).
     *
     * @deprecated set the origins once for every transport with
     *     {@code Hub.builder().originPolicy(OriginPolicy.builder().allowOrigin(origin).build())}
     * @throws IllegalArgumentException when it is not {@code scheme://host[:port]} or {@code *}
     */
    @Deprecated
    public Builder allowOrigin(String origin) {
      OriginPolicy.builder().allowOrigin(origin); // fails fast on a malformed origin
      allowedOrigins.add(origin);
      return this;
    }

    /**
     * Server ping interval (default 30 s): each session is pinged once per interval, the sessions
     * spread over eight slices of it rather than all at once; a peer silent for two intervals is closed.
     */
    public Builder pingInterval(Duration interval) {
      if (interval == null || interval.toMillis() < 10) {
        throw new IllegalArgumentException("pingInterval must be at least 10ms: " + interval);
      }
      this.pingInterval = interval;
      return this;
    }

    /** Idle timeout of a session with no traffic at all (default 5 min). */
    public Builder idleTimeout(Duration timeout) {
      if (timeout == null || timeout.toMillis() < 100) {
        throw new IllegalArgumentException("idleTimeout must be at least 100ms: " + timeout);
      }
      this.idleTimeout = timeout;
      return this;
    }

    /**
     * Largest accepted text frame; bigger ones are closed with 1009. Default: twice the hub's payload
     * limit plus 64 KiB (room for base64 and the envelope), so an oversized payload below it gets an
     * {@code error} frame with 413 instead.
     */
    public Builder maxMessageBytes(int bytes) {
      if (bytes < 1024) {
        throw new IllegalArgumentException("maxMessageBytes must be >= 1024: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    /**
     * Coalesced writes: when several frames are queued for a session, up to this many characters of
     * them (default 64 Ki; at least one frame) go out in one socket write instead of one write each;
     * 0 turns it off. A lone frame is always written at once, so latency at low rates is unchanged.
     * Done on Jetty 12 through its frame flusher's batch mode, which does not block; on other
     * containers frames are written one at a time (the Jakarta API's {@code flushBatch()} blocks).
     * A batch taken from the hub's queue no longer counts against its limits while Jetty writes it: a
     * session holds at most this much (plus one frame) beyond {@link Hub.Builder#maxQueuedBytes}.
     *
     * @throws IllegalArgumentException when negative
     */
    public Builder maxWriteBatch(int chars) {
      if (chars < 0) {
        throw new IllegalArgumentException("maxWriteBatch must be >= 0: " + chars);
      }
      this.maxWriteBatch = chars;
      return this;
    }

    public WebSocketTransport build() {
      return new WebSocketTransport(this);
    }
  }
}
