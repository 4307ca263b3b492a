package dev.switchboard.http;

import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.IdempotentPublishes;
import dev.switchboard.transport.internal.MessageJson;
import dev.switchboard.transport.internal.ServletIo;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.security.Principal;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST and long-polling endpoints of docs/protocol.md §2 as a Servlet {@link Filter}:
 * {@code POST /v1/topics/{topic}/messages}, {@code GET /v1/topics/{topic}/messages?after&limit&wait}
 * and {@code GET /v1/topics/{topic}/messages/{id}}. Other paths pass down the filter chain, so this
 * filter and the SSE filter can both be mapped to {@code /*} (or {@code <basePath>/*}) of one
 * context, in any Servlet 6 container. Register it with async support enabled.
 *
 * <p>Each request is first checked against the hub's {@link Hub#originPolicy() origin policy}: a
 * {@code Host} it does not allow gets 403 {@code forbidden_host}, and an unsafe method ({@code POST},
 * {@code PUT}, …) with an {@code Origin} that is neither the request's own nor allowed gets 403
 * {@code forbidden_origin}, before anything is read or published (CSRF). Allowed origins get CORS
 * headers.
 *
 * <p>Long polls wait asynchronously: no container thread is held while waiting. Long polling is
 * stateless: any node sharing the broker can answer any poll.
 *
 * <p>Thread-safe.
 */
public final class HttpTransportFilter implements Filter {
  private static final Logger log = LoggerFactory.getLogger(HttpTransportFilter.class);

  /** Default and maximum page sizes. */
  public static final int DEFAULT_LIMIT = 100;
  public static final int MAX_LIMIT = 1000;

  private final Hub hub;
  private final String basePath;
  private final IdempotentPublishes idempotency;
  private final OriginPolicy originPolicy;

  private HttpTransportFilter(Builder b) {
    this.hub = b.hub;
    this.basePath = b.basePath;
    this.originPolicy = WirePaths.withOrigins(hub.originPolicy(), b.allowedOrigins);
    this.idempotency = new IdempotentPublishes(b.idempotencyMaxKeys, b.idempotencyMaxBytes, b.idempotencyTtl, b.clock);
  }

  /** A filter serving {@code hub} at {@code /v1/…} of its context. */
  public HttpTransportFilter(Hub hub) {
    this(builder(hub));
  }

  public static Builder builder(Hub hub) {
    return new Builder(hub);
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
    boolean ours = seg != null && (seg.size() == 2 || seg.size() == 3) && seg.get(1).equals("messages");
    if (!ours) {
      chain.doFilter(request, response);
      return;
    }
    try {
      String method = req.getMethod();
      String origin = req.getHeader("Origin");
      // Before anything acts: a cross-origin page's "simple" POST (text/plain, no preflight) reaches
      // us with the user's cookies, and CORS would only withhold the answer, not the write (CSRF).
      WirePaths.checkOrigin(originPolicy, method, false, req.getScheme(), req.getServerName(),
          req.getServerPort(), origin);
      res.addHeader("Vary", "Origin");
      if (originPolicy.isAllowedCrossOrigin(origin)) {
        res.setHeader("Access-Control-Allow-Origin", origin);
        res.setHeader("Access-Control-Allow-Credentials", "true");
        res.setHeader("Access-Control-Expose-Headers", "Location, Retry-After");
      }
      if (method.equals("OPTIONS")) {
        // CORS preflight: the headers above say whether the origin may; these say what it may send.
        res.setHeader("Access-Control-Allow-Methods", seg.size() == 2 ? "GET, POST" : "GET");
        res.setHeader("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key, Authorization");
        res.setHeader("Access-Control-Max-Age", "600");
        res.setStatus(204);
        return;
      }
      Map<String, List<String>> query = ServletIo.query(req);
      if (seg.size() == 2 && method.equals("POST")) {
        publish(req, res, query, seg.get(0));
      } else if (seg.size() == 2 && (method.equals("GET") || method.equals("HEAD"))) {
        history(req, res, query, seg.get(0));
      } else if (seg.size() == 3 && (method.equals("GET") || method.equals("HEAD"))) {
        one(req, res, query, seg.get(0), seg.get(2));
      } else {
        res.setHeader("Allow", seg.size() == 2 ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS");
        throw new SwitchboardException(Status.METHOD_NOT_ALLOWED, "method " + method
            + " is not allowed here; use " + (seg.size() == 2 ? "GET or POST" : "GET"));
      }
    } catch (SwitchboardException e) {
      if (e.status() == Status.PERMISSION_DENIED) {
        log.debug("{} {} from {} refused: {} {}", req.getMethod(), req.getRequestURI(), req.getRemoteAddr(),
            e.errorCode(), e.getMessage());
      }
      ServletIo.error(res, e);
    }
  }

  private Principal authenticate(HttpServletRequest req, Map<String, List<String>> query) {
    return hub.authenticate(ServletIo.handshake("http", req, query));
  }

  // ---- POST /v1/topics/{topic}/messages ----

  /**
   * The body is the payload, whatever its type: the hub's {@link Hub#publish(Message) rules} check
   * it (JSON that parses, UTF-8 text, a valid media type, the size limit) as on every other path. A
   * form-encoded body is no exception: it is stored as it came, with its content type, and never
   * parsed into parameters.
   */
  private void publish(HttpServletRequest req, HttpServletResponse res, Map<String, List<String>> query,
      String topic) throws IOException {
    Principal principal;
    try {
      Topics.requireValid(topic);
      principal = authenticate(req, query);
      hub.authorize("http", principal, topic, dev.switchboard.hub.Authorizer.Action.PUBLISH);
    } catch (SwitchboardException e) {
      discardSmallBody(req);
      throw e;
    }
    String event = ServletIo.single(query, "event");
    String header = req.getContentType();
    String contentType = header == null || header.isBlank() ? Message.DEFAULT_CONTENT_TYPE : header;
    Message.Builder builder = Message.builder(topic).event(event).contentType(contentType);
    Message draft = builder.payload(readBody(req)).build();
    InetSocketAddress remote = ServletIo.remoteAddress(req);
    String key = req.getHeader("Idempotency-Key");
    if (key == null) {
      respondWhenDone(req, res, hub.publish("http", principal, remote, draft).toCompletableFuture(),
          stored -> created(stored, locationOf(req, stored)));
      return;
    }
    IdempotentPublishes.Outcome outcome = idempotency.publish(principal, draft, key, d -> hub.publish("http", principal, remote, d));
    if (outcome.replayed()) {
      res.setHeader("Idempotent-Replayed", "true");
    }
    respondWhenDone(req, res, outcome.stored().toCompletableFuture(),
        stored -> created(stored, locationOf(req, stored)));
  }

  private String locationOf(HttpServletRequest req, Message m) {
    return req.getContextPath() + basePath + "/v1/topics/" + m.topic() + "/messages/" + m.id();
  }

  private static ServletIo.Reply created(Message stored, String location) {
    return ServletIo.Reply.json(201, MessageJson.publishResponse(stored)).with("Location", location);
  }

  /** How much of an over-limit body is read and dropped before the 413, so that clients see it. */
  private static final long DISCARD_BYTES = 2L << 20;

  private byte[] readBody(HttpServletRequest req) throws IOException {
    int max = hub.maxPayloadBytes();
    long declared = req.getContentLengthLong();
    // An over-limit body is read (and dropped) up to DISCARD_BYTES past the limit before the 413:
    // answered unread, Tomcat resets the HTTP/2 stream, and the JDK 17 HttpClient, blocked on flow
    // control, ignores the reset and hangs until its timeout (JDK-8309118). Beyond that, refuse at once.
    if (declared > max + DISCARD_BYTES) {
      throw tooLarge(declared, max);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(declared > 0 && declared <= max ? (int) declared : 1024);
    byte[] buf = new byte[8192];
    long total = 0;
    try (InputStream in = req.getInputStream()) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        total += n;
        if (total <= max) {
          out.write(buf, 0, n);
        } else if (total > max + DISCARD_BYTES) {
          break;
        }
      }
    }
    if (total > max) {
      throw tooLarge(total, max);
    }
    return out.toByteArray();
  }

  /** The most of a refused publish's body read (and dropped) so that the refusal reaches the client. */
  private static final int REFUSED_DISCARD_BYTES = 64 * 1024;

  /**
   * Reads and drops a small body of a publish refused before its body was read (400, 401, 403). Left
   * unread, HTTP/2 and HTTP/3 containers reset the request stream when the response ends, and a reset
   * that overtakes the response's end fails the exchange on the client, which then sees UNAVAILABLE
   * instead of the refusal (seen with Jetty's HTTP/3 client). A body declared larger than 64 KiB, or
   * longer than that, is left: the stream is reset, as before.
   */
  private static void discardSmallBody(HttpServletRequest req) {
    if (req.getContentLengthLong() > REFUSED_DISCARD_BYTES) {
      return;
    }
    byte[] buf = new byte[8192];
    long total = 0;
    try (InputStream in = req.getInputStream()) {
      int n;
      while (total <= REFUSED_DISCARD_BYTES && (n = in.read(buf)) >= 0) {
        total += n;
      }
    } catch (IOException | RuntimeException e) {
      // the client went away, or the body was already read: the refusal is answered all the same
    }
  }

  private static SwitchboardException tooLarge(long size, int max) {
    return new SwitchboardException(Status.PAYLOAD_TOO_LARGE, "payload of " + size
        + (size > max ? "+" : "") + " bytes is over the limit of " + max + " bytes");
  }

  // ---- GET /v1/topics/{topic}/messages ----

  /**
   * History and long polling. {@code next} is always the cursor to poll with next: the last message
   * given, else the request's own cursor when it was recovered, else the newest message in the
   * topic (null when it is empty, and a poll without a cursor then waits). So a stale or foreign
   * cursor is answered once with {@code recovered:false} and a cursor the following poll waits on.
   */
  private void history(HttpServletRequest req, HttpServletResponse res, Map<String, List<String>> query,
      String topic) throws IOException {
    Topics.requireValid(topic);
    String after = ServletIo.single(query, "after");
    int limit = intParam(query, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT);
    int waitSecs = intParam(query, "wait", 0, 0, (int) hub.maxPollWait().toSeconds());
    Principal principal = authenticate(req, query);
    CompletableFuture<Broker.History> stage =
        hub.poll(principal, topic, after, limit, Duration.ofSeconds(waitSecs)).toCompletableFuture();
    respondWhenDone(req, res, stage, h -> {
      if (h.messages().isEmpty() && waitSecs > 0 && limit > 0 && h.recovered()) {
        return ServletIo.Reply.empty(204);
      }
      String next;
      if (!h.messages().isEmpty()) {
        next = h.messages().get(h.messages().size() - 1).id();
      } else if (after != null && h.recovered()) {
        next = after;
      } else {
        next = h.latestId();
      }
      return ServletIo.Reply.json(200, MessageJson.historyPage(h.messages(), next, h.recovered()));
    });
  }

  private static int intParam(Map<String, List<String>> query, String name, int dflt, int min, int max) {
    String v = ServletIo.single(query, name);
    if (v == null) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // fall through to the error naming the parameter
    }
    throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_" + name,
        name + " must be a whole number from " + min + " to " + max + ", not '"
            + (v.length() > 40 ? v.substring(0, 40) + "..." : v) + "'");
  }

  // ---- GET /v1/topics/{topic}/messages/{id} ----

  private void one(HttpServletRequest req, HttpServletResponse res, Map<String, List<String>> query,
      String topic, String id) throws IOException {
    Topics.requireValid(topic);
    Principal principal = authenticate(req, query);
    respondWhenDone(req, res, hub.message(principal, topic, id).toCompletableFuture(),
        m -> ServletIo.Reply.json(200, MessageJson.message(m)));
  }

  // ---- plumbing ----

  /**
   * Responds at once when {@code stage} is already complete; otherwise goes async and responds when
   * it completes. The body is written with a {@link WriteListener}, so the container's threads write
   * it without blocking and never the publisher's thread. Once the container is done with the
   * exchange (the client went away, it timed out) nothing touches it again: a late result is
   * dropped, and every failure to respond to a vanished client is logged at DEBUG only.
   */
  private <T> void respondWhenDone(HttpServletRequest req, HttpServletResponse res,
      CompletableFuture<T> stage, Function<T, ServletIo.Reply> writer) throws IOException {
    if (stage.isDone()) {
      ServletIo.Reply reply = reply(stage, writer);
      if (reply != null) {
        ServletIo.send(res, reply);
      }
      return;
    }
    AsyncContext ctx = req.startAsync();
    ctx.setTimeout(hub.maxPollWait().toMillis() + 30_000);
    // Set once the exchange is over (we completed it, or the container did): from then on the
    // context may be recycled for another request, so nothing may touch it.
    AtomicBoolean over = new AtomicBoolean();
    ctx.addListener(new AsyncListener() {
      @Override
      public void onComplete(AsyncEvent event) {
        over.set(true);
        stage.cancel(false);
      }

      @Override
      public void onTimeout(AsyncEvent event) {
        stage.cancel(false);
        complete(ctx, over);
      }

      @Override
      public void onError(AsyncEvent event) {
        // The client went away: nothing will be written; let the container finish the exchange.
        stage.cancel(false);
        complete(ctx, over);
      }

      @Override
      public void onStartAsync(AsyncEvent event) {}
    });
    stage.whenComplete((v, err) -> {
      if (over.get()) {
        return;
      }
      ServletIo.Reply reply = reply(stage, writer);
      if (reply == null) {
        complete(ctx, over);
        return;
      }
      try {
        HttpServletResponse r = (HttpServletResponse) ctx.getResponse();
        reply.head(r);
        if (reply.body().length == 0) {
          complete(ctx, over);
          return;
        }
        ServletOutputStream out = r.getOutputStream();
        out.setWriteListener(new BodyWriter(ctx, out, reply.body(), over));
      } catch (IOException | RuntimeException e) {
        // The container finished the exchange between our check and now (client gone).
        log.debug("response not written, the exchange is over (client gone?): {}", e.toString());
        complete(ctx, over);
      }
    });
  }

  /** The reply for a completed stage: the writer's, an error's, or null when it was cancelled. */
  private static <T> ServletIo.Reply reply(CompletableFuture<T> stage, Function<T, ServletIo.Reply> writer) {
    T value;
    try {
      value = stage.join();
    } catch (java.util.concurrent.CancellationException e) {
      return null;
    } catch (RuntimeException e) {
      return ServletIo.Reply.error(SwitchboardException.from(e));
    }
    try {
      return writer.apply(value);
    } catch (RuntimeException e) {
      return ServletIo.Reply.error(SwitchboardException.from(e));
    }
  }

  /** Completes the exchange once; quiet when the container already finished it (client gone). */
  private static void complete(AsyncContext ctx, AtomicBoolean over) {
    if (over.compareAndSet(false, true)) {
      try {
        ctx.complete();
      } catch (IllegalStateException e) {
        log.debug("async context already finished (client gone?): {}", e.toString());
      }
    }
  }

  /** Writes one body as fast as the client reads it, then completes the exchange. */
  private static final class BodyWriter implements WriteListener {
    private static final int CHUNK = 64 * 1024;
    private final AsyncContext ctx;
    private final ServletOutputStream out;
    private final byte[] body;
    private final AtomicBoolean over;
    private int written;

    BodyWriter(AsyncContext ctx, ServletOutputStream out, byte[] body, AtomicBoolean over) {
      this.ctx = ctx;
      this.out = out;
      this.body = body;
      this.over = over;
    }

    @Override
    public void onWritePossible() throws IOException {
      while (!over.get() && out.isReady()) {
        if (written == body.length) {
          complete(ctx, over);
          return;
        }
        int n = Math.min(CHUNK, body.length - written);
        out.write(body, written, n);
        written += n;
      }
    }

    @Override
    public void onError(Throwable t) {
      log.debug("writing a response failed (client gone?): {}", t.toString());
      complete(ctx, over);
    }
  }

  /** Builds an {@link HttpTransportFilter}. Not thread-safe. */
  public static final class Builder {
    private final Hub hub;
    private String basePath = "";
    private int idempotencyMaxKeys = 100_000;
    private Duration idempotencyTtl = Duration.ofHours(24);
    private long idempotencyMaxBytes = IdempotentPublishes.defaultMaxBytes();
    private Clock clock = Clock.systemUTC();
    private final List<String> allowedOrigins = new java.util.ArrayList<>();

    private Builder(Hub hub) {
      this.hub = Objects.requireNonNull(hub, "hub");
    }

    /** Path before {@code /v1} inside the servlet context, e.g. {@code /api}; default empty. */
    public Builder basePath(String basePath) {
      this.basePath = WirePaths.requireBasePath(basePath);
      return this;
    }

    /** How many Idempotency-Keys are remembered (default 100,000; oldest forgotten first). */
    public Builder idempotencyMaxKeys(int keys) {
      if (keys < 1) {
        throw new IllegalArgumentException("idempotencyMaxKeys must be >= 1: " + keys);
      }
      this.idempotencyMaxKeys = keys;
      return this;
    }

    /**
     * Estimated bytes the remembered Idempotency-Keys may take (default a sixteenth of the max heap;
     * each key keeps a digest of its request and the stored id, never the payload; oldest forgotten
     * first).
     */
    public Builder idempotencyMaxBytes(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("idempotencyMaxBytes must be >= 1: " + bytes);
      }
      this.idempotencyMaxBytes = bytes;
      return this;
    }

    /** How long an Idempotency-Key is remembered (default 24 h). */
    public Builder idempotencyTtl(Duration ttl) {
      if (ttl == null || ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException("idempotencyTtl must be positive: " + ttl);
      }
      this.idempotencyTtl = ttl;
      return this;
    }

    /**
     * Allows this origin cross-origin on this filter's endpoints, besides the hub's
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

    /** Clock for key expiry (tests). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public HttpTransportFilter build() {
      return new HttpTransportFilter(this);
    }
  }
}
