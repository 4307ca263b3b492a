package dev.switchboard.webhook;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends signed webhooks reliably. Each delivery is signed afresh per attempt (new timestamp, same
 * id) and POSTed with the JDK {@link HttpClient}; only 2xx is success (redirects are not followed and
 * count as failures). Network errors, timeouts, 408, 429 and 5xx are retried on a schedule (default:
 * immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, each with ±10 % jitter),
 * honouring {@code Retry-After} (seconds or HTTP date, at most {@code maxRetryAfter}); other 4xx stop
 * at once; 410 Gone disables the endpoint; an endpoint failing for longer than {@code disableAfter}
 * (default 5 days) is disabled. After the last attempt a delivery becomes a dead letter, which can be
 * listed and replayed. Each endpoint has its own concurrency limit, so a slow or dead endpoint never
 * delays the others. Targets that resolve to loopback, private, link-local or multicast addresses
 * are refused unless allowed (SSRF).
 *
 * <p>{@link #start()} runs it on a background thread; tests call {@link #runDue()} with an injected
 * clock instead, so schedules are tested without sleeping. Thread-safe.
 */
public final class WebhookSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebhookSender.class);

  /** The default retry schedule: the wait before each attempt. */
  public static final List<Duration> DEFAULT_SCHEDULE = List.of(Duration.ZERO, Duration.ofSeconds(5),
      Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(2), Duration.ofHours(5),
      Duration.ofHours(10), Duration.ofHours(14), Duration.ofHours(20), Duration.ofHours(24));

  /** What an attempt led to. */
  public enum Outcome { DELIVERED, RETRY, DEAD_LETTER }

  /**
   * One attempt, as reported to the listener.
   *
   * @param status the HTTP status, or -1 when there was no response
   * @param error what went wrong, or null when delivered
   */
  public record Attempt(String deliveryId, String endpointId, int attempt, Instant time, int status,
      Duration latency, String error, Outcome outcome) {}

  /** Observes attempts and endpoint changes; called on the sender's threads, must not block. */
  public interface Listener {
    default void onAttempt(Attempt attempt) {}

    default void onEndpointDisabled(String endpointId, String reason) {}
  }

  private record Endpoint(String id, URI url, WebhookSigner signer, Semaphore permits) {}

  private final DeliveryStore store;
  private final List<Duration> schedule;
  private final double jitter;
  private final Duration timeout;
  private final Duration maxRetryAfter;
  private final Duration disableAfter;
  private final int perEndpointConcurrency;
  private final boolean allowPrivateTargets;
  private final Clock clock;
  private final RandomGenerator random;
  private final Listener listener;
  private final HttpClient http;
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();
  private final Map<String, String> disabled = new ConcurrentHashMap<>();
  private final Map<String, Instant> failingSince = new ConcurrentHashMap<>();
  private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
  private volatile ScheduledExecutorService runner;
  private final java.util.concurrent.atomic.AtomicBoolean kickPending = new java.util.concurrent.atomic.AtomicBoolean();

  private WebhookSender(Builder b) {
    this.store = b.store;
    this.schedule = List.copyOf(b.schedule);
    this.jitter = b.jitter;
    this.timeout = b.timeout;
    this.maxRetryAfter = b.maxRetryAfter;
    this.disableAfter = b.disableAfter;
    this.perEndpointConcurrency = b.perEndpointConcurrency;
    this.allowPrivateTargets = b.allowPrivateTargets;
    this.clock = b.clock;
    this.random = b.random;
    this.listener = b.listener;
    this.http = HttpClient.newBuilder().connectTimeout(b.timeout).followRedirects(HttpClient.Redirect.NEVER).build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Registers (or replaces) an endpoint.
   *
   * @throws IllegalArgumentException if the URL is not http(s)
   */
  public void register(String endpointId, URI url, WebhookSigner signer) {
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || url.getHost() == null) {
      throw new IllegalArgumentException("webhook URL must be http(s)://host/…: " + url);
    }
    endpoints.put(endpointId, new Endpoint(endpointId, url, Objects.requireNonNull(signer, "signer"),
        new Semaphore(perEndpointConcurrency)));
    disabled.remove(endpointId);
  }

  /** Whether an endpoint was disabled (410, or failing too long), and why; null when enabled. */
  public String disabledReason(String endpointId) {
    return disabled.get(endpointId);
  }

  /**
   * Queues a delivery to an endpoint.
   *
   * @return the delivery id (sent as the webhook id on every attempt)
   * @throws IllegalArgumentException for an unknown endpoint
   */
  public String send(String endpointId, byte[] body, String contentType) {
    Delivery d = newDelivery(endpointId, body, contentType);
    store.add(d);
    kick();
    return d.id();
  }

  /**
   * A new delivery to an endpoint, due now, not yet stored: for
   * {@link JdbcDeliveryStore#enqueue(java.sql.Connection, Delivery)} inside the application's
   * transaction. The running sender picks it up once that transaction commits.
   *
   * @throws IllegalArgumentException for an unknown endpoint
   */
  public Delivery newDelivery(String endpointId, byte[] body, String contentType) {
    Endpoint e = endpoints.get(endpointId);
    if (e == null) {
      throw new IllegalArgumentException("unknown endpoint " + endpointId);
    }
    Instant now = clock.instant();
    return new Delivery("msg_" + UUID.randomUUID().toString().replace("-", ""), endpointId, e.url, body.clone(),
        contentType, now, 0, now, null);
  }

  /** Dead letters, oldest first. */
  public List<Delivery> deadLetters() {
    return store.deadLetters();
  }

  /** Replays one dead letter from its first attempt; false if there is no such dead letter. */
  public boolean replay(String deliveryId) {
    return store.takeDeadLetter(deliveryId).map(d -> {
      store.add(new Delivery(d.id(), d.endpointId(), d.url(), d.body(), d.contentType(), d.created(), 0,
          clock.instant(), null));
      kick();
      return true;
    }).orElse(false);
  }

  /** Replays every dead letter created at or after {@code since}; returns how many. */
  public int replaySince(Instant since) {
    int n = 0;
    for (Delivery d : store.deadLetters()) {
      if (!d.created().isBefore(since) && replay(d.id())) {
        n++;
      }
    }
    return n;
  }

  /** Runs the sender on a background thread, checking for due deliveries every 100 ms. */
  public synchronized WebhookSender start() {
    if (runner == null) {
      runner = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "switchboard-webhook-sender");
        t.setDaemon(true);
        return t;
      });
      runner.scheduleWithFixedDelay(this::runDueQuietly, 0, 100, TimeUnit.MILLISECONDS);
    }
    return this;
  }

  /** Asks the background thread for another dispatch round soon; many asks make one round. */
  private void kick() {
    ScheduledExecutorService r = runner;
    if (r != null && kickPending.compareAndSet(false, true)) {
      try {
        r.execute(this::runDueQuietly);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        kickPending.set(false); // closed
      }
    }
  }

  private void runDueQuietly() {
    kickPending.set(false);
    try {
      runDue();
    } catch (RuntimeException e) {
      log.warn("webhook dispatch failed", e);
    }
  }

  /**
   * Starts every attempt due now (subject to each endpoint's concurrency limit).
   *
   * @return completes when the attempts started by this call have finished
   */
  public CompletableFuture<Void> runDue() {
    List<CompletableFuture<Void>> started = new ArrayList<>();
    // Ask only for what can start now (plus those in flight, which the store still lists as due).
    for (Delivery d : store.due(clock.instant(), inFlight.size() + 64)) {
      if (!inFlight.add(d.id())) {
        continue;
      }
      Endpoint e = endpoints.get(d.endpointId());
      String why = e == null ? "endpoint " + d.endpointId() + " is not registered" : disabled.get(d.endpointId());
      if (why != null) {
        inFlight.remove(d.id());
        finish(d, d.next(d.nextAttempt(), why), -1, Duration.ZERO, Outcome.DEAD_LETTER);
        continue;
      }
      if (!e.permits.tryAcquire()) {
        inFlight.remove(d.id()); // the endpoint is busy: try again next round, others go on
        store.release(d);
        continue;
      }
      started.add(attempt(e, d).whenComplete((v, err) -> {
        e.permits.release();
        inFlight.remove(d.id());
        kick(); // a permit is free: the next due delivery for this endpoint need not wait for the timer
      }));
    }
    return CompletableFuture.allOf(started.toArray(new CompletableFuture[0]));
  }

  private CompletableFuture<Void> attempt(Endpoint e, Delivery d) {
    Instant start = clock.instant();
    String blocked = allowPrivateTargets ? null : privateTarget(e.url);
    if (blocked != null) {
      finish(d, d.next(start, blocked), -1, Duration.ZERO, Outcome.DEAD_LETTER);
      return CompletableFuture.completedFuture(null);
    }
    HttpRequest.Builder req = HttpRequest.newBuilder(e.url).timeout(timeout)
        .POST(HttpRequest.BodyPublishers.ofByteArray(d.body()))
        .header("Content-Type", d.contentType() == null ? "application/json" : d.contentType())
        .header("User-Agent", "Switchboard-Webhooks/1");
    e.signer.sign(d.id(), start, d.body()).forEach(req::header);
    long t0 = System.nanoTime();
    return http.sendAsync(req.build(), HttpResponse.BodyHandlers.discarding()).handle((resp, err) -> {
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      if (err != null) {
        retryOrDie(e, d, -1, "network: " + rootMessage(err), null, latency);
      } else {
        int sc = resp.statusCode();
        if (sc >= 200 && sc < 300) {
          failingSince.remove(e.id);
          store.remove(d.id());
          report(d, d.attempts() + 1, sc, latency, null, Outcome.DELIVERED);
        } else if (sc == 410) {
          disable(e.id, "410 Gone from " + e.url);
          finish(d, d.next(clock.instant(), "HTTP 410"), sc, latency, Outcome.DEAD_LETTER);
        } else if (sc == 408 || sc == 429 || sc >= 500 || (sc >= 300 && sc < 400)) {
          retryOrDie(e, d, sc, "HTTP " + sc, retryAfter(resp), latency);
        } else {
          finish(d, d.next(clock.instant(), "HTTP " + sc + " (not retried)"), sc, latency, Outcome.DEAD_LETTER);
        }
      }
      return null;
    });
  }

  private void retryOrDie(Endpoint e, Delivery d, int status, String error, Duration retryAfter, Duration latency) {
    Instant now = clock.instant();
    Instant since = failingSince.computeIfAbsent(e.id, k -> now);
    if (Duration.between(since, now).compareTo(disableAfter) > 0) {
      disable(e.id, "failing since " + since + " (" + error + ")");
    }
    int next = d.attempts() + 1; // index of the next attempt's wait in the schedule
    if (next >= schedule.size() || disabled.containsKey(e.id)) {
      finish(d, d.next(now, error), status, latency, Outcome.DEAD_LETTER);
      return;
    }
    Duration wait = jittered(schedule.get(next));
    if (retryAfter != null) {
      Duration bounded = retryAfter.compareTo(maxRetryAfter) > 0 ? maxRetryAfter : retryAfter;
      if (bounded.compareTo(wait) > 0) {
        wait = bounded;
      }
    }
    Delivery updated = d.next(now.plus(wait), error);
    store.update(updated);
    report(d, updated.attempts(), status, latency, error, Outcome.RETRY);
  }

  private void finish(Delivery d, Delivery updated, int status, Duration latency, Outcome outcome) {
    store.deadLetter(updated);
    report(d, updated.attempts(), status, latency, updated.lastError(), outcome);
  }

  private void report(Delivery d, int attempt, int status, Duration latency, String error, Outcome outcome) {
    try {
      listener.onAttempt(new Attempt(d.id(), d.endpointId(), attempt, clock.instant(), status, latency, error, outcome));
    } catch (RuntimeException ex) {
      log.warn("webhook listener threw", ex);
    }
  }

  private void disable(String endpointId, String reason) {
    if (disabled.putIfAbsent(endpointId, reason) == null) {
      log.warn("webhook endpoint {} disabled: {}", endpointId, reason);
      try {
        listener.onEndpointDisabled(endpointId, reason);
      } catch (RuntimeException ex) {
        log.warn("webhook listener threw", ex);
      }
    }
  }

  private Duration jittered(Duration d) {
    if (jitter == 0 || d.isZero()) {
      return d;
    }
    double f = 1 + (random.nextDouble() * 2 - 1) * jitter;
    return Duration.ofMillis((long) (d.toMillis() * f));
  }

  private Duration retryAfter(HttpResponse<?> resp) {
    String v = resp.headers().firstValue("Retry-After").orElse(null);
    if (v == null) {
      return null;
    }
    try {
      return Duration.ofSeconds(Math.max(0, Long.parseLong(v.trim())));
    } catch (NumberFormatException e) {
      try {
        Duration d = Duration.between(clock.instant(), ZonedDateTime.parse(v.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  /** Why the URL's host is off limits, or null when every address it resolves to is public. */
  static String privateTarget(URI url) {
    try {
      for (InetAddress a : InetAddress.getAllByName(url.getHost())) {
        boolean ula = a instanceof Inet6Address && (a.getAddress()[0] & 0xfe) == 0xfc;
        boolean cgnat = a.getAddress().length == 4 && (a.getAddress()[0] & 0xff) == 100 && (a.getAddress()[1] & 0xc0) == 64;
        if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()
            || a.isMulticastAddress() || ula || cgnat) {
          return "refused: " + url.getHost() + " resolves to the private address " + a.getHostAddress()
              + " (allow private targets to deliver there)";
        }
      }
      return null;
    } catch (UnknownHostException e) {
      return null; // the attempt itself fails and is retried
    }
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException || t instanceof IOException && t.getCause() instanceof IOException)) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
  }

  /** Stops the background thread; pending deliveries stay in the store. */
  @Override
  public synchronized void close() {
    if (runner != null) {
      runner.shutdownNow();
      runner = null;
    }
  }

  /** Builds a {@link WebhookSender}. Not thread-safe; setters fail fast on bad values. */
  public static final class Builder {
    private DeliveryStore store = DeliveryStore.inMemory();
    private List<Duration> schedule = DEFAULT_SCHEDULE;
    private double jitter = 0.1;
    private Duration timeout = Duration.ofSeconds(15);
    private Duration maxRetryAfter = Duration.ofHours(1);
    private Duration disableAfter = Duration.ofDays(5);
    private int perEndpointConcurrency = 4;
    private boolean allowPrivateTargets;
    private Clock clock = Clock.systemUTC();
    private RandomGenerator random = ThreadLocalRandom.current();
    private Listener listener = new Listener() { };

    private Builder() {}

    public Builder store(DeliveryStore store) {
      this.store = Objects.requireNonNull(store, "store");
      return this;
    }

    /** The wait before each attempt; the first is usually zero. Its length is the number of attempts. */
    public Builder schedule(List<Duration> schedule) {
      if (schedule == null || schedule.isEmpty() || schedule.stream().anyMatch(d -> d == null || d.isNegative())) {
        throw new IllegalArgumentException("schedule needs at least one non-negative wait");
      }
      this.schedule = schedule;
      return this;
    }

    /** Relative jitter on each wait, 0 to 0.5 (default 0.1 = ±10 %). */
    public Builder jitter(double jitter) {
      if (!(jitter >= 0 && jitter <= 0.5)) {
        throw new IllegalArgumentException("jitter must be from 0 to 0.5: " + jitter);
      }
      this.jitter = jitter;
      return this;
    }

    /** Connect and response timeout of one attempt (default 15 s). */
    public Builder timeout(Duration timeout) {
      if (timeout == null || timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("timeout must be positive: " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /** The longest {@code Retry-After} honoured (default 1 h). */
    public Builder maxRetryAfter(Duration d) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException("maxRetryAfter must not be negative: " + d);
      }
      this.maxRetryAfter = d;
      return this;
    }

    /** Disable an endpoint that has failed for this long (default 5 days). */
    public Builder disableAfter(Duration d) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException("disableAfter must not be negative: " + d);
      }
      this.disableAfter = d;
      return this;
    }

    /** Attempts in flight at once per endpoint (default 4). */
    public Builder perEndpointConcurrency(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("perEndpointConcurrency must be >= 1: " + n);
      }
      this.perEndpointConcurrency = n;
      return this;
    }

    /** Allow loopback/private/link-local targets (tests, internal networks). Default: refused (SSRF). */
    public Builder allowPrivateTargets(boolean allow) {
      this.allowPrivateTargets = allow;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public Builder random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    public Builder listener(Listener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    public WebhookSender build() {
      return new WebhookSender(this);
    }
  }
}
