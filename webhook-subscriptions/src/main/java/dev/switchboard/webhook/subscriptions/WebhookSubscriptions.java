package dev.switchboard.webhook.subscriptions;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Topics;
import dev.switchboard.webhook.Delivery;
import dev.switchboard.webhook.EndpointLimits;
import dev.switchboard.webhook.TargetPolicy;
import dev.switchboard.webhook.WebhookRegistrationException;
import dev.switchboard.webhook.WebhookSender;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Webhook subscriptions: durable endpoints that receive the messages of their topics as signed
 * webhooks, resuming like every other Switchboard transport.
 *
 * <p><strong>Delivery.</strong> Each endpoint keeps, per topic, a cursor in its {@link EndpointStore}:
 * the id of the last message it acknowledged. Messages are read from the broker's history after the
 * cursor (the hub's own {@link Broker}: in memory while the process lives, Redis Streams, Kafka), so
 * after a restart, a disabled period or an update delivery goes on where it stopped. A live
 * subscription on each topic only wakes the readers. A new endpoint (or a topic added to one)
 * starts at the topic's newest message: it receives what is published after it was registered.
 * Each message is POSTed with {@code webhook-id} equal to its Switchboard message id, again on
 * every retry, so receivers deduplicate (delivery is at least once; ids are unique per topic, so
 * with several topics on a broker whose ids are per topic, such as Redis or Kafka, deduplicate on
 * the payload's {@code topic} and the id). The body is
 * {@code {"type","timestamp","id","topic","data"}}.
 *
 * <p><strong>Order.</strong> One delivery in flight per endpoint and topic by default, so each
 * topic's messages arrive in order and the cursor moves one message at a time;
 * {@code maxInFlight} above 1 allows that many at once (faster, may reorder; the cursor moves to
 * the newest message below which every one is finished).
 *
 * <p><strong>Gaps.</strong> When the cursor is older than the history the broker still holds (or
 * from before an in-memory broker restarted), the endpoint first gets one event of type
 * {@value #HISTORY_GAP} ({@code data}: {@code topic}, {@code afterId} = the cursor,
 * {@code firstId} = the first message that follows, or null), then the messages history holds:
 * never a silent gap. Its id is derived from the endpoint, topic and cursor, so a repeat has the
 * same id.
 *
 * <p><strong>Failures.</strong> Attempts go through a {@link WebhookSender} (retries with backoff and
 * {@code Retry-After}, SSRF-safe pinned connections). A message the sender gives up on (a 4xx that
 * is not retried, or the retry schedule exhausted) is recorded as failed in the attempts and the
 * cursor moves past it (replay it with {@link #replay}); an endpoint failing for longer than the
 * sender's {@code disableAfter} is disabled with a readable reason and its cursor stays: enabling it
 * again resumes there.
 *
 * <p><strong>Nodes.</strong> Run one instance per store: two instances sharing a store would both
 * deliver every message (a receiver deduplicating by id absorbs it, but work doubles).
 *
 * <p>Thread-safe: the state lives on one dispatcher thread; the public methods hand work to it and
 * wait (blocking on the store). Errors: {@link WebhookRegistrationException} (400, with a code) for
 * a bad registration, {@link IllegalStateException} for an operation the endpoint's state refuses.
 */
public final class WebhookSubscriptions implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebhookSubscriptions.class);

  /** The event type sent when history no longer reaches back to an endpoint's cursor. */
  public static final String HISTORY_GAP = "history_gap";
  /** The event type of {@link #testSend}. */
  public static final String TEST_EVENT = "webhook.test";
  /** The registration error code for a malformed field (status 400). */
  public static final String INVALID_ENDPOINT = "invalid_endpoint";
  /** Most metadata entries per endpoint. */
  public static final int MAX_METADATA_ENTRIES = 20;
  /** Most secrets an endpoint holds (expired ones are dropped at each rotation). */
  public static final int MAX_SECRETS = 4;

  /**
   * One attempt, as the attempts list shows it.
   *
   * @param status the HTTP status, or -1 when there was no response
   * @param error what went wrong, or null when delivered
   * @param outcome {@code delivered}, {@code retry} or {@code failed}
   * @param responseExcerpt the start of the response body (at most 256 bytes), or null without a response
   */
  public record AttemptRecord(String deliveryId, int attempt, Instant time, int status,
      long latencyMillis, String error, String outcome, String responseExcerpt) {}

  /** A registration's result: the endpoint and its first secret (shown once). */
  public record Created(Endpoint endpoint, String secret) {}

  /**
   * A rotation's result.
   *
   * @param secret the new secret
   * @param activeFrom when deliveries start being signed with it
   * @param previousExpires when the previous secrets stop signing
   */
  public record Rotation(String secret, Instant activeFrom, Instant previousExpires) {}

  /**
   * An endpoint with its delivery state.
   *
   * @param cursors topic → last acknowledged message id ("" for "from the oldest")
   * @param status the sender's view (healthy, failing), or null while disabled
   * @param inFlight deliveries being attempted or waiting for a retry
   */
  public record View(Endpoint endpoint, Map<String, String> cursors, WebhookSender.EndpointStatus status, int inFlight) {}

  /** A message (or event) to deliver, and where the cursor goes once it is finished. */
  private record Item(String deliveryId, String topic, byte[] body, boolean movesCursor, String cursorAfter) {}

  private static final class Pending {
    final Item item;
    boolean done;
    boolean holdsSlot; // counted in attemptsInFlight until its first attempt ends

    Pending(Item item) {
      this.item = item;
    }
  }

  /** One endpoint's delivery of one topic. Dispatcher thread only. */
  private static final class Lane {
    final Runtime rt;
    final String topic;
    String cursor; // null until the start position is known
    String readPos;
    final ArrayDeque<Item> buffer = new ArrayDeque<>();
    final ArrayDeque<Pending> window = new ArrayDeque<>();
    boolean reading;
    boolean caughtUp;
    boolean wake;
    boolean dirty;
    boolean blocked;
    boolean retryScheduled;
    boolean starved; // waiting in the starved queue for an attempt slot
    int generation;

    Lane(Runtime rt, String topic, String cursor) {
      this.rt = rt;
      this.topic = topic;
      this.cursor = cursor;
      this.readPos = cursor;
    }
  }

  /** One endpoint at run time. Dispatcher thread only. */
  private static final class Runtime {
    Endpoint ep;
    URI uri;
    boolean active;
    final Map<String, Lane> lanes = new LinkedHashMap<>();
    final Map<String, Lane> inflight = new HashMap<>();
    double tokens;
    long refilledAt = System.nanoTime();
    boolean pumpScheduled;
    Instant nextSecretChange;

    Runtime(Endpoint ep) {
      this.ep = ep;
      this.uri = URI.create(ep.url());
      this.tokens = Math.max(1, ep.rateLimit());
    }
  }

  /** The live subscription on one topic that wakes its lanes. */
  private static final class Feed {
    final String topic;
    final Set<Lane> lanes = new LinkedHashSet<>();
    final AtomicBoolean notifyPending = new AtomicBoolean();
    AutoCloseable subscription;
    boolean retryScheduled;

    Feed(String topic) {
      this.topic = topic;
    }
  }

  private final Broker broker;
  private final EndpointStore store;
  private final EndpointLimits limits;
  private final Clock clock;
  private final int historyBatch;
  private final Duration cursorFlushInterval;
  private final Duration rotationOverlap;
  private final int maxAttempts;
  private final long maxAttemptBytes;
  private final LaneDeliveryStore deliveries = new LaneDeliveryStore();
  private final WebhookSender sender;
  private final ScheduledExecutorService loop;
  private final Map<String, Runtime> runtimes = new LinkedHashMap<>();
  private final Map<String, Feed> feeds = new HashMap<>();
  private final Map<String, AttemptLog> logs = new ConcurrentHashMap<>();
  private final ArrayDeque<Lane> starved = new ArrayDeque<>();
  private final int maxAttemptsInFlight;
  private int attemptsInFlight;
  private final SecureRandom random = new SecureRandom();
  private volatile Thread loopThread;
  private volatile boolean started;
  private volatile boolean closed;

  private WebhookSubscriptions(Builder b) {
    this.broker = b.broker;
    this.store = b.store;
    this.limits = b.limits;
    this.clock = b.clock;
    this.historyBatch = b.historyBatch;
    this.cursorFlushInterval = b.cursorFlushInterval;
    this.rotationOverlap = b.rotationOverlap;
    this.maxAttempts = b.maxAttempts;
    this.maxAttemptBytes = b.maxAttemptBytes;
    this.maxAttemptsInFlight = b.maxAttemptsInFlight;
    WebhookSender.Builder sb = WebhookSender.builder();
    b.senderOptions.accept(sb);
    this.sender = sb.store(deliveries).clock(clock).listener(new WebhookSender.Listener() {
      @Override
      public void onAttempt(WebhookSender.Attempt a) {
        attempted(a);
      }

      @Override
      public void onEndpointDisabled(String endpointId, String reason) {
        execute(() -> autoDisable(endpointId, reason));
      }
    }).build();
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "switchboard-webhook-subscriptions");
      t.setDaemon(true);
      loopThread = t;
      return t;
    });
  }

  /**
   * A builder.
   *
   * @param broker where messages are read from: the hub's ({@code hub.broker()})
   * @param store where endpoints and cursors live
   */
  public static Builder builder(Broker broker, EndpointStore store) {
    return new Builder(broker, store);
  }

  /**
   * Loads the stored endpoints and starts delivering: each enabled endpoint from its cursors.
   *
   * @throws RuntimeException when the store cannot be read
   */
  public WebhookSubscriptions start() {
    call(() -> {
      if (started) {
        return null;
      }
      started = true;
      sender.start();
      for (Endpoint e : store.list()) {
        Runtime known = runtimes.get(e.id());
        if (known != null) { // registered before start()
          if (known.ep.enabled()) {
            activate(known);
          }
          continue;
        }
        Runtime rt = new Runtime(e);
        runtimes.put(e.id(), rt);
        logs.put(e.id(), new AttemptLog(maxAttempts, maxAttemptBytes));
        Map<String, String> cursors = store.cursors(e.id());
        for (String t : e.topics()) {
          addLane(rt, t, cursors.get(t));
        }
        if (e.enabled()) {
          activate(rt);
        }
      }
      long flush = cursorFlushInterval.toMillis();
      loop.scheduleWithFixedDelay(this::flushQuietly, flush, flush, TimeUnit.MILLISECONDS);
      loop.scheduleWithFixedDelay(this::rotateSigners, 1, 1, TimeUnit.SECONDS);
      return null;
    });
    return this;
  }

  /** The policy registration URLs and every attempt are checked with. */
  public TargetPolicy targets() {
    return sender.targets();
  }

  /** The registration limits. */
  public EndpointLimits limits() {
    return limits;
  }

  /**
   * Registers an endpoint for {@code owner}: it receives what is published on its topics from now on.
   *
   * @return the endpoint and its secret
   * @throws WebhookRegistrationException 400: {@code invalid_url}, {@code forbidden_target},
   *     {@code unresolvable_target}, {@code too_many_topics}, {@code too_many_endpoints} or
   *     {@value #INVALID_ENDPOINT} (a topic, the scheme, a limit or the metadata)
   */
  public Created create(String owner, EndpointChange c) {
    Objects.requireNonNull(owner, "owner");
    if (c.url() == null || c.topics() == null) {
      throw invalid("an endpoint needs \"url\" and \"topics\"");
    }
    URI url = targets().check(c.url());
    List<String> topics = checkTopics(c.topics());
    Endpoint.SignatureScheme scheme = c.scheme() == null ? Endpoint.SignatureScheme.STANDARD_WEBHOOKS : scheme(c.scheme());
    int rate = c.rateLimit() == null ? 0 : checkRate(c.rateLimit());
    int inFlight = c.maxInFlight() == null ? 1 : checkInFlight(c.maxInFlight());
    Map<String, String> metadata = c.metadata() == null ? Map.of() : checkMetadata(c.metadata());
    String secret = newSecret();
    Instant now = clock.instant();
    String id = "ep_" + UUID.randomUUID().toString().replace("-", "").substring(0, 20);
    Endpoint e = new Endpoint(id, owner, url.toString(), topics, scheme,
        List.of(new Endpoint.Secret(secret, now.minusSeconds(1), null)), !Boolean.FALSE.equals(c.enabled()),
        Boolean.FALSE.equals(c.enabled()) ? "disabled at registration" : null, rate, inFlight, metadata, now);
    Map<String, String> starts = startPositions(topics);
    call(() -> {
      limits.checkOneMoreEndpoint(owner, store.list(owner).size());
      store.save(e);
      store.saveCursors(id, starts);
      Runtime rt = new Runtime(e);
      runtimes.put(id, rt);
      logs.put(id, new AttemptLog(maxAttempts, maxAttemptBytes));
      for (String t : topics) {
        addLane(rt, t, starts.get(t));
      }
      if (e.enabled() && started) {
        activate(rt);
      }
      return null;
    });
    return new Created(e, secret);
  }

  /** One endpoint, with its cursors and status. */
  public Optional<View> get(String id) {
    return call(() -> {
      Runtime rt = runtimes.get(id);
      return rt == null ? Optional.empty() : Optional.of(view(rt));
    });
  }

  /** The endpoints of one owner (every endpoint when {@code owner} is null), oldest first. */
  public List<View> list(String owner) {
    return call(() -> {
      List<View> out = new ArrayList<>();
      for (Runtime rt : runtimes.values()) {
        if (owner == null || rt.ep.owner().equals(owner)) {
          out.add(view(rt));
        }
      }
      return out;
    });
  }

  private View view(Runtime rt) {
    Map<String, String> cursors = new LinkedHashMap<>();
    for (Lane l : rt.lanes.values()) {
      cursors.put(l.topic, l.cursor);
    }
    return new View(rt.ep, cursors, rt.active ? sender.status(rt.ep.id()) : null, rt.inflight.size());
  }

  /**
   * Changes an endpoint: URL, topics (a new topic starts at its newest message; a removed one's
   * cursor is forgotten), scheme, rate limit, concurrency, metadata, enabled. Enabling resumes from
   * the cursors; disabling keeps them.
   *
   * @return the endpoint as changed, or empty when there is no such endpoint
   * @throws WebhookRegistrationException as {@link #create}
   */
  public Optional<Endpoint> update(String id, EndpointChange c) {
    URI url = c.url() == null ? null : targets().check(c.url());
    List<String> topics = c.topics() == null ? null : checkTopics(c.topics());
    Endpoint.SignatureScheme scheme = c.scheme() == null ? null : scheme(c.scheme());
    Integer rate = c.rateLimit() == null ? null : checkRate(c.rateLimit());
    Integer inFlight = c.maxInFlight() == null ? null : checkInFlight(c.maxInFlight());
    Map<String, String> metadata = c.metadata() == null ? null : checkMetadata(c.metadata());
    Runtime existing = call(() -> runtimes.get(id));
    if (existing == null) {
      return Optional.empty();
    }
    Set<String> added = new LinkedHashSet<>(topics == null ? List.of() : topics);
    added.removeAll(existing.ep.topics());
    Map<String, String> starts = startPositions(new ArrayList<>(added));
    return call(() -> {
      Runtime rt = runtimes.get(id);
      if (rt == null) {
        return Optional.empty();
      }
      Endpoint o = rt.ep;
      boolean enabled = c.enabled() == null ? o.enabled() : c.enabled();
      Endpoint n = new Endpoint(id, o.owner(), url == null ? o.url() : url.toString(), topics == null ? o.topics() : topics,
          scheme == null ? o.scheme() : scheme, o.secrets(), enabled,
          enabled ? null : c.enabled() != null && o.enabled() ? "disabled by its owner" : o.disabledReason(),
          rate == null ? o.rateLimit() : rate, inFlight == null ? o.maxInFlight() : inFlight,
          metadata == null ? o.metadata() : metadata, o.created());
      store.save(n);
      for (String t : o.topics()) {
        if (!n.topics().contains(t)) {
          removeLane(rt.lanes.get(t));
          store.deleteCursor(id, t);
        }
      }
      Map<String, String> fresh = new LinkedHashMap<>();
      for (String t : n.topics()) {
        if (!rt.lanes.containsKey(t)) {
          String start = starts.getOrDefault(t, "");
          fresh.put(t, start);
          addLane(rt, t, start);
        }
      }
      store.saveCursors(id, fresh);
      boolean wasActive = rt.active;
      if (wasActive) {
        deactivate(rt);
      }
      rt.ep = n;
      rt.uri = URI.create(n.url());
      if (n.enabled() && started) {
        activate(rt);
      }
      return Optional.of(n);
    });
  }

  /**
   * Deletes an endpoint and its cursors; attempts in flight finish.
   *
   * @return whether it existed
   */
  public boolean delete(String id) {
    return call(() -> {
      Runtime rt = runtimes.remove(id);
      if (rt == null) {
        return false;
      }
      deactivate(rt);
      for (Lane l : new ArrayList<>(rt.lanes.values())) {
        removeLane(l);
      }
      logs.remove(id);
      store.delete(id);
      return true;
    });
  }

  /**
   * Rotates an endpoint's secret and returns the new one. Standard Webhooks: the new secret signs at
   * once, beside the previous ones until {@code overlap} has passed (both signatures in every
   * delivery: receivers holding either verify). GitHub and Stripe style carry one signature: the
   * previous secret goes on signing until {@code overlap} has passed and the new one signs from
   * then on (a scheduled switch; the receiver accepts both meanwhile, then drops the old one).
   *
   * @param overlap how long both are valid (null: the builder's {@code rotationOverlap}, default 24 h)
   * @return the new secret and its schedule, or empty when there is no such endpoint
   * @throws IllegalArgumentException for a negative overlap
   */
  public Optional<Rotation> rotateSecret(String id, Duration overlap) {
    Duration o = overlap == null ? rotationOverlap : overlap;
    if (o.isNegative()) {
      throw invalid("overlap must not be negative: " + o);
    }
    String secret = newSecret();
    return call(() -> {
      Runtime rt = runtimes.get(id);
      if (rt == null) {
        return Optional.empty();
      }
      Instant now = clock.instant();
      Instant switchAt = now.plus(o);
      Instant from = rt.ep.scheme().multiSignature() ? now.minusSeconds(1) : switchAt;
      List<Endpoint.Secret> secrets = new ArrayList<>();
      for (Endpoint.Secret s : rt.ep.secrets()) {
        if (s.expires() == null || s.expires().isAfter(now)) {
          Instant exp = s.expires() == null || s.expires().isAfter(switchAt) ? switchAt : s.expires();
          secrets.add(new Endpoint.Secret(s.value(), s.activeFrom(), exp));
        }
      }
      secrets.add(new Endpoint.Secret(secret, from, null));
      while (secrets.size() > MAX_SECRETS) {
        secrets.remove(0);
      }
      Endpoint n = rt.ep.withSecrets(secrets);
      store.save(n);
      rt.ep = n;
      if (rt.active) {
        registerSigner(rt);
      }
      return Optional.of(new Rotation(secret, from, switchAt));
    });
  }

  /**
   * Delivers an endpoint's messages again, from the one after {@code afterId} on {@code topic} (its
   * cursor is set there; deliveries in flight finish).
   *
   * @param topic one of the endpoint's topics; may be null when it has only one
   * @return false when there is no such endpoint
   * @throws WebhookRegistrationException {@value #INVALID_ENDPOINT} for a topic it does not have or a malformed id
   */
  public boolean replay(String id, String topic, String afterId) {
    if (afterId == null || !isValidId(afterId)) {
      throw invalid("\"afterId\" must be a message id: 1-" + Topics.MAX_ID_LENGTH + " visible ASCII characters");
    }
    return call(() -> {
      Runtime rt = runtimes.get(id);
      if (rt == null) {
        return false;
      }
      Lane l = laneFor(rt, topic);
      l.cursor = afterId;
      l.dirty = true;
      reset(l);
      pump(l);
      return true;
    });
  }

  /**
   * Delivers again every message of the endpoint's topics published at or after {@code since} (as
   * far as history reaches back).
   *
   * @return the new cursors (topic → id), or empty when there is no such endpoint
   */
  public Optional<Map<String, String>> replaySince(String id, Instant since) {
    Objects.requireNonNull(since, "since");
    Runtime rt0 = call(() -> runtimes.get(id));
    if (rt0 == null) {
      return Optional.empty();
    }
    Map<String, String> positions = new LinkedHashMap<>();
    for (String t : rt0.ep.topics()) {
      positions.put(t, positionBefore(t, since));
    }
    return call(() -> {
      Runtime rt = runtimes.get(id);
      if (rt == null) {
        return Optional.empty();
      }
      for (Map.Entry<String, String> p : positions.entrySet()) {
        Lane l = rt.lanes.get(p.getKey());
        if (l != null) {
          l.cursor = p.getValue();
          l.dirty = true;
          reset(l);
          pump(l);
        }
      }
      return Optional.of(positions);
    });
  }

  /**
   * Sends a {@value #TEST_EVENT} event to an endpoint now (outside its topics' order; the attempts
   * show how it went).
   *
   * @return the delivery id, or empty when there is no such endpoint
   * @throws IllegalStateException when the endpoint is disabled
   */
  public Optional<String> testSend(String id) {
    return call(() -> {
      Runtime rt = runtimes.get(id);
      if (rt == null) {
        return Optional.empty();
      }
      if (!rt.active) {
        throw new IllegalStateException("endpoint " + id + " is disabled; enable it first");
      }
      String did = "test_" + UUID.randomUUID().toString().replace("-", "");
      byte[] body = event(TEST_EVENT, did, null, g -> g.writeStringField("endpoint", id));
      Instant now = clock.instant();
      sender.send(new Delivery(did, id, rt.uri, body, "application/json", now, 0, now, null));
      return Optional.of(did);
    });
  }

  /**
   * The endpoint's recent attempts, newest first (kept per endpoint: the builder's
   * {@code maxAttemptsPerEndpoint} and {@code maxAttemptBytesPerEndpoint}).
   *
   * @return empty when there is no such endpoint
   */
  public Optional<List<AttemptRecord>> attempts(String id, int limit) {
    AttemptLog l = logs.get(id);
    return l == null ? Optional.empty() : Optional.of(l.newest(Math.max(0, limit)));
  }

  /** Estimated bytes the attempt logs hold, over all endpoints. */
  public long attemptLogBytes() {
    long n = 0;
    for (AttemptLog l : logs.values()) {
      n += l.bytes();
    }
    return n;
  }

  /** Deliveries being attempted or waiting for a retry, over all endpoints. */
  public int pendingDeliveries() {
    return deliveries.pendingCount();
  }

  // ---- dispatcher ----

  private void addLane(Runtime rt, String topic, String cursor) {
    Lane l = new Lane(rt, topic, cursor);
    rt.lanes.put(topic, l);
    Feed f = feeds.computeIfAbsent(topic, Feed::new);
    f.lanes.add(l);
    if (f.subscription == null) {
      subscribe(f);
    }
  }

  private void removeLane(Lane l) {
    if (l == null) {
      return;
    }
    reset(l);
    l.rt.lanes.remove(l.topic);
    Feed f = feeds.get(l.topic);
    if (f != null) {
      f.lanes.remove(l);
      if (f.lanes.isEmpty()) {
        feeds.remove(l.topic);
        closeQuietly(f.subscription);
      }
    }
  }

  private void subscribe(Feed f) {
    try {
      f.subscription = broker.subscribe(f.topic, m -> {
        if (f.notifyPending.compareAndSet(false, true)) {
          execute(() -> woken(f));
        }
      });
    } catch (RuntimeException e) {
      log.warn("webhook subscriptions: cannot subscribe to {} ({}); retrying in 1 s", f.topic, e.getMessage());
      if (!f.retryScheduled) {
        f.retryScheduled = true;
        schedule(() -> {
          f.retryScheduled = false;
          if (feeds.get(f.topic) == f && f.subscription == null) {
            subscribe(f);
            woken(f);
          }
        }, 1000);
      }
    }
  }

  private void woken(Feed f) {
    f.notifyPending.set(false);
    for (Lane l : f.lanes) {
      l.caughtUp = false;
      if (l.reading) {
        l.wake = true;
      } else {
        pump(l);
      }
    }
  }

  private void activate(Runtime rt) {
    registerSigner(rt);
    rt.active = true;
    for (Lane l : rt.lanes.values()) {
      reset(l);
      pump(l);
    }
  }

  private void registerSigner(Runtime rt) {
    Instant now = clock.instant();
    sender.register(rt.ep.id(), rt.uri, rt.ep.signer(now));
    rt.nextSecretChange = rt.ep.nextSecretChange(now);
  }

  private void deactivate(Runtime rt) {
    rt.active = false;
    sender.unregister(rt.ep.id());
    deliveries.purge(rt.ep.id());
    for (Lane l : rt.lanes.values()) {
      reset(l);
    }
    flush(rt);
  }

  /** Forgets what was read ahead and in flight; reading starts again at the cursor. */
  private void reset(Lane l) {
    l.generation++;
    l.buffer.clear();
    for (Pending p : l.window) {
      l.rt.inflight.remove(p.item.deliveryId(), l);
      releaseSlot(p);
    }
    l.window.clear();
    l.readPos = l.cursor;
    l.reading = false;
    l.caughtUp = false;
    l.wake = false;
  }

  private void autoDisable(String endpointId, String reason) {
    Runtime rt = runtimes.get(endpointId);
    if (rt == null || !rt.ep.enabled()) {
      return;
    }
    Endpoint n = rt.ep.withEnabled(false, reason);
    try {
      store.save(n);
    } catch (RuntimeException e) {
      log.warn("webhook endpoint {}: storing that it is disabled failed", endpointId, e);
    }
    rt.ep = n;
    deactivate(rt);
  }

  private void pump(Lane l) {
    Runtime rt = l.rt;
    if (!rt.active || closed || rt.lanes.get(l.topic) != l) {
      return;
    }
    if (l.cursor == null) {
      if (!l.reading) {
        startAtNewest(l);
      }
      return;
    }
    while (l.window.size() < rt.ep.maxInFlight() && !l.buffer.isEmpty()) {
      Item it = l.buffer.peek();
      if (rt.inflight.containsKey(it.deliveryId())) {
        l.blocked = true; // the same id on another topic is in flight: the store keys by it
        return;
      }
      if (attemptsInFlight >= maxAttemptsInFlight) {
        if (!l.starved) {
          l.starved = true;
          starved.addLast(l); // served in turn as attempts end: a backlog cannot crowd out the others
        }
        return;
      }
      if (!takeToken(rt)) {
        return;
      }
      l.buffer.poll();
      send(rt, l, it);
    }
    if (l.buffer.isEmpty() && !l.reading && !l.caughtUp) {
      read(l);
    }
  }

  private boolean takeToken(Runtime rt) {
    int rate = rt.ep.rateLimit();
    if (rate <= 0) {
      return true;
    }
    long now = System.nanoTime();
    rt.tokens = Math.min(rate, rt.tokens + (now - rt.refilledAt) / 1e9 * rate);
    rt.refilledAt = now;
    if (rt.tokens >= 1) {
      rt.tokens -= 1;
      return true;
    }
    if (!rt.pumpScheduled) {
      rt.pumpScheduled = true;
      long waitMs = Math.max(1, (long) Math.ceil((1 - rt.tokens) / rate * 1000));
      schedule(() -> {
        rt.pumpScheduled = false;
        for (Lane l : new ArrayList<>(rt.lanes.values())) {
          pump(l);
        }
      }, waitMs);
    }
    return false;
  }

  private void send(Runtime rt, Lane l, Item it) {
    Pending p = new Pending(it);
    p.holdsSlot = true;
    attemptsInFlight++;
    l.window.addLast(p);
    rt.inflight.put(it.deliveryId(), l);
    Instant now = clock.instant();
    sender.send(new Delivery(it.deliveryId(), rt.ep.id(), rt.uri, it.body(), "application/json", now, 0, now, null));
  }

  private void startAtNewest(Lane l) {
    l.reading = true;
    int gen = l.generation;
    history(l.topic, null, 0, (h, err) -> {
      if (stale(l, gen)) {
        return;
      }
      l.reading = false;
      if (err != null) {
        retryLater(l, err);
        return;
      }
      l.cursor = h.latestId() == null ? "" : h.latestId();
      l.readPos = l.cursor;
      l.dirty = true;
      flush(l.rt);
      pump(l);
    });
  }

  private void read(Lane l) {
    l.reading = true;
    l.wake = false;
    int gen = l.generation;
    String after = l.readPos.isEmpty() ? null : l.readPos;
    history(l.topic, after, historyBatch, (h, err) -> {
      if (stale(l, gen)) {
        return;
      }
      l.reading = false;
      if (err != null) {
        retryLater(l, err);
        return;
      }
      List<Message> ms = h.messages();
      if (after != null && !h.recovered()) {
        String pos = ms.isEmpty() ? (h.latestId() == null ? "" : h.latestId()) : null;
        String first = ms.isEmpty() ? null : ms.get(0).id();
        String gapId = gapId(l.rt.ep.id(), l.topic, after);
        byte[] body = event(HISTORY_GAP, gapId, l.topic, g -> {
          g.writeStringField("topic", l.topic);
          g.writeStringField("afterId", after);
          if (first == null) {
            g.writeNullField("firstId");
          } else {
            g.writeStringField("firstId", first);
          }
        });
        l.buffer.add(new Item(gapId, l.topic, body, pos != null, pos));
        if (pos != null) {
          l.readPos = pos;
        }
        log.debug("webhook endpoint {}: history no longer reaches back to {} on {}", l.rt.ep.id(), after, l.topic);
      }
      for (Message m : ms) {
        l.buffer.add(new Item(m.id(), l.topic, payload(m), true, m.id()));
        l.readPos = m.id();
      }
      l.caughtUp = ms.size() < historyBatch && !l.wake;
      l.wake = false;
      pump(l);
    });
  }

  private boolean stale(Lane l, int gen) {
    return closed || l.generation != gen || l.rt.lanes.get(l.topic) != l || runtimes.get(l.rt.ep.id()) != l.rt;
  }

  private void retryLater(Lane l, Throwable err) {
    log.warn("webhook subscriptions: reading {} failed ({}); retrying in 1 s", l.topic, err.getMessage());
    if (!l.retryScheduled) {
      l.retryScheduled = true;
      schedule(() -> {
        l.retryScheduled = false;
        pump(l);
      }, 1000);
    }
  }

  private interface HistoryCallback {
    void done(Broker.History h, Throwable err);
  }

  private void history(String topic, String after, int limit, HistoryCallback cb) {
    CompletableFuture<Broker.History> f;
    try {
      f = broker.history(topic, after, limit).toCompletableFuture();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    if (f.isDone() && !f.isCompletedExceptionally()) { // the in-memory broker answers at once: no hand-off
      cb.done(f.getNow(null), null);
      return;
    }
    f.whenComplete((h, err) -> execute(() -> cb.done(h, err)));
  }

  /** An attempt finished (any thread). */
  private void attempted(WebhookSender.Attempt a) {
    AttemptLog log = logs.get(a.endpointId());
    String outcome = a.outcome() == WebhookSender.Outcome.DELIVERED ? "delivered"
        : a.outcome() == WebhookSender.Outcome.RETRY ? "retry" : "failed";
    if (log != null) {
      String error = a.error();
      if (error != null && error.length() > 300) {
        error = error.substring(0, 300) + "…";
      }
      log.add(new AttemptRecord(a.deliveryId(), a.attempt(), a.time(), a.status(),
          a.latency() == null ? 0 : a.latency().toMillis(), error, outcome, a.responseExcerpt()));
    }
    if (a.outcome() != WebhookSender.Outcome.RETRY) {
      execute(() -> finished(a.endpointId(), a.deliveryId()));
    } else {
      execute(() -> retrying(a.endpointId(), a.deliveryId()));
    }
  }

  /** A first attempt failed and waits for its retry: its slot goes to another lane meanwhile. */
  private void retrying(String endpointId, String deliveryId) {
    Runtime rt = runtimes.get(endpointId);
    Lane l = rt == null ? null : rt.inflight.get(deliveryId);
    if (l != null) {
      for (Pending p : l.window) {
        if (p.item.deliveryId().equals(deliveryId)) {
          releaseSlot(p);
        }
      }
    }
    serveStarved();
  }

  private void releaseSlot(Pending p) {
    if (p.holdsSlot) {
      p.holdsSlot = false;
      attemptsInFlight--;
    }
  }

  private void serveStarved() {
    while (attemptsInFlight < maxAttemptsInFlight && !starved.isEmpty()) {
      Lane l = starved.pollFirst();
      l.starved = false;
      pump(l);
    }
  }

  private void finished(String endpointId, String deliveryId) {
    Runtime rt = runtimes.get(endpointId);
    if (rt == null || !rt.active) {
      return;
    }
    Lane l = rt.inflight.remove(deliveryId);
    if (l == null) {
      return;
    }
    for (Pending p : l.window) {
      if (p.item.deliveryId().equals(deliveryId)) {
        p.done = true;
        releaseSlot(p);
        break;
      }
    }
    while (!l.window.isEmpty() && l.window.peekFirst().done) {
      Item it = l.window.pollFirst().item;
      if (it.movesCursor()) {
        l.cursor = it.cursorAfter();
        l.dirty = true;
      }
    }
    serveStarved();
    pump(l);
    for (Lane other : rt.lanes.values()) {
      if (other.blocked) {
        other.blocked = false;
        pump(other);
      }
    }
  }

  private void rotateSigners() {
    Instant now = clock.instant();
    for (Runtime rt : runtimes.values()) {
      if (rt.active && rt.nextSecretChange != null && !now.isBefore(rt.nextSecretChange)) {
        try {
          registerSigner(rt);
        } catch (RuntimeException e) {
          log.warn("webhook endpoint {}: {}", rt.ep.id(), e.getMessage());
        }
      }
    }
  }

  private void flushQuietly() {
    for (Runtime rt : runtimes.values()) {
      flush(rt);
    }
  }

  private void flush(Runtime rt) {
    Map<String, String> dirty = new LinkedHashMap<>();
    for (Lane l : rt.lanes.values()) {
      if (l.dirty && l.cursor != null) {
        dirty.put(l.topic, l.cursor);
      }
    }
    if (dirty.isEmpty()) {
      return;
    }
    try {
      store.saveCursors(rt.ep.id(), dirty);
      for (Lane l : rt.lanes.values()) {
        if (l.cursor != null && l.cursor.equals(dirty.get(l.topic))) {
          l.dirty = false;
        }
      }
    } catch (RuntimeException e) {
      log.warn("webhook endpoint {}: saving cursors failed ({}); retrying", rt.ep.id(), e.getMessage());
    }
  }

  // ---- helpers ----

  private Lane laneFor(Runtime rt, String topic) {
    if (topic == null) {
      if (rt.lanes.size() != 1) {
        throw invalid("\"topic\" is required: the endpoint has several topics");
      }
      return rt.lanes.values().iterator().next();
    }
    Lane l = rt.lanes.get(topic);
    if (l == null) {
      throw invalid("the endpoint does not subscribe to '" + printable(topic) + "'");
    }
    return l;
  }

  /** Each topic's newest id now ("" when it has none). */
  private Map<String, String> startPositions(List<String> topics) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String t : topics) {
      Broker.History h = await(broker.history(t, null, 0).toCompletableFuture());
      out.put(t, h.latestId() == null ? "" : h.latestId());
    }
    return out;
  }

  /** The id of the last message before {@code since} on a topic ("" when none is). */
  private String positionBefore(String topic, Instant since) {
    String pos = "";
    String after = null;
    while (true) {
      Broker.History h = await(broker.history(topic, after, 500).toCompletableFuture());
      for (Message m : h.messages()) {
        if (!m.time().isBefore(since)) {
          return pos;
        }
        pos = m.id();
      }
      if (h.messages().size() < 500) {
        return pos;
      }
      after = pos;
    }
  }

  private static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException ? (RuntimeException) e.getCause() : new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the broker did not answer within 30 s", e);
    }
  }

  private List<String> checkTopics(List<String> topics) {
    if (topics.isEmpty()) {
      throw invalid("\"topics\" must not be empty");
    }
    limits.checkTopics(topics.size());
    Set<String> out = new LinkedHashSet<>();
    for (String t : topics) {
      if (t == null || !Topics.isValid(t)) {
        throw invalid("invalid topic '" + printable(t) + "': 1-" + Topics.MAX_LENGTH + " characters of A-Z a-z 0-9 . _ - :");
      }
      out.add(t);
    }
    return List.copyOf(out);
  }

  private static Endpoint.SignatureScheme scheme(String s) {
    try {
      return Endpoint.SignatureScheme.of(s);
    } catch (IllegalArgumentException e) {
      throw invalid("unknown scheme '" + printable(s) + "'; use standard-webhooks, github or stripe");
    }
  }

  private static int checkRate(int r) {
    if (r < 0 || r > 100_000) {
      throw invalid("\"rateLimit\" must be 0 (none) to 100000 deliveries per second: " + r);
    }
    return r;
  }

  private static int checkInFlight(int n) {
    if (n < 1 || n > 64) {
      throw invalid("\"maxInFlight\" must be 1 to 64: " + n);
    }
    return n;
  }

  private static Map<String, String> checkMetadata(Map<String, String> m) {
    if (m.size() > MAX_METADATA_ENTRIES) {
      throw invalid("\"metadata\" may have at most " + MAX_METADATA_ENTRIES + " entries, not " + m.size());
    }
    for (Map.Entry<String, String> e : m.entrySet()) {
      if (e.getKey() == null || e.getKey().isEmpty() || e.getKey().length() > 64 || e.getValue() == null
          || e.getValue().length() > 512) {
        throw invalid("\"metadata\" keys must be 1-64 characters and values strings of at most 512");
      }
    }
    return new LinkedHashMap<>(m);
  }

  private static boolean isValidId(String id) {
    return !id.isEmpty() && id.length() <= Topics.MAX_ID_LENGTH && id.chars().allMatch(c -> c > 0x20 && c < 0x7f);
  }

  private static WebhookRegistrationException invalid(String message) {
    return new WebhookRegistrationException(400, INVALID_ENDPOINT, message);
  }

  private static String printable(String s) {
    if (s == null) {
      return "null";
    }
    String p = s.replaceAll("\\p{Cntrl}", "?");
    return p.length() > 64 ? p.substring(0, 64) + "…" : p;
  }

  private String newSecret() {
    byte[] key = new byte[24];
    random.nextBytes(key);
    return "whsec_" + Base64.getEncoder().encodeToString(key);
  }

  private static String gapId(String endpointId, String topic, String after) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest((endpointId + "\n" + topic + "\n" + after)
          .getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder("gap_");
      for (int i = 0; i < 12; i++) {
        sb.append(String.format("%02x", h[i]));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private interface Fields {
    void write(JsonGenerator g) throws IOException;
  }

  private byte[] event(String type, String id, String topic, Fields data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = EndpointJson.JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("type", type);
      g.writeStringField("timestamp", clock.instant().toString());
      g.writeStringField("id", id);
      if (topic != null) {
        g.writeStringField("topic", topic);
      }
      g.writeObjectFieldStart("data");
      data.write(g);
      g.writeEndObject();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * The body delivered for a message: {@code {"type","timestamp","id","topic","data"}} with
   * {@code type} the topic (and {@code .event} when it has one), {@code data} the JSON payload as
   * is, a text payload as a string, or a binary one as base64 (with {@code "encoding":"base64"}).
   */
  public static byte[] payload(Message m) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = EndpointJson.JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("type", m.event() != null ? m.topic() + "." + m.event() : m.topic());
      g.writeStringField("timestamp", String.valueOf(m.time()));
      g.writeStringField("id", m.id());
      g.writeStringField("topic", m.topic());
      if (m.isJson()) {
        g.writeFieldName("data");
        g.writeRawValue(m.text());
      } else if (m.isText()) {
        g.writeStringField("data", m.text());
      } else {
        g.writeStringField("data", Base64.getEncoder().encodeToString(m.payload()));
        g.writeStringField("encoding", "base64");
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private void execute(Runnable r) {
    schedule(r, 0);
  }

  /** Runs {@code r} on the dispatcher after {@code millis} (0: as soon as it is free); nothing once closed. */
  private void schedule(Runnable r, long millis) {
    Runnable guarded = () -> {
      try {
        r.run();
      } catch (RuntimeException e) {
        log.warn("webhook subscriptions: dispatch failed", e);
      }
    };
    try {
      if (millis <= 0) {
        loop.execute(guarded);
      } else {
        loop.schedule(guarded, millis, TimeUnit.MILLISECONDS);
      }
    } catch (java.util.concurrent.RejectedExecutionException closedNow) {
      // closed: nothing more to do
    }
  }

  private <T> T call(Callable<T> c) {
    if (Thread.currentThread() == loopThread) {
      try {
        return c.call();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    if (closed) {
      throw new IllegalStateException("webhook subscriptions are closed");
    }
    Future<T> f = loop.submit(c);
    try {
      return f.get(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      throw new IllegalStateException(cause);
    } catch (TimeoutException e) {
      throw new IllegalStateException("webhook subscriptions did not answer within 60 s", e);
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception e) {
        log.debug("closing a broker subscription failed", e);
      }
    }
  }

  /**
   * Stops delivering: saves the cursors, closes the broker subscriptions and the sender (attempts in
   * flight finish; their messages are delivered again after a restart, from the cursor).
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    try {
      call(() -> {
        flushQuietly();
        for (Feed f : feeds.values()) {
          closeQuietly(f.subscription);
        }
        feeds.clear();
        return null;
      });
    } catch (RuntimeException e) {
      log.warn("webhook subscriptions: closing cleanly failed", e);
    }
    closed = true;
    loop.shutdownNow();
    sender.close();
  }

  /** Builds {@link WebhookSubscriptions}. Not thread-safe; setters fail fast on bad values. */
  public static final class Builder {
    private final Broker broker;
    private final EndpointStore store;
    private EndpointLimits limits = EndpointLimits.defaults();
    private Clock clock = Clock.systemUTC();
    private int historyBatch = 100;
    private Duration cursorFlushInterval = Duration.ofSeconds(1);
    private Duration rotationOverlap = Duration.ofHours(24);
    private int maxAttempts = 100;
    private int maxAttemptsInFlight = 256;
    private long maxAttemptBytes = 32 * 1024;
    private Consumer<WebhookSender.Builder> senderOptions = b -> { };

    private Builder(Broker broker, EndpointStore store) {
      this.broker = Objects.requireNonNull(broker, "broker");
      this.store = Objects.requireNonNull(store, "store");
    }

    /** Endpoints per owner and topics per endpoint (default {@link EndpointLimits#defaults()}). */
    public Builder limits(EndpointLimits limits) {
      this.limits = Objects.requireNonNull(limits, "limits");
      return this;
    }

    /**
     * The sender's options: retry schedule, timeout, {@code disableAfter} (how long an endpoint may
     * fail before it is disabled; default 5 days), per-endpoint concurrency, {@code targets} /
     * {@code allowPrivateTargets}, TLS. Its store, clock and listener are this object's.
     */
    public Builder sender(Consumer<WebhookSender.Builder> options) {
      this.senderOptions = Objects.requireNonNull(options, "options");
      return this;
    }

    /** Messages read from history at once per endpoint and topic (default 100). */
    public Builder historyBatch(int n) {
      if (n < 1 || n > 10_000) {
        throw new IllegalArgumentException("historyBatch must be 1 to 10000: " + n);
      }
      this.historyBatch = n;
      return this;
    }

    /**
     * How often moved cursors are written to the store (default 1 s); after a crash, at most this
     * much is delivered again.
     */
    public Builder cursorFlushInterval(Duration d) {
      if (d == null || d.toMillis() < 1) {
        throw new IllegalArgumentException("cursorFlushInterval must be at least 1 ms: " + d);
      }
      this.cursorFlushInterval = d;
      return this;
    }

    /** The default overlap of {@link #rotateSecret} (default 24 h). */
    public Builder rotationOverlap(Duration d) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException("rotationOverlap must not be negative: " + d);
      }
      this.rotationOverlap = d;
      return this;
    }

    /** Attempts kept per endpoint for {@link #attempts} (default 100) and their estimated bytes (default 32 KiB). */
    public Builder attemptLog(int maxAttemptsPerEndpoint, long maxAttemptBytesPerEndpoint) {
      if (maxAttemptsPerEndpoint < 1 || maxAttemptBytesPerEndpoint < 1024) {
        throw new IllegalArgumentException("attempt log needs at least 1 attempt and 1024 bytes: "
            + maxAttemptsPerEndpoint + ", " + maxAttemptBytesPerEndpoint);
      }
      this.maxAttempts = maxAttemptsPerEndpoint;
      this.maxAttemptBytes = maxAttemptBytesPerEndpoint;
      return this;
    }

    /**
     * First attempts in flight at once over all endpoints (default 256; each holds a sender thread
     * while it runs). Lanes over it wait their turn; retries are bounded by the sender's
     * per-endpoint concurrency instead.
     */
    public Builder maxAttemptsInFlight(int n) {
      if (n < 1 || n > 10_000) {
        throw new IllegalArgumentException("maxAttemptsInFlight must be 1 to 10000: " + n);
      }
      this.maxAttemptsInFlight = n;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Builds it; {@link WebhookSubscriptions#start()} begins delivering. */
    public WebhookSubscriptions build() {
      return new WebhookSubscriptions(this);
    }
  }
}
