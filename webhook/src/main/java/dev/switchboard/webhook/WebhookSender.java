package dev.switchboard.webhook;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends signed webhooks reliably. Each delivery is signed afresh per attempt (new timestamp, same
 * id) and POSTed over HTTP/1.1 (kept-alive connections); only 2xx is success (redirects are not
 * followed and count as failures). Network errors, timeouts, 408, 429 and 5xx are retried on a schedule (default:
 * immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, each with ±10 % jitter),
 * honouring {@code Retry-After} (seconds or HTTP date, at most {@code maxRetryAfter}); other 4xx stop
 * at once; 410 Gone disables the endpoint; an endpoint failing for longer than {@code disableAfter}
 * (default 5 days) is disabled. After the last attempt a delivery becomes a dead letter, which can be
 * listed and replayed. Each endpoint has its own concurrency limit and asks the store for its own due
 * deliveries, so a slow or dead endpoint, however long its backlog, never delays the others.
 * Deliveries to an endpoint that is not registered wait in the store until it is. Attempts run on
 * the sender's own threads, one per attempt in flight, with blocking exchanges over HTTP/1.1.
 * Before each attempt the URL's host is resolved and every address checked with the
 * {@link TargetPolicy} (loopback, private, link-local, metadata and other non-public addresses are
 * refused unless allowed: SSRF), and the connection goes to an address just checked, never to one
 * looked up again, so DNS rebinding between check and connect is not possible; for {@code https}
 * the certificate is verified against the URL's host name (sent as SNI). A refused target makes the
 * delivery a dead letter at once.
 *
 * <p>Each endpoint has a {@linkplain EndpointStatus status}: healthy until an attempt fails,
 * failing until one succeeds, disabled after 410 or {@code disableAfter}. Each change of state is
 * logged once at WARN (not each failed attempt) and reported to
 * {@link Listener#onEndpointStatus(EndpointStatus)}; {@link #status(String)} reads it.
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
   * @param responseExcerpt the start of the response body (at most 256 bytes, control characters as
   *     '?'), "" when it had none, null when there was no response
   */
  public record Attempt(String deliveryId, String endpointId, int attempt, Instant time, int status,
      Duration latency, String error, Outcome outcome, String responseExcerpt) {}

  /** Observes attempts and endpoint changes; called on the sender's threads, must not block. */
  public interface Listener {
    default void onAttempt(Attempt attempt) {}

    default void onEndpointDisabled(String endpointId, String reason) {}

    /** The endpoint changed state (healthy, failing, disabled); once per change. */
    default void onEndpointStatus(EndpointStatus status) {}
  }

  /** The state of an endpoint's deliveries. */
  public enum EndpointState {
    /** No attempt failed since the last success (or since registration). */
    HEALTHY,
    /** The last attempt failed. */
    FAILING,
    /** Disabled (410 Gone, or failing for longer than {@code disableAfter}); re-register to enable. */
    DISABLED
  }

  /**
   * What an endpoint's deliveries look like, for its owner.
   *
   * @param consecutiveFailures failed attempts since the last success
   * @param lastError the last failure ("HTTP 500", "network: …", "refused: …"), or null
   * @param lastFailure when the last attempt failed, or null
   * @param lastSuccess when an attempt last succeeded, or null
   * @param disabledReason why it is disabled, or null
   */
  public record EndpointStatus(String endpointId, EndpointState state, long consecutiveFailures, String lastError,
      Instant lastFailure, Instant lastSuccess, String disabledReason) {}

  /** Mutable health of one endpoint, guarded by itself. */
  private static final class Health {
    EndpointState state = EndpointState.HEALTHY;
    long consecutiveFailures;
    String lastError;
    Instant lastFailure;
    Instant lastSuccess;
    Instant failingSince;
    String disabledReason;

    EndpointStatus snapshot(String id) {
      return new EndpointStatus(id, state, consecutiveFailures, lastError, lastFailure, lastSuccess, disabledReason);
    }
  }

  /**
   * A registered endpoint: its permits (the concurrency limit) and the deliveries leased from the
   * store ahead of a free permit (at most one batch, so one store round trip serves many attempts).
   */
  private record Endpoint(String id, URI url, WebhookSigner signer, Semaphore permits, Queue<Delivery> ready) {}

  private final DeliveryStore store;
  private final List<Duration> schedule;
  private final double jitter;
  private final Duration timeout;
  private final Duration maxRetryAfter;
  private final Duration disableAfter;
  private final int perEndpointConcurrency;
  private final TargetPolicy targets;
  private final Clock clock;
  private final RandomGenerator random;
  private final Listener listener;
  private final PinnedHttpClient http;
  private final ExecutorService attempts;
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();
  private final Map<String, String> disabled = new ConcurrentHashMap<>();
  private final Map<String, Health> health = new ConcurrentHashMap<>();
  private final Set<String> kicked = ConcurrentHashMap.newKeySet();
  private final Duration pollInterval;
  private volatile ScheduledExecutorService runner;
  private volatile boolean closed;
  private final java.util.concurrent.atomic.AtomicBoolean kickPending = new java.util.concurrent.atomic.AtomicBoolean();

  private WebhookSender(Builder b) {
    this.store = b.store;
    this.schedule = List.copyOf(b.schedule);
    this.jitter = b.jitter;
    this.timeout = b.timeout;
    this.maxRetryAfter = b.maxRetryAfter;
    this.disableAfter = b.disableAfter;
    this.perEndpointConcurrency = b.perEndpointConcurrency;
    this.pollInterval = b.pollInterval;
    this.targets = b.targets != null ? b.targets : TargetPolicy.builder().allowPrivate(b.allowPrivateTargets).build();
    this.clock = b.clock;
    this.random = b.random;
    this.listener = b.listener;
    this.attempts = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "switchboard-webhook-attempt");
      t.setDaemon(true);
      return t;
    });
    // Not the JDK HttpClient: it resolves host names itself, so it could connect elsewhere than checked.
    this.http = new PinnedHttpClient(b.sslContext, b.perEndpointConcurrency);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Registers (or replaces, and so re-enables) an endpoint. The URL's form is checked here; its
   * addresses before each attempt (check them at registration too with {@link #targets()}).
   *
   * <p>To rotate an endpoint's secret, register it again with
   * {@code signer.rotatingTo(newSecret, switchAt)}: every attempt from then on, retries of pending
   * deliveries included, is signed for its own time, with the old secret, the new one or both
   * depending on the scheme (see {@link WebhookSigner}).
   *
   * @throws WebhookRegistrationException {@code invalid_url} if the URL is not http(s)://host…
   */
  public void register(String endpointId, URI url, WebhookSigner signer) {
    TargetPolicy.parse(url.toString());
    Objects.requireNonNull(signer, "signer");
    // Re-registering keeps the permits and the leased deliveries: in-flight attempts stay counted.
    endpoints.compute(endpointId, (id, old) -> new Endpoint(id, url, signer,
        old == null ? new Semaphore(perEndpointConcurrency) : old.permits,
        old == null ? new ConcurrentLinkedQueue<>() : old.ready));
    if (disabled.remove(endpointId) != null) {
      Health h = health(endpointId);
      synchronized (h) {
        h.state = EndpointState.HEALTHY;
        h.disabledReason = null;
        h.failingSince = null;
      }
    }
  }

  /**
   * Forgets an endpoint. Its pending deliveries stay in the store and wait, as for an endpoint not
   * registered yet; attempts in flight finish.
   *
   * @return whether it was registered
   */
  public boolean unregister(String endpointId) {
    boolean was = endpoints.remove(endpointId) != null;
    disabled.remove(endpointId);
    health.remove(endpointId);
    return was;
  }

  /** The policy targets are checked with before each attempt: check registrations with it too. */
  public TargetPolicy targets() {
    return targets;
  }

  /** The status of a registered endpoint, or null if it is not registered. */
  public EndpointStatus status(String endpointId) {
    if (!endpoints.containsKey(endpointId)) {
      return null;
    }
    Health h = health(endpointId);
    synchronized (h) {
      return h.snapshot(endpointId);
    }
  }

  private Health health(String endpointId) {
    if (!endpoints.containsKey(endpointId)) {
      return new Health(); // unregistered while an attempt was in flight: nothing to keep
    }
    return health.computeIfAbsent(endpointId, k -> new Health());
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
    kick(endpointId);
    return d.id();
  }

  /**
   * Queues a delivery the caller made, e.g. one whose id is a message id the receiver deduplicates
   * by (the id is sent as the webhook id). The store must accept the id: with
   * {@link DeliveryStore#inMemory()} ids must be unique across endpoints.
   *
   * @throws IllegalArgumentException for an unknown endpoint
   */
  public void send(Delivery d) {
    if (!endpoints.containsKey(d.endpointId())) {
      throw new IllegalArgumentException("unknown endpoint " + d.endpointId());
    }
    store.add(d);
    kick(d.endpointId());
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

  /** Deliveries waiting for an attempt or a retry (asks the store: a query for a durable one). */
  public int pendingCount() {
    return store.pendingCount();
  }

  /** Endpoints disabled (410, or failing for longer than {@link Builder#disableAfter}). */
  public int disabledEndpointCount() {
    return disabled.size();
  }

  /** Dead letters, oldest first. */
  public List<Delivery> deadLetters() {
    return store.deadLetters();
  }

  /**
   * Dead letters the store dropped, oldest first, to stay within its bounds (the in-memory default
   * keeps {@value DeliveryStore.InMemory#DEFAULT_MAX_DEAD_LETTERS} and a sixteenth of the heap; see
   * {@link DeliveryStore#inMemory(int, long)}); 0 for a durable store.
   */
  public long deadLettersEvicted() {
    return store.deadLettersEvicted();
  }

  /** Replays one dead letter from its first attempt; false if there is no such dead letter. */
  public boolean replay(String deliveryId) {
    return store.takeDeadLetter(deliveryId).map(d -> {
      store.add(new Delivery(d.id(), d.endpointId(), d.url(), d.body(), d.contentType(), d.created(), 0,
          clock.instant(), null));
      kick(d.endpointId());
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

  /**
   * Runs the sender on a background thread: it starts deliveries as they are sent and as attempts
   * finish, and asks the store for due ones (retries, outbox rows) every {@code pollInterval}.
   */
  public synchronized WebhookSender start() {
    if (runner == null) {
      runner = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "switchboard-webhook-sender");
        t.setDaemon(true);
        return t;
      });
      runner.scheduleWithFixedDelay(this::runDueQuietly, 0, pollInterval.toMillis(), TimeUnit.MILLISECONDS);
    }
    return this;
  }

  /** Asks the background thread to start what is due for one endpoint; many asks make one round. */
  private void kick(String endpointId) {
    ScheduledExecutorService r = runner;
    if (r == null) {
      return;
    }
    kicked.add(endpointId);
    if (kickPending.compareAndSet(false, true)) {
      try {
        r.execute(this::runKicked);
      } catch (RejectedExecutionException e) {
        kickPending.set(false); // closed
      }
    }
  }

  private void runKicked() {
    kickPending.set(false);
    try {
      Instant now = clock.instant();
      for (java.util.Iterator<String> it = kicked.iterator(); it.hasNext(); ) {
        Endpoint e = endpoints.get(it.next());
        it.remove();
        if (e != null && !disabled.containsKey(e.id)) {
          startDue(e, now, null);
        }
      }
    } catch (RuntimeException e) {
      log.warn("webhook dispatch failed", e);
    }
  }

  private void runDueQuietly() {
    try {
      runDue();
    } catch (RuntimeException e) {
      log.warn("webhook dispatch failed", e);
    }
  }

  /**
   * Starts every attempt due now, endpoint by endpoint, as far as each endpoint's concurrency limit
   * allows. Deliveries of a disabled endpoint become dead letters; those of an endpoint that is not
   * registered (yet) wait in the store.
   *
   * @return completes when the attempts started by this call have finished
   */
  public CompletableFuture<Void> runDue() {
    List<CompletableFuture<Void>> started = new ArrayList<>();
    Instant now = clock.instant();
    for (Endpoint e : endpoints.values()) {
      String why = disabled.get(e.id);
      if (why == null) {
        startDue(e, now, started);
        continue;
      }
      List<Delivery> dead = new ArrayList<>();
      for (Delivery d; (d = e.ready.poll()) != null; ) {
        dead.add(d);
      }
      dead.addAll(store.due(e.id, now, 64));
      for (Delivery d : dead) {
        finish(d, d.next(d.nextAttempt(), why), -1, Duration.ZERO, Outcome.DEAD_LETTER, null);
      }
    }
    return CompletableFuture.allOf(started.toArray(new CompletableFuture[0]));
  }

  /**
   * Gives each of the endpoint's free permits a worker with a due delivery: first those leased ahead
   * ({@code ready}), then a new lease from the store. The lease also tops {@code ready} up to one
   * batch (the concurrency limit) so that workers go on from one attempt to the next without a store
   * round trip or a thread hand-off.
   */
  private void startDue(Endpoint e, Instant now, List<CompletableFuture<Void>> started) {
    int free = e.permits.drainPermits();
    List<Delivery> go = new ArrayList<>(free);
    for (Delivery d; go.size() < free && (d = e.ready.poll()) != null; ) {
      go.add(d);
    }
    try {
      int missing = free - go.size();
      int ahead = perEndpointConcurrency - e.ready.size();
      if (missing > 0 || ahead > perEndpointConcurrency / 2) {
        for (Delivery d : store.due(e.id, now, missing + Math.max(0, ahead))) {
          (go.size() < free ? go : e.ready).add(d);
        }
      }
    } finally {
      e.permits.release(free - go.size());
    }
    for (Delivery d : go) {
      CompletableFuture<Void> f = work(e, d);
      if (started != null) {
        started.add(f);
      }
    }
  }

  /**
   * A worker holding one of the endpoint's permits: attempts {@code first}, then whatever is leased
   * ahead for the endpoint, and gives the permit back when there is nothing left (or the sender
   * closed, or the endpoint was disabled). A closed sender gives the delivery back instead.
   */
  private CompletableFuture<Void> work(Endpoint e, Delivery first) {
    try {
      return CompletableFuture.runAsync(() -> {
        try {
          for (Delivery d = first; d != null; d = closed || disabled.containsKey(e.id) ? null : e.ready.poll()) {
            exchange(e, d);
            if (e.ready.size() <= perEndpointConcurrency / 2) {
              kick(e.id); // top up the deliveries leased ahead
            }
          }
        } finally {
          e.permits.release();
          kick(e.id); // a permit is free: the endpoint's next due delivery need not wait for the poll
        }
      }, attempts);
    } catch (RejectedExecutionException closedNow) {
      e.permits.release();
      giveBack(first);
      return CompletableFuture.completedFuture(null);
    }
  }

  /**
   * One attempt, blocking its thread for the exchange. The JDK client's {@code sendAsync} hands every
   * response to the {@code CompletableFuture} default executor, which on a machine with two cores
   * or fewer starts a new thread per response; a blocking {@code send} on pooled threads measured
   * 3.5 times faster there.
   */
  private void exchange(Endpoint e, Delivery d) {
    try {
      Instant start = clock.instant();
      List<InetAddress> addresses;
      try {
        addresses = targets.addresses(e.url);
      } catch (WebhookRegistrationException refused) {
        if (refused.code().equals(WebhookRegistrationException.UNRESOLVABLE_TARGET)) {
          retryOrDie(e, d, -1, "network: " + refused.getMessage(), null, Duration.ZERO, null);
        } else {
          failed(e.id, refused.getMessage());
          finish(d, d.next(start, refused.getMessage()), -1, Duration.ZERO, Outcome.DEAD_LETTER, null);
        }
        return;
      }
      Map<String, String> headers = new LinkedHashMap<>();
      headers.put("Content-Type", d.contentType() == null ? "application/json" : d.contentType());
      headers.put("User-Agent", "Switchboard-Webhooks/1");
      headers.putAll(e.signer.sign(d.id(), start, d.body()));
      long t0 = System.nanoTime();
      PinnedHttpClient.Response resp;
      try {
        resp = http.post(e.url, addresses, headers, d.body(), timeout);
      } catch (IOException ex) {
        retryOrDie(e, d, -1, "network: " + rootMessage(ex), null, Duration.ofNanos(System.nanoTime() - t0), null);
        return;
      }
      Duration latency = Duration.ofNanos(System.nanoTime() - t0);
      int sc = resp.status();
      if (sc >= 200 && sc < 300) {
        succeeded(e.id);
        store.remove(d);
        report(d, d.attempts() + 1, sc, latency, null, Outcome.DELIVERED, resp.excerpt());
      } else if (sc == 410) {
        failed(e.id, "HTTP 410");
        disable(e.id, "410 Gone from " + e.url);
        finish(d, d.next(clock.instant(), "HTTP 410"), sc, latency, Outcome.DEAD_LETTER, resp.excerpt());
      } else if (sc == 408 || sc == 429 || sc >= 500 || (sc >= 300 && sc < 400)) {
        retryOrDie(e, d, sc, "HTTP " + sc, retryAfter(resp), latency, resp.excerpt());
      } else {
        failed(e.id, "HTTP " + sc + " (not retried)");
        finish(d, d.next(clock.instant(), "HTTP " + sc + " (not retried)"), sc, latency, Outcome.DEAD_LETTER,
            resp.excerpt());
      }
    } catch (RuntimeException ex) { // the store failed: the lease (or its expiry) brings the delivery back
      log.warn("webhook delivery {}: recording the attempt failed", d.id(), ex);
      giveBack(d);
    }
  }

  private void giveBack(Delivery d) {
    try {
      store.release(d);
    } catch (RuntimeException ex) {
      log.warn("webhook delivery {} could not be released; it is due again when its lease runs out", d.id(), ex);
    }
  }

  private void retryOrDie(Endpoint e, Delivery d, int status, String error, Duration retryAfter, Duration latency,
      String excerpt) {
    Instant now = clock.instant();
    Instant since = failed(e.id, error);
    if (Duration.between(since, now).compareTo(disableAfter) > 0) {
      disable(e.id, "failing since " + since + " (" + error + ")");
    }
    int next = d.attempts() + 1; // index of the next attempt's wait in the schedule
    if (next >= schedule.size() || disabled.containsKey(e.id)) {
      finish(d, d.next(now, error), status, latency, Outcome.DEAD_LETTER, excerpt);
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
    report(d, updated.attempts(), status, latency, error, Outcome.RETRY, excerpt);
  }

  private void finish(Delivery d, Delivery updated, int status, Duration latency, Outcome outcome, String excerpt) {
    store.deadLetter(updated);
    report(d, updated.attempts(), status, latency, updated.lastError(), outcome, excerpt);
  }

  private void report(Delivery d, int attempt, int status, Duration latency, String error, Outcome outcome,
      String excerpt) {
    try {
      listener.onAttempt(new Attempt(d.id(), d.endpointId(), attempt, clock.instant(), status, latency, error, outcome,
          excerpt));
    } catch (RuntimeException ex) {
      log.warn("webhook listener threw", ex);
    }
  }

  private void disable(String endpointId, String reason) {
    if (disabled.putIfAbsent(endpointId, reason) == null) {
      EndpointStatus status;
      Health h = health(endpointId);
      synchronized (h) {
        h.state = EndpointState.DISABLED;
        h.disabledReason = reason;
        status = h.snapshot(endpointId);
      }
      log.warn("webhook endpoint {} disabled: {}", endpointId, reason);
      try {
        listener.onEndpointDisabled(endpointId, reason);
      } catch (RuntimeException ex) {
        log.warn("webhook listener threw", ex);
      }
      changed(status);
    }
  }

  /**
   * Counts a failed attempt; the first after a success turns the endpoint FAILING (one WARN).
   *
   * @return since when the endpoint has been failing
   */
  private Instant failed(String endpointId, String error) {
    Instant now = clock.instant();
    EndpointStatus changed = null;
    Instant since;
    Health h = health(endpointId);
    synchronized (h) {
      h.consecutiveFailures++;
      h.lastError = error;
      h.lastFailure = now;
      if (h.failingSince == null) {
        h.failingSince = now;
      }
      since = h.failingSince;
      if (h.state == EndpointState.HEALTHY) {
        h.state = EndpointState.FAILING;
        changed = h.snapshot(endpointId);
      }
    }
    if (changed != null) {
      log.warn("webhook endpoint {} is failing: {} (logged once until it recovers or is disabled)", endpointId, error);
      changed(changed);
    }
    return since;
  }

  /** Records a success; a FAILING endpoint turns HEALTHY again (one WARN, the pair of the first). */
  private void succeeded(String endpointId) {
    EndpointStatus changed = null;
    long failures;
    Health h = health(endpointId);
    synchronized (h) {
      failures = h.consecutiveFailures;
      h.consecutiveFailures = 0;
      h.failingSince = null;
      h.lastSuccess = clock.instant();
      if (h.state == EndpointState.FAILING) {
        h.state = EndpointState.HEALTHY;
        changed = h.snapshot(endpointId);
      }
    }
    if (changed != null) {
      log.warn("webhook endpoint {} recovered after {} failed attempts", endpointId, failures);
      changed(changed);
    }
  }

  private void changed(EndpointStatus status) {
    try {
      listener.onEndpointStatus(status);
    } catch (RuntimeException ex) {
      log.warn("webhook listener threw", ex);
    }
  }

  private Duration jittered(Duration d) {
    if (jitter == 0 || d.isZero()) {
      return d;
    }
    double f = 1 + (random.nextDouble() * 2 - 1) * jitter;
    return Duration.ofMillis((long) (d.toMillis() * f));
  }

  private Duration retryAfter(PinnedHttpClient.Response resp) {
    String v = resp.retryAfter();
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

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException || t instanceof IOException && t.getCause() instanceof IOException)) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
  }

  /**
   * Stops the background thread and gives back deliveries leased but not yet attempted; pending
   * deliveries stay in the store. Attempts in flight finish and record their outcome.
   */
  @Override
  public synchronized void close() {
    closed = true;
    if (runner != null) {
      runner.shutdownNow();
      try {
        runner.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS); // a dispatch round may be in the store
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
      runner = null;
    }
    attempts.shutdown(); // attempts in flight finish; none start
    http.close();
    for (Endpoint e : endpoints.values()) {
      for (Delivery d; (d = e.ready.poll()) != null; ) {
        giveBack(d); // leased ahead but not attempted: due again at once, for any sender
      }
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
    private Duration pollInterval = Duration.ofMillis(100);
    private boolean allowPrivateTargets;
    private TargetPolicy targets;
    private SSLContext sslContext;
    private Clock clock = Clock.systemUTC();
    private RandomGenerator random = ThreadLocalRandom.current();
    private Listener listener = new Listener() { };

    private Builder() {}

    /**
     * Where deliveries and dead letters live (default {@link DeliveryStore#inMemory()}: pending ones
     * lost on restart, dead letters bounded by count and bytes).
     */
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

    /**
     * How often the background thread asks the store for due deliveries (retries coming due, rows
     * another process queued in the outbox); default 100 ms. Each poll asks once per registered
     * endpoint, so with a database store and thousands of endpoints, poll less often.
     */
    public Builder pollInterval(Duration d) {
      if (d == null || d.toMillis() < 1) {
        throw new IllegalArgumentException("pollInterval must be at least 1 ms: " + d);
      }
      this.pollInterval = d;
      return this;
    }

    /**
     * Allow loopback/private/link-local targets (tests, internal networks). Default: refused (SSRF).
     * Shorthand for {@code targets(TargetPolicy.builder().allowPrivate(allow).build())}.
     */
    public Builder allowPrivateTargets(boolean allow) {
      this.allowPrivateTargets = allow;
      return this;
    }

    /**
     * Which targets may be delivered to, and how host names are resolved (default
     * {@link TargetPolicy#publicOnly()}). Conflicts with {@link #allowPrivateTargets(boolean)}.
     */
    public Builder targets(TargetPolicy targets) {
      this.targets = Objects.requireNonNull(targets, "targets");
      return this;
    }

    /** The TLS context for https endpoints (default: the JVM's default, with its trusted CAs). */
    public Builder sslContext(SSLContext context) {
      this.sslContext = Objects.requireNonNull(context, "context");
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

    /**
     * @throws IllegalStateException if both {@link #targets} and {@code allowPrivateTargets(true)} were set
     */
    public WebhookSender build() {
      if (targets != null && allowPrivateTargets) {
        throw new IllegalStateException("set either targets(…) or allowPrivateTargets(true), not both");
      }
      return new WebhookSender(this);
    }
  }
}
