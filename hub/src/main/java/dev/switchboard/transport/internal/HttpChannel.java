package dev.switchboard.transport.internal;

import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The client {@link Channel} shared by the transports that ride on plain HTTP (SSE, long polling):
 * publishing is an HTTP POST with an automatic {@code Idempotency-Key} and safe retries; each
 * subscription is a downstream {@link Stream} (an SSE stream or a chain of long polls) that the
 * subclass runs and that this class reconnects with backoff, resuming from the last delivered id.
 * With HTTP/2 every request of the channel shares one connection. The channel is CONNECTING until
 * the server first answers one of its requests (a probe made at once, a stream, a poll, a publish),
 * then OPEN; RECONNECTING while a stream is down.
 *
 * <p>Internal. Thread-safe.
 */
public abstract class HttpChannel implements Channel {

  private final String transport;
  protected final TransportConfig config;
  protected final HttpClient http;
  private final ChannelState state = new ChannelState(State.CONNECTING);
  private final Set<Stream> streams = ConcurrentHashMap.newKeySet();
  private final AtomicInteger streamsDown = new AtomicInteger();
  private final PublishGate gate;
  /** Completes once the first connection is set up, so later requests can share it. */
  private final CompletableFuture<Void> ready;

  protected HttpChannel(String transport, TransportConfig config) {
    this.transport = transport;
    this.config = config;
    this.gate = new PublishGate(config);
    String scheme = config.url().getScheme();
    if (!"http".equalsIgnoreCase(scheme) && !"https".equalsIgnoreCase(scheme)) {
      throw new IllegalArgumentException("transport " + transport + " needs an http:// or https:// URL, not "
          + config.url());
    }
    HttpClient.Builder hb = HttpClient.newBuilder()
        .version(config.http2() ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1)
        .connectTimeout(config.connectTimeout())
        .followRedirects(HttpClient.Redirect.NEVER);
    if (config.sslContext() != null) {
      hb.sslContext(config.sslContext());
    }
    this.http = config.http3() ? Http3Clients.open(config) : hb.build();
    CompletableFuture<Void> probed = probe(config.reconnectBackoff().start());
    // Cleartext HTTP/2 starts with an Upgrade on the first request; requests sent before it
    // completes would each open their own HTTP/1.1 connection, so they wait for the probe.
    ready = config.http2() && !config.http3() && "http".equalsIgnoreCase(scheme)
        ? probed : CompletableFuture.completedFuture(null);
  }

  /**
   * One cheap request ({@code HEAD /v1/}) made at once: any answer means the server is there, and
   * the channel is OPEN (as a WebSocket channel is once connected). Until then it is CONNECTING; a
   * probe that gets no answer is repeated with the reconnect backoff while nothing else got through.
   *
   * @return completes after the first attempt, answered or not
   */
  private CompletableFuture<Void> probe(Backoff.Retry retry) {
    HttpRequest probe = request(URI.create(stripSlash(config.url().toString()) + "/v1/"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
    return http.sendAsync(probe, HttpResponse.BodyHandlers.discarding()).handle((r, e) -> {
      if (e == null) {
        state.leave(State.CONNECTING, State.OPEN);
      } else if (state.get() == State.CONNECTING) {
        retry.next(null).ifPresent(d -> ClientSupport.TIMER.schedule(() -> {
          if (state.get() == State.CONNECTING) {
            probe(retry);
          }
        }, d.toMillis(), TimeUnit.MILLISECONDS));
      }
      return null;
    });
  }

  private static String stripSlash(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** Runs one attempt of a stream: must call {@link Stream#opened()} once connected and
   * {@link Stream#ended} exactly once when the attempt is over. */
  protected abstract void connect(Stream stream);

  @Override
  public String transport() {
    return transport;
  }

  @Override
  public State state() {
    return state.get();
  }

  @Override
  public void addStateListener(StateListener listener) {
    state.addListener(listener);
  }

  /** {@code <base>/v1/topics/<topic>/<suffix>[?query]}, the topic percent-encoded. */
  protected URI topicUri(String topic, String suffix, String query) {
    return URI.create(stripSlash(config.url().toString()) + "/v1/topics/" + encodeSegment(topic) + "/" + suffix
        + (query == null || query.isEmpty() ? "" : "?" + query));
  }

  /** A request builder with the configured headers and request timeout. */
  protected HttpRequest.Builder request(URI uri) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(config.requestTimeout());
    config.headers().forEach(b::header);
    return b;
  }

  @Override
  public CompletionStage<Message> send(Message message) {
    if (state.get() == State.CLOSED) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "channel is closed"));
    }
    CompletableFuture<Message> result = gate.admit(message);
    if (result.isDone()) {
      return result;
    }
    String key = UUID.randomUUID().toString();
    ready.thenRun(() -> publishAttempt(message, key, config.publishBackoff().start(), result));
    return result;
  }

  private void publishAttempt(Message m, String key, Backoff.Retry retry, CompletableFuture<Message> result) {
    String query = m.event() == null ? null : "event=" + encodeSegment(m.event());
    HttpRequest req = request(topicUri(m.topic(), "messages", query))
        .header("Content-Type", m.contentType())
        .header("Idempotency-Key", key)
        .POST(HttpRequest.BodyPublishers.ofByteArray(m.payload()))
        .build();
    http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).whenComplete((resp, err) -> {
      try {
        if (err != null) {
          Throwable c = ClientSupport.unwrap(err);
          // Only failures to connect are certainly unsent; anything later might have been stored.
          // (The Idempotency-Key makes a retry safe either way, but we stay conservative.)
          SwitchboardException e = new SwitchboardException(Status.UNAVAILABLE,
              "publish to " + config.url() + " failed: " + c, c);
          if (c instanceof ConnectException || c instanceof HttpConnectTimeoutException) {
            retryOrFail(m, key, retry, result, e, null);
          } else {
            result.completeExceptionally(e);
          }
          return;
        }
        int sc = resp.statusCode();
        if (sc == 201 || sc == 200) {
          state.leave(State.CONNECTING, State.OPEN);
          result.complete(MessageJson.readPublishResponse(resp.body(), m));
        } else {
          Duration hint = retryAfter(resp.headers());
          SwitchboardException e = MessageJson.readError(sc, resp.body(), hint);
          if (sc == 429 || sc == 502 || sc == 503 || sc == 504) {
            retryOrFail(m, key, retry, result, e, hint);
          } else {
            result.completeExceptionally(e);
          }
        }
      } catch (RuntimeException e) {
        result.completeExceptionally(SwitchboardException.from(e));
      }
    });
  }

  private void retryOrFail(Message m, String key, Backoff.Retry retry, CompletableFuture<Message> result,
      SwitchboardException cause, Duration hint) {
    Optional<Duration> delay = state.get() == State.CLOSED ? Optional.empty() : retry.next(hint);
    if (delay.isEmpty()) {
      result.completeExceptionally(cause);
      return;
    }
    ClientSupport.TIMER.schedule(() -> publishAttempt(m, key, retry, result), delay.get().toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public Subscription subscribe(String topic, String afterId, MessageListener listener) {
    if (state.get() == State.CLOSED) {
      throw new IllegalStateException("channel is closed");
    }
    Stream s = new Stream(topic, afterId, listener);
    streams.add(s);
    ready.thenRun(() -> connect(s));
    return s;
  }

  @Override
  public void close() {
    if (state.close(null)) {
      for (Stream s : List.copyOf(streams)) {
        s.close();
      }
      if (http instanceof java.io.Closeable) { // the HTTP/3 client holds threads and a UDP socket
        try {
          ((java.io.Closeable) http).close();
        } catch (java.io.IOException e) {
          // closing: nothing more to do
        }
      }
    }
  }

  /**
   * One subscription's downstream. The subclass reads {@link #resumeId()}, runs the request, and
   * reports through {@link #opened()}, {@link #deliver}, {@link #reset} and {@link #ended}.
   */
  public final class Stream extends ListenerSubscription {
    private final Backoff.Retry retry = config.reconnectBackoff().start();
    private volatile boolean positioned;
    private volatile Runnable abort;
    private boolean down; // guarded by this
    private volatile boolean placed;
    private int resetsInARow; // guarded by this

    Stream(String topic, String afterId, MessageListener listener) {
      super(topic, afterId, listener);
    }

    /** The id to resume after: the last delivered, or the one given to subscribe; null for live. */
    public String resumeId() {
      return lastId();
    }

    /**
     * Moves the resume point without delivering: to a long poll's {@code next} cursor, which the
     * server chose; null (an empty topic, after a reset) means "from the start of the topic".
     */
    public void advance(String id) {
      setLastId(id);
      positioned = true;
    }

    /**
     * Runs the next attempt. After a reset it waits as the reconnect backoff says for that many
     * resets in a row (jittered, growing to its maximum), so a server that keeps answering with a
     * reset is polled at the backoff's pace, never in a spin; otherwise at once.
     */
    public void runNext(boolean afterReset) {
      int resets;
      synchronized (this) {
        resets = afterReset ? ++resetsInARow : (resetsInARow = 0);
      }
      if (resets == 0) {
        connect(this);
        return;
      }
      Duration delay = config.reconnectBackoff().delay(Math.min(resets, 32));
      try {
        ClientSupport.TIMER.schedule(() -> {
          if (isActive()) {
            connect(this);
          }
        }, delay.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        fail(new SwitchboardException(Status.UNAVAILABLE, "client timer stopped", e));
      }
    }

    /**
     * Whether the stream knows where it is in the topic: it was given an id, has delivered one, or
     * was {@link #advance advanced}. A live-only subscription starts unpositioned.
     */
    public boolean isPositioned() {
      return positioned || lastId() != null;
    }

    /** How to abort the attempt in flight when the subscription is closed. */
    public void onAbort(Runnable abort) {
      this.abort = abort;
    }

    /** The attempt connected: resets the backoff and counts the stream as up. */
    public void opened() {
      retry.reset();
      state.leave(State.CONNECTING, State.OPEN);
      markUp();
    }

    /**
     * The subscription is in place on the server ({@code serverRecovered}: nothing after the
     * requested id was lost): tells the listener once per connected period, i.e. again only after
     * the stream was down.
     */
    public void placed(boolean serverRecovered) {
      synchronized (this) {
        if (placed) {
          return;
        }
        placed = true;
      }
      subscribed(serverRecovered);
    }

    /**
     * The attempt is over. A non-retryable cause ends the subscription ({@code onError});
     * otherwise it reconnects after a backoff delay (at least {@code hint} when the server gave one).
     */
    public void ended(SwitchboardException cause, Duration hint) {
      if (!isActive()) {
        return;
      }
      if (cause != null && !cause.status().isRetryable()) {
        fail(cause);
        return;
      }
      placed = false;
      markDown(cause);
      Optional<Duration> delay = retry.next(hint);
      if (delay.isEmpty()) {
        fail(new SwitchboardException(Status.UNAVAILABLE, "gave up reconnecting to topic " + topic()
            + " after " + retry.attempts() + " attempts" + (cause == null ? "" : ": " + cause.getMessage()),
            cause));
        return;
      }
      try {
        ClientSupport.TIMER.schedule(() -> {
          if (isActive()) {
            connect(this);
          }
        }, delay.get().toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        fail(new SwitchboardException(Status.UNAVAILABLE, "client timer stopped", e));
      }
    }

    @Override
    protected void onEnd() {
      streams.remove(this);
      markUp();
      Runnable a = abort;
      if (a != null) {
        a.run();
      }
    }

    private void markDown(SwitchboardException cause) {
      synchronized (this) {
        if (down) {
          return;
        }
        down = true;
      }
      if (streamsDown.incrementAndGet() == 1) {
        state.set(State.RECONNECTING, cause);
      }
    }

    private void markUp() {
      synchronized (this) {
        if (!down) {
          return;
        }
        down = false;
      }
      if (streamsDown.decrementAndGet() == 0) {
        state.set(State.OPEN, null);
      }
    }
  }

  /** The server's {@code Retry-After} (seconds or HTTP date), or null. */
  public static Duration retryAfter(HttpHeaders headers) {
    Optional<String> v = headers.firstValue("Retry-After");
    if (v.isEmpty()) {
      return null;
    }
    String s = v.get().trim();
    try {
      long secs = Long.parseLong(s);
      return secs < 0 ? null : Duration.ofSeconds(Math.min(secs, 3600));
    } catch (NumberFormatException e) {
      try {
        Duration d = Duration.between(java.time.Instant.now(),
            ZonedDateTime.parse(s, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  /** Percent-encodes a path segment or query value (keeps {@code A-Z a-z 0-9 - . _ ~ :}). */
  public static String encodeSegment(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~' || c == ':') {
        sb.append((char) c);
      } else {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return sb.toString();
  }
}
