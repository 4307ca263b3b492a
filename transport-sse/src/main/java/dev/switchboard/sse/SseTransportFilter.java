package dev.switchboard.sse;

import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.hub.OutboundWriter;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.HubAccess;
import dev.switchboard.transport.internal.ServletIo;
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
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Server-Sent Events endpoint {@code GET /v1/topics/{topic}/events} as a Servlet
 * {@link Filter} (other paths pass down the chain, so it shares a context with the HTTP filter).
 * Register it with async support enabled, in any Servlet 6 container. A {@code Host} the hub's
 * {@link Hub#originPolicy() origin policy} does not allow gets 403 {@code forbidden_host} before a
 * stream opens; allowed origins get CORS headers.
 *
 * <p>Each stream starts with {@code retry:}, resumes from the {@code Last-Event-ID} header or the
 * {@code lastEventId} query parameter (browsers cannot set headers on the first connect), says the
 * subscription is in place with the comment {@code : subscribed recovered=true|false} (which
 * EventSource ignores; Switchboard's client reports it as {@code onSubscribed}), sends an
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
  private final OriginPolicy originPolicy;
  private final byte[] retryField; // the first bytes of every stream
  private final Set<SseStream> streams = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean heartbeatStarted = new AtomicBoolean();
  private volatile ScheduledFuture<?> heartbeatTask;

  private SseTransportFilter(Builder b) {
    this.hub = b.hub;
    this.basePath = b.basePath;
    this.heartbeat = b.heartbeat;
    this.retry = b.retry;
    this.originPolicy = WirePaths.withOrigins(hub.originPolicy(), b.allowedOrigins);
    ByteArrayOutputStream r = new ByteArrayOutputStream(32);
    SseFormat.retry(r, retry.toMillis());
    this.retryField = r.toByteArray();
  }

  /**
   * A filter with the defaults: no base path, 15 s heartbeats, retry 1 s, the hub's origin policy.
   */
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
      seg = WirePaths.topicPath(ServletIo.rawPath(req), basePath);
    } catch (SwitchboardException e) {
      ServletIo.error(res, e);
      return;
    }
    if (seg == null || seg.size() != 2 || !seg.get(1).equals("events")) {
      chain.doFilter(request, response);
      return;
    }
    try {
      checkOrigin(req);
      applyCors(req, res);
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
      ServletIo.error(res, e);
    }
  }

  /** The host always; the origin of unsafe methods (refused below anyway, but never acted on). */
  private void checkOrigin(HttpServletRequest req) {
    try {
      WirePaths.checkOrigin(originPolicy, req.getMethod(), false, req.getScheme(), req.getServerName(),
          req.getServerPort(), req.getHeader("Origin"));
    } catch (SwitchboardException e) {
      log.debug("{} {} from {} refused: {} {}", req.getMethod(), req.getRequestURI(), req.getRemoteAddr(),
          e.errorCode(), e.getMessage());
      throw e;
    }
  }

  private void applyCors(HttpServletRequest req, HttpServletResponse res) {
    String origin = req.getHeader("Origin");
    res.addHeader("Vary", "Origin");
    if (originPolicy.isAllowedCrossOrigin(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Access-Control-Allow-Credentials", "true");
    }
  }

  private void open(HttpServletRequest req, HttpServletResponse res, String topic) throws IOException {
    Topics.requireValid(topic);
    Map<String, List<String>> query = ServletIo.query(req);
    Principal principal = hub.authenticate(ServletIo.handshake("sse", req, query));
    hub.authorize("sse", principal, topic, dev.switchboard.hub.Authorizer.Action.SUBSCRIBE);
    String resume = req.getHeader("Last-Event-ID");
    if (resume == null || resume.isEmpty()) {
      resume = ServletIo.single(query, "lastEventId");
    }
    if (resume != null && resume.isEmpty()) {
      resume = null;
    }
    // Before the 200 is committed, so a malformed id is a JSON 400 invalid_id like on REST, not a
    // stream that ends at once.
    Topics.requireValidId(resume);
    hub.checkAdmission("sse");

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
      connection = stream.connect(hub, principal, "sse");
    } catch (SwitchboardException e) {
      ctx.complete();
      throw e;
    }
    ctx.addListener(stream);
    res.getOutputStream().setWriteListener(stream);
    stream.reply(retryField); // first, before anything can be queued: the subscription comes below
    streams.add(stream);
    stream.start(); // not before the write listener is set: isReady() may throw until then
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
        heartbeatTask = HubAccess.scheduler(hub).scheduleAtFixedRate(() -> {
          long now = System.nanoTime();
          for (SseStream s : streams) {
            if (now - s.lastWriteNanos >= idleNanos && !s.heartbeatQueued) {
              s.heartbeatQueued = true;
              s.reply(HEARTBEAT);
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

  private static final byte[] HEARTBEAT = SseFormat.heartbeat();
  private static final int MAX_BATCH = 32 * 1024;
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

  /**
   * One open stream: its {@link OutboundWriter} (the hub's sink), the container's write listener,
   * and its async listener. Writes are synchronous and non-blocking: only while the output
   * {@code isReady()}; the container calls {@code onWritePossible} when it is again.
   *
   * <p>Every use of the output stream and the async context holds {@link #io}, and the container's
   * callbacks that end the stream ({@code onError}, {@code onTimeout}, {@code onComplete}) take it
   * too and mark it {@link #over}: from then on nothing is written (the request is still completed,
   * once, unless the container completed it: after a write listener's {@code onError} Jetty leaves
   * that to the application, and a stream never completed keeps its socket). Writes come from any
   * thread (publishers, the heartbeat timer), and on Tomcat 11 a write that fails on one of them
   * hands the error to a container thread <em>before</em> it records the exception in the response;
   * when that thread ended and recycled the request first, the next connection to reuse the
   * processor inherited the stale "Broken pipe" and a new stream died after its first bytes (seen
   * about once in 60 streams opened while others were closing). With the lock, the container cannot
   * end the request while one of our writes is still inside it.
   */
  private final class SseStream extends OutboundWriter<byte[]> implements WriteListener, AsyncListener {
    private final AsyncContext ctx;
    private final ServletOutputStream out;
    private final Object io = new Object();
    private boolean over; // under io: the stream failed or is ending; no more writes
    private boolean completed; // under io: the request is complete (onComplete ran)
    volatile boolean heartbeatQueued; // set by the heartbeat timer, cleared by any write
    volatile long lastWriteNanos = System.nanoTime(); // written by the writer, read by heartbeats

    SseStream(AsyncContext ctx, ServletOutputStream out) {
      super(false);
      this.ctx = ctx;
      this.out = out;
    }

    @Override
    protected byte[] encode(Connection.Event e) {
      if (e instanceof Connection.Delivery d) {
        return SseFormat.encoded(d.message());
      }
      if (e instanceof Connection.Reset r) {
        return SseFormat.reset(r.reason());
      }
      return e instanceof Connection.Subscribed s ? SseFormat.subscribed(s.recovered()) : null;
    }

    @Override
    protected boolean isReady() {
      synchronized (io) {
        return !over && out.isReady(); // once over, the container's end (onError/onComplete) ends the writer
      }
    }

    /**
     * A lone frame is written from its shared encoded bytes; several are batched (up to 32 KiB) in a
     * per-thread scratch buffer, so an idle stream holds no buffer of its own.
     */
    @Override
    protected void write(byte[] first) throws IOException {
      byte[] next = pollFrame();
      byte[] bytes = first;
      if (next != null) {
        ByteArrayOutputStream batch = scratch();
        batch.writeBytes(first);
        do {
          batch.writeBytes(next);
        } while (batch.size() < MAX_BATCH && (next = pollFrame()) != null);
        // Copied out: the container may keep the array until the non-blocking write completes.
        bytes = batch.toByteArray();
      }
      synchronized (io) {
        if (over) {
          throw new IOException("stream ended");
        }
        out.write(bytes);
      }
      if (heartbeatQueued) {
        heartbeatQueued = false;
      }
      lastWriteNanos = System.nanoTime();
    }

    @Override
    protected void flush() throws IOException {
      synchronized (io) {
        if (!over) {
          out.flush();
        }
      }
    }

    @Override
    protected void close(SwitchboardException error) {
      streams.remove(this);
      synchronized (io) {
        over = true;
        if (completed) {
          return;
        }
        try {
          ctx.complete();
        } catch (RuntimeException e) {
          // Tomcat, after an error, completes the request itself and refuses other threads.
          log.debug("completing SSE stream failed: {}", e.toString());
        }
      }
    }

    /** The container reports the stream's end: waits for a write in progress, then allows no more. */
    private void containerEnds(boolean complete) {
      synchronized (io) {
        over = true;
        completed |= complete;
      }
    }

    @Override
    public void onWritePossible() {
      drain();
    }

    @Override
    public void onError(Throwable t) {
      log.debug("SSE stream failed: {}", String.valueOf(t));
      containerEnds(false);
      closeNow(new SwitchboardException(Status.INTERNAL, "stream failed"));
    }

    // AsyncListener

    @Override
    public void onComplete(AsyncEvent event) {
      containerEnds(true);
      streams.remove(this);
      released();
    }

    @Override
    public void onTimeout(AsyncEvent event) {
      containerEnds(false);
      closeNow(new SwitchboardException(Status.UNAVAILABLE, "stream timed out"));
    }

    @Override
    public void onError(AsyncEvent event) {
      onError(event.getThrowable());
    }

    @Override
    public void onStartAsync(AsyncEvent event) {}
  }

  /** Builds an {@link SseTransportFilter}. Not thread-safe. */
  public static final class Builder {
    private final Hub hub;
    private String basePath = "";
    private Duration heartbeat = Duration.ofSeconds(15);
    private Duration retry = Duration.ofSeconds(1);
    private final List<String> allowedOrigins = new java.util.ArrayList<>();

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
     * Allows this origin to read streams cross-origin (CORS), besides the hub's
     * {@link Hub.Builder#originPolicy origin policy}; {@code *} allows any.
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

    public SseTransportFilter build() {
      return new SseTransportFilter(this);
    }
  }
}
