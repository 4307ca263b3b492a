package dev.switchboard.sse;

import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.MessageJson;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.security.Principal;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Server-Sent Events endpoint {@code GET /v1/topics/{topic}/events} as a Servlet
 * {@link Filter} (other paths pass down the chain, so it shares a context with the HTTP filter).
 * Register it with async support enabled, in any Servlet 6 container.
 *
 * <p>Each stream starts with {@code retry:}, resumes from the {@code Last-Event-ID} header or the
 * {@code lastEventId} query parameter (browsers cannot set headers on the first connect), sends an
 * {@code event: reset} with {@code {"reason":"history_gap"}} when it cannot, and a {@code :} comment
 * heartbeat on a stream that has written nothing for half the interval, checked every half interval
 * (interval 15 s, configurable; so no stream is silent for longer than the interval, and a busy one
 * gets no extra writes). Writes are non-blocking ({@link WriteListener}), one writer
 * per stream; a client that cannot keep up is disconnected by the hub's slow-consumer policy and
 * resumes from history.
 *
 * <p>Thread-safe.
 */
public final class SseTransportFilter implements Filter {
  private static final Logger log = LoggerFactory.getLogger(SseTransportFilter.class);

  private final Hub hub;
  private final String basePath;
  private final Duration heartbeat;
  private final Duration retry;
  private final Set<String> allowedOrigins;
  private final Set<SseStream> streams = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean heartbeatStarted = new AtomicBoolean();
  private volatile ScheduledFuture<?> heartbeatTask;

  private SseTransportFilter(Builder b) {
    this.hub = b.hub;
    this.basePath = b.basePath;
    this.heartbeat = b.heartbeat;
    this.retry = b.retry;
    this.allowedOrigins = Set.copyOf(b.allowedOrigins);
  }

  /** A filter with the defaults: no base path, 15 s heartbeats, retry 1 s, no cross-origin access. */
  public SseTransportFilter(Hub hub) {
    this(builder(hub));
  }

  public static Builder builder(Hub hub) {
    return new Builder(hub);
  }

  /** Open SSE streams on this filter. */
  public int streamCount() {
    return streams.size();
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest req = (HttpServletRequest) request;
    HttpServletResponse res = (HttpServletResponse) response;
    List<String> seg;
    try {
      seg = WirePaths.topicPath(rawPath(req), basePath);
    } catch (SwitchboardException e) {
      error(res, e);
      return;
    }
    if (seg == null || seg.size() != 2 || !seg.get(1).equals("events")) {
      chain.doFilter(request, response);
      return;
    }
    applyCors(req, res);
    try {
      if (req.getMethod().equals("OPTIONS")) {
        res.setHeader("Access-Control-Allow-Methods", "GET");
        res.setHeader("Access-Control-Allow-Headers", "Last-Event-ID, Authorization, Cache-Control");
        res.setStatus(204);
        return;
      }
      if (!req.getMethod().equals("GET")) {
        res.setHeader("Allow", "GET, OPTIONS");
        throw new SwitchboardException(Status.METHOD_NOT_ALLOWED,
            "method " + req.getMethod() + " is not allowed here; use GET");
      }
      open(req, res, seg.get(0));
    } catch (SwitchboardException e) {
      error(res, e);
    }
  }

  private void applyCors(HttpServletRequest req, HttpServletResponse res) {
    String origin = req.getHeader("Origin");
    if (origin != null && (allowedOrigins.contains("*") || allowedOrigins.contains(origin))) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Access-Control-Allow-Credentials", "true");
      res.addHeader("Vary", "Origin");
    }
  }

  private void open(HttpServletRequest req, HttpServletResponse res, String topic) throws IOException {
    Topics.requireValid(topic);
    Principal principal = hub.authenticate(handshake(req));
    hub.authorize(principal, topic, dev.switchboard.hub.Authorizer.Action.SUBSCRIBE);
    String resume = req.getHeader("Last-Event-ID");
    if (resume == null || resume.isEmpty()) {
      resume = req.getParameter("lastEventId");
    }
    if (resume != null && resume.isEmpty()) {
      resume = null;
    }

    res.setStatus(200);
    res.setContentType("text/event-stream");
    res.setCharacterEncoding("UTF-8");
    res.setHeader("Cache-Control", "no-cache, no-store");
    res.setHeader("X-Accel-Buffering", "no");
    AsyncContext ctx = req.startAsync();
    ctx.setTimeout(0);
    SseStream stream = new SseStream(ctx, res.getOutputStream());
    Connection connection;
    try {
      connection = hub.connect(principal, "sse", stream);
    } catch (SwitchboardException e) {
      ctx.complete();
      throw e;
    }
    stream.connection = connection;
    streams.add(stream);
    ctx.addListener(stream);
    res.getOutputStream().setWriteListener(stream);
    startHeartbeats();
    connection.subscribe(topic, resume).whenComplete((v, err) -> {
      if (err != null) {
        // Authorisation and topic were checked above; what is left is shutdown or a broker failure.
        SwitchboardException e = SwitchboardException.from(err);
        connection.close(e.status(), e.getMessage());
      }
    });
  }

  private void startHeartbeats() {
    if (heartbeatStarted.compareAndSet(false, true)) {
      try {
        // Only idle streams: a stream carrying messages needs no keep-alive, and writing and flushing a
        // comment on every stream at once stalled fan-out for ~150 ms at 1,000 busy streams. Checked
        // every half interval for streams silent that long, so none is silent longer than the interval.
        long half = heartbeat.toMillis() / 2;
        long idleNanos = TimeUnit.MILLISECONDS.toNanos(half);
        heartbeatTask = hub.scheduler().scheduleAtFixedRate(() -> {
          long now = System.nanoTime();
          for (SseStream s : streams) {
            if (now - s.lastWriteNanos >= idleNanos) {
              s.heartbeatDue = true;
              s.drain();
            }
          }
        }, half, half, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        log.debug("hub is shut down; no heartbeats", e);
      }
    }
  }

  @Override
  public void destroy() {
    ScheduledFuture<?> t = heartbeatTask;
    if (t != null) {
      t.cancel(false);
    }
  }

  private static final ThreadLocal<ByteArrayOutputStream> SCRATCH =
      ThreadLocal.withInitial(() -> new ByteArrayOutputStream(8192));

  /** An empty per-thread buffer; the bytes are copied out before anything else can use it. */
  private static ByteArrayOutputStream scratch() {
    ByteArrayOutputStream b = SCRATCH.get();
    if (b.size() > 256 * 1024) {
      b = new ByteArrayOutputStream(8192);
      SCRATCH.set(b);
    }
    b.reset();
    return b;
  }

  /** One open stream: the hub's sink, the container's write listener, and its async listener. */
  private final class SseStream implements Connection.Sink, WriteListener, AsyncListener {
    private final AsyncContext ctx;
    private final ServletOutputStream out;
    private final AtomicInteger wip = new AtomicInteger();
    private volatile Connection connection;
    private volatile boolean heartbeatDue;
    private volatile long lastWriteNanos = System.nanoTime(); // written by the writer, read by heartbeats
    private volatile boolean closing;
    private volatile boolean finished;
    private boolean started; // writer-only
    private boolean needFlush; // writer-only

    SseStream(AsyncContext ctx, ServletOutputStream out) {
      this.ctx = ctx;
      this.out = out;
    }

    @Override
    public void onReady() {
      drain();
    }

    @Override
    public void onClose(Status status, String reason) {
      closing = true;
      drain();
    }

    @Override
    public void onWritePossible() {
      drain();
    }

    /** The single writer: whoever gets here first writes until the output would block. */
    void drain() {
      if (wip.getAndIncrement() != 0) {
        return;
      }
      int missed = 1;
      do {
        try {
          writeWhileReady();
        } catch (IOException | RuntimeException e) {
          finish(e);
          return;
        }
        missed = wip.addAndGet(-missed);
      } while (missed != 0);
    }

    private void writeWhileReady() throws IOException {
      Connection c = connection;
      while (!finished && c != null && out.isReady()) {
        byte[] chunk = nextChunk(c);
        if (chunk != null) {
          out.write(chunk);
          needFlush = true;
          lastWriteNanos = System.nanoTime();
        } else if (closing && (c.closeStatus() == Status.SLOW_CONSUMER || c.queuedMessages() == 0)) {
          finish(null);
          return;
        } else if (needFlush) {
          needFlush = false;
          out.flush();
        } else {
          return;
        }
      }
    }

    /**
     * The next bytes to write, or null when there is nothing. A lone message is written from its
     * shared encoded form; several are batched (up to 32 KiB) in a per-thread scratch buffer, so an
     * idle stream holds no buffer of its own.
     */
    private byte[] nextChunk(Connection c) {
      byte[] first = null;
      ByteArrayOutputStream batch = null;
      if (!started) {
        started = true;
        batch = scratch();
        SseFormat.retry(batch, retry.toMillis());
      }
      if (c.closeStatus() != Status.SLOW_CONSUMER) {
        Connection.Event e;
        while ((batch == null || batch.size() < 32 * 1024) && (e = c.poll()) != null) {
          byte[] bytes;
          if (e instanceof Connection.Delivery) {
            bytes = SseFormat.encoded(((Connection.Delivery) e).message());
          } else if (e instanceof Connection.Reset) {
            ByteArrayOutputStream r = new ByteArrayOutputStream(64);
            SseFormat.reset(r, ((Connection.Reset) e).reason());
            bytes = r.toByteArray();
          } else {
            continue;
          }
          if (batch == null && first == null) {
            first = bytes;
          } else {
            if (batch == null) {
              batch = scratch();
            }
            if (first != null) {
              batch.writeBytes(first);
              first = null;
            }
            batch.writeBytes(bytes);
          }
        }
      }
      if (first != null) {
        heartbeatDue = false;
        return first;
      }
      if (batch == null && heartbeatDue) {
        batch = scratch();
        SseFormat.heartbeat(batch);
      }
      heartbeatDue = false;
      return batch == null || batch.size() == 0 ? null : batch.toByteArray();
    }

    private void finish(Throwable error) {
      if (finished) {
        return;
      }
      finished = true;
      streams.remove(this);
      Connection c = connection;
      if (c != null) {
        c.release();
      }
      if (error != null) {
        log.debug("SSE stream ended: {}", error.toString());
      }
      try {
        ctx.complete();
      } catch (RuntimeException e) {
        log.debug("completing SSE stream failed", e);
      }
    }

    @Override
    public void onError(Throwable t) {
      finish(t);
    }

    // AsyncListener

    @Override
    public void onComplete(AsyncEvent event) {
      finished = true;
      streams.remove(this);
      Connection c = connection;
      if (c != null) {
        c.release();
      }
    }

    @Override
    public void onTimeout(AsyncEvent event) {
      finish(null);
    }

    @Override
    public void onError(AsyncEvent event) {
      finish(event.getThrowable());
    }

    @Override
    public void onStartAsync(AsyncEvent event) {}
  }

  private static Handshake handshake(HttpServletRequest req) {
    return WirePaths.handshake("sse", req.getRemoteAddr(), req.getRemotePort(), req.getHeaderNames(),
        req::getHeaders, req.getParameterMap());
  }

  private static String rawPath(HttpServletRequest req) {
    return WirePaths.pathInContext(req.getRequestURI(), req.getContextPath());
  }

  private static void error(HttpServletResponse res, SwitchboardException e) throws IOException {
    if (res.isCommitted()) {
      return;
    }
    int status = e.status().httpStatus();
    if (status == 429 || status == 503) {
      res.setHeader("Retry-After", Long.toString(MessageJson.retryAfterSeconds(e)));
    }
    byte[] body = MessageJson.error(e);
    res.setStatus(status);
    res.setContentType("application/json");
    res.setContentLength(body.length);
    res.getOutputStream().write(body);
  }

  /** Builds an {@link SseTransportFilter}. Not thread-safe. */
  public static final class Builder {
    private final Hub hub;
    private String basePath = "";
    private Duration heartbeat = Duration.ofSeconds(15);
    private Duration retry = Duration.ofSeconds(1);
    private final Set<String> allowedOrigins = new java.util.LinkedHashSet<>();

    private Builder(Hub hub) {
      this.hub = Objects.requireNonNull(hub, "hub");
    }

    /** Path before {@code /v1} inside the servlet context, e.g. {@code /api}; default empty. */
    public Builder basePath(String basePath) {
      this.basePath = WirePaths.requireBasePath(basePath);
      return this;
    }

    /**
     * The longest a stream stays silent (default 15 s): every half interval, a stream that has written
     * nothing for half the interval gets a {@code :} heartbeat comment.
     */
    public Builder heartbeat(Duration interval) {
      if (interval == null || interval.toMillis() < 10) {
        throw new IllegalArgumentException("heartbeat must be at least 10ms: " + interval);
      }
      this.heartbeat = interval;
      return this;
    }

    /** The {@code retry:} reconnection time sent to clients first (default 1 s). */
    public Builder retry(Duration retry) {
      if (retry == null || retry.isNegative()) {
        throw new IllegalArgumentException("retry must not be negative: " + retry);
      }
      this.retry = retry;
      return this;
    }

    /**
     * Origins allowed to read streams cross-origin (CORS), e.g. {@code https://app.example.com};
     * {@code *} allows any. Default: none (same-origin pages only).
     */
    public Builder allowOrigin(String origin) {
      allowedOrigins.add(WirePaths.requireOrigin(origin));
      return this;
    }

    public SseTransportFilter build() {
      return new SseTransportFilter(this);
    }
  }
}
