package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Publisher;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.HubAccess;
import java.net.InetSocketAddress;
import java.security.Principal;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server core: topic routing, per-connection bounded outbound queues, history and resume,
 * authentication and authorisation hooks, the slow-consumer policy and graceful shutdown. Transport
 * adapters (servlets, WebSocket endpoints, gRPC services) only translate between their wire format
 * and a Hub.
 *
 * <p>Each node subscribes to its {@link Broker} once per topic that has local subscribers and fans
 * out locally. Build one with {@link #builder()}; share it between all transports of a server.
 *
 * <p>Thread-safe.
 */
public final class Hub implements Publisher, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Hub.class);

  /** Something that receives a topic's live messages (a connection's subscription, a waiting poll). */
  interface Member {
    void deliver(Message m);

    /** {@link #deliver} threw: the member must not stay half-delivered (a connection closes). */
    default void failed(Throwable cause) {
      log.debug("delivering to {} failed", this, cause);
    }
  }

  private final Broker broker;
  private final boolean ownsBroker;
  private final Authenticator authenticator;
  private final Authorizer authorizer;
  private final OriginPolicy originPolicy;
  private final int maxPayloadBytes;
  private final int maxHeaders;
  private final int maxHeaderBytes;
  private final int maxQueuedMessages;
  private final long maxQueuedBytes;
  private final int maxConnections;
  private final int maxSubscriptionsPerConnection;
  private final Duration maxPollWait;
  private final RateLimiter rateLimiter;
  private final ScheduledExecutorService scheduler;
  private final ConcurrentHashMap<String, TopicGroup> groups = new ConcurrentHashMap<>();
  private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
  private final Set<PollWaiter> waiters = ConcurrentHashMap.newKeySet();
  private final AtomicInteger subscribers = new AtomicInteger();
  private final AtomicLong slowConsumerCloses = new AtomicLong();
  private final AtomicLong deliveryFailures = new AtomicLong();
  private final AtomicLong rateLimited = new AtomicLong();
  private final AtomicBoolean running = new AtomicBoolean(true);
  // Counted where the writer takes a delivery: one uncontended cell add per delivery, no allocation.
  private final LongAdder deliveries = new LongAdder();
  private final LongAdder deliveredBytes = new LongAdder();
  private volatile HubListener[] listeners = new HubListener[0];

  private Hub(Builder b) {
    this.broker = b.broker != null ? b.broker : new InMemoryBroker();
    this.ownsBroker = b.broker == null;
    this.authenticator = b.authenticator;
    this.authorizer = b.authorizer;
    this.originPolicy = b.originPolicy;
    this.maxPayloadBytes = b.maxPayloadBytes;
    this.maxHeaders = b.maxHeaders;
    this.maxHeaderBytes = b.maxHeaderBytes;
    this.maxQueuedMessages = b.maxQueuedMessages;
    this.maxQueuedBytes = b.maxQueuedBytes;
    this.maxConnections = b.maxConnections;
    this.maxSubscriptionsPerConnection = b.maxSubscriptionsPerConnection;
    this.maxPollWait = b.maxPollWait;
    this.rateLimiter = new RateLimiter(b.publishRatePerConnection, b.publishRatePerPrincipal,
        b.maxRateLimitedPrincipals, System::nanoTime);
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "switchboard-hub-timer");
      t.setDaemon(true);
      return t;
    });
    // A long poll answered early cancels its timeout: drop it from the queue at once rather than
    // keeping thousands of dead tasks until they expire.
    timer.setRemoveOnCancelPolicy(true);
    this.scheduler = timer;
    if (!b.publishRatePerPrincipal.isUnlimited()) {
      // Buckets of quiet principals are full again: drop them, so the map holds only recent ones.
      timer.scheduleWithFixedDelay(rateLimiter::sweepIdle, 1, 1, TimeUnit.MINUTES);
    }
  }

  /** Default of {@link Builder#publishRatePerConnection}: 1,000 per second, burst 2,000. */
  public static final RateLimit DEFAULT_PUBLISH_RATE_PER_CONNECTION = RateLimit.perSecond(1_000).withBurst(2_000);
  /** Default of {@link Builder#publishRatePerPrincipal}: 5,000 per second, burst 10,000. */
  public static final RateLimit DEFAULT_PUBLISH_RATE_PER_PRINCIPAL = RateLimit.perSecond(5_000).withBurst(10_000);

  public static Builder builder() {
    return new Builder();
  }

  /** The broker behind this hub. */
  public Broker broker() {
    return broker;
  }

  /** Which origins and hosts the transports serve (default {@link OriginPolicy#sameOrigin()}). */
  public OriginPolicy originPolicy() {
    return originPolicy;
  }

  /** The largest accepted payload in bytes (default 1 MiB). */
  public int maxPayloadBytes() {
    return maxPayloadBytes;
  }

  /** The longest accepted long-poll wait (default 60 s). */
  public Duration maxPollWait() {
    return maxPollWait;
  }

  static {
    HubAccess.lend(Hub::scheduler);
  }

  /**
   * A shared timer thread for heartbeats and timeouts; tasks must be short and non-blocking. Not
   * public: the transports reach it through {@link HubAccess}.
   */
  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  public boolean isRunning() {
    return running.get();
  }

  /**
   * Runs the {@link Authenticator}.
   *
   * @throws SwitchboardException UNAUTHENTICATED (or whatever the authenticator threw); UNAVAILABLE
   *     after shutdown
   */
  public Principal authenticate(Handshake handshake) {
    requireRunning();
    Principal p;
    try {
      p = authenticator.authenticate(handshake);
    } catch (SwitchboardException e) {
      refused(handshake.transport(), e.status());
      throw e;
    } catch (RuntimeException e) {
      log.warn("authenticator threw for {}", handshake, e);
      refused(handshake.transport(), Status.UNAUTHENTICATED);
      throw new SwitchboardException(Status.UNAUTHENTICATED, "authentication failed", e);
    }
    if (p == null) {
      refused(handshake.transport(), Status.UNAUTHENTICATED);
      throw new SwitchboardException(Status.UNAUTHENTICATED, "authentication failed");
    }
    return p;
  }

  /**
   * Runs the {@link Authorizer}.
   *
   * @param transport the transport asking ({@code http}, {@code sse}, …), the tag of the refusal
   *     {@link HubListener}s see
   * @throws SwitchboardException PERMISSION_DENIED naming the principal, action and topic
   */
  public void authorize(String transport, Principal principal, String topic, Authorizer.Action action) {
    if (!authorizer.isAllowed(principal, topic, action)) {
      refused(transport, Status.PERMISSION_DENIED);
      throw new SwitchboardException(Status.PERMISSION_DENIED, principal.getName() + " may not "
          + action.name().toLowerCase(java.util.Locale.ROOT) + " on topic " + topic);
    }
  }

  /** Publishes as the server itself (no authorisation). See {@link Publisher#publish}. */
  @Override
  public CompletionStage<Message> publish(Message draft) {
    return publish(draft, HubListener.SERVER);
  }

  /**
   * Publishes on behalf of a client whose transport and address are unknown; see
   * {@link #publish(String, Principal, InetSocketAddress, Message)}.
   */
  public CompletionStage<Message> publish(Principal principal, Message draft) {
    return publish(UNKNOWN_TRANSPORT, principal, null, draft);
  }

  /**
   * Publishes on behalf of a client's request that belongs to no {@link Connection} (a REST
   * request, a gRPC {@code Publish} or {@code PublishStream}): the principal's publish rate limit
   * ({@link Builder#publishRatePerPrincipal}) applies, then the {@link Authorizer}, then the
   * {@link #publish(Message) publishing rules}. Publishes over a connection go through
   * {@link Connection#publish}, which also applies the connection's own limit.
   *
   * @param transport the transport the request came over ({@code http}, {@code grpc}, …): the tag
   *     {@link HubListener}s see
   * @param remoteAddress the client's address, which keys the rate limit of
   *     {@link Authenticator#ANONYMOUS} clients; null when unknown (anonymous clients are then not
   *     limited per principal)
   * @return the stored message, or failed with a SwitchboardException: TOO_MANY_REQUESTS (with a
   *     retry hint) over the rate limit, PERMISSION_DENIED, or as {@link #publish(Message)}
   */
  public CompletionStage<Message> publish(String transport, Principal principal, InetSocketAddress remoteAddress,
      Message draft) {
    Objects.requireNonNull(transport, "transport");
    try {
      checkPublishRate(transport, null, rateLimiter.principalKey(principal, remoteAddress));
    } catch (SwitchboardException e) {
      return CompletableFuture.failedFuture(e);
    }
    return publishAuthorized(transport, principal, draft);
  }

  /** A connection's publish: its own bucket and its principal's (see {@link Connection#publish}). */
  CompletionStage<Message> publish(Connection connection, RateLimiter.Bucket bucket, Object principalKey,
      Message draft) {
    try {
      checkPublishRate(connection.transport(), bucket, principalKey);
    } catch (SwitchboardException e) {
      return CompletableFuture.failedFuture(e);
    }
    return publishAuthorized(connection.transport(), connection.principal(), draft);
  }

  private CompletionStage<Message> publishAuthorized(String transport, Principal principal, Message draft) {
    try {
      authorize(transport, principal, draft.topic(), Authorizer.Action.PUBLISH);
    } catch (SwitchboardException e) {
      published(transport, e.status(), -1);
      return CompletableFuture.failedFuture(e);
    }
    return publish(draft, transport);
  }

  private CompletionStage<Message> publish(Message draft, String transport) {
    try {
      requireRunning();
      PublishRules.check(draft, maxPayloadBytes, maxHeaders, maxHeaderBytes);
    } catch (SwitchboardException e) {
      published(transport, e.status(), -1);
      return CompletableFuture.failedFuture(e);
    }
    if (listeners.length == 0) {
      return broker.publish(draft);
    }
    long start = System.nanoTime();
    return broker.publish(draft).whenComplete((m, err) -> published(transport,
        err == null ? null : SwitchboardException.from(err).status(), System.nanoTime() - start));
  }

  /**
   * Takes a permit from the connection's bucket (if any) and the principal's (if any); a permit
   * taken from the first is given back when the second refuses.
   *
   * @throws SwitchboardException TOO_MANY_REQUESTS, from {@link #rateLimited}
   */
  private void checkPublishRate(String transport, RateLimiter.Bucket connection, Object principalKey) {
    if (connection == null && principalKey == null) {
      return;
    }
    long now = rateLimiter.now();
    if (connection != null) {
      long wait = rateLimiter.acquire(connection, now);
      if (wait > 0) {
        throw rateLimited(transport, "this connection", rateLimiter.perConnection(), wait);
      }
    }
    if (principalKey != null) {
      long wait = rateLimiter.acquire(principalKey, now);
      if (wait > 0) {
        if (connection != null) {
          rateLimiter.refund(connection);
        }
        String scope = principalKey instanceof String ? "this principal" : "this address";
        throw rateLimited(transport, scope, rateLimiter.perPrincipal(), wait);
      }
    }
  }

  /**
   * Every rate-limit refusal goes through here (one place to count them): TOO_MANY_REQUESTS
   * ({@code too_many_requests}) with the wait rounded up to whole seconds as the retry hint.
   */
  private SwitchboardException rateLimited(String transport, String scope, RateLimit limit, long waitNanos) {
    rateLimited.incrementAndGet();
    refused(transport, Status.TOO_MANY_REQUESTS);
    long seconds = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    return new SwitchboardException(Status.TOO_MANY_REQUESTS, Status.TOO_MANY_REQUESTS.code(),
        "publish rate limit of " + scope + " (" + limit + ") reached; retry in " + seconds + " s",
        Duration.ofSeconds(seconds), null);
  }

  /**
   * Registers a connected client.
   *
   * @throws SwitchboardException UNAVAILABLE (with a retry hint) when shut down or at the connection
   *     limit
   */
  public Connection connect(Principal principal, String transport, Connection.Sink sink) {
    return connect(principal, null, transport, sink);
  }

  /**
   * Registers a connected client whose address is known (it keys the publish rate limit of
   * {@link Authenticator#ANONYMOUS} clients; see {@link Connection#publish}).
   *
   * @param remoteAddress the client's address, or null when unknown
   * @throws SwitchboardException UNAVAILABLE (with a retry hint) when shut down or at the connection
   *     limit
   */
  public Connection connect(Principal principal, InetSocketAddress remoteAddress, String transport,
      Connection.Sink sink) {
    try {
      requireRunning();
      requireCapacity();
    } catch (SwitchboardException e) {
      refused(transport, e.status());
      throw e;
    }
    Objects.requireNonNull(principal, "principal");
    Connection c = new Connection(this, principal, transport, Objects.requireNonNull(sink, "sink"),
        maxQueuedMessages, maxQueuedBytes, maxSubscriptionsPerConnection, rateLimiter.newConnectionBucket(),
        rateLimiter.principalKey(principal, remoteAddress));
    connections.add(c);
    if (!running.get()) {
      // Shutdown raced with us: do not leave a connection it did not see.
      c.close(Status.UNAVAILABLE, "server shutting down");
    }
    return c;
  }

  /**
   * Reads history and, when there is nothing new and {@code wait} is positive, waits up to
   * {@code wait} for a message (long polling). Stateless: any node can answer any poll.
   *
   * @param afterId resume point, or null for the oldest retained message onwards
   * @return the page (empty after the wait expired), or failed with a SwitchboardException
   */
  public CompletionStage<Broker.History> poll(
      Principal principal, String topic, String afterId, int limit, Duration wait) {
    try {
      requireRunning();
      Topics.requireValid(topic);
      Topics.requireValidId(afterId);
      authorize("longpoll", principal, topic, Authorizer.Action.SUBSCRIBE);
      if (wait.isNegative() || wait.compareTo(maxPollWait) > 0) {
        throw new SwitchboardException(Status.INVALID_ARGUMENT, "wait must be between 0 and "
            + maxPollWait.toSeconds() + " seconds");
      }
      if (wait.isZero() || limit == 0) {
        return broker.history(topic, afterId, limit);
      }
      try {
        requireCapacity();
      } catch (SwitchboardException e) {
        refused("longpoll", e.status());
        throw e;
      }
    } catch (SwitchboardException e) {
      return CompletableFuture.failedFuture(e);
    }
    PollWaiter w = new PollWaiter(topic, afterId, limit);
    return w.start(wait);
  }

  /**
   * One message by id.
   *
   * @return failed with NOT_FOUND when unknown or evicted
   */
  public CompletionStage<Message> message(Principal principal, String topic, String id) {
    try {
      requireRunning();
      Topics.requireValid(topic);
      authorize("http", principal, topic, Authorizer.Action.SUBSCRIBE);
    } catch (SwitchboardException e) {
      return CompletableFuture.failedFuture(e);
    }
    return broker.get(topic, id).thenApply((Optional<Message> m) -> m.orElseThrow(() ->
        new SwitchboardException(Status.NOT_FOUND, "no message " + id + " in topic " + topic
            + " (unknown or evicted from history)")));
  }

  /** Topic subscriptions of connected clients plus waiting long polls, on this node. */
  public int subscriberCount() {
    return subscribers.get() + waiters.size();
  }

  /** Connected clients (SSE streams, WebSocket sessions, …) on this node. */
  public int connectionCount() {
    return connections.size();
  }

  /** Topics with at least one local subscriber or waiting poll, on this node. */
  public int topicCount() {
    return groups.size();
  }

  /** Connected clients of one transport ({@code sse}, {@code ws}, {@code grpc}, …) on this node. */
  public int connectionCount(String transport) {
    int n = 0;
    for (Connection c : connections) {
      if (c.transport().equals(transport)) {
        n++;
      }
    }
    return n;
  }

  /** Long polls waiting for a message on this node. */
  public int waitingPollCount() {
    return waiters.size();
  }

  /** Messages handed to connections' writers since start (one per subscriber a message reached). */
  public long deliveries() {
    return deliveries.sum();
  }

  /** Payload bytes of {@link #deliveries()} since start. */
  public long deliveredBytes() {
    return deliveredBytes.sum();
  }

  /**
   * Adds a listener for publishes, refusals and resumes (see {@link HubListener}). Thread-safe;
   * meant to be called once at start-up.
   */
  public synchronized void addListener(HubListener listener) {
    Objects.requireNonNull(listener, "listener");
    HubListener[] now = listeners;
    HubListener[] next = java.util.Arrays.copyOf(now, now.length + 1);
    next[now.length] = listener;
    listeners = next;
  }

  /** Removes a listener added with {@link #addListener}; returns whether it was there. */
  public synchronized boolean removeListener(HubListener listener) {
    List<HubListener> now = new java.util.ArrayList<>(List.of(listeners));
    boolean removed = now.remove(listener);
    listeners = now.toArray(new HubListener[0]);
    return removed;
  }

  /** How many connections were closed as slow consumers since start. */
  public long slowConsumerDisconnects() {
    return slowConsumerCloses.get();
  }

  /**
   * How many connections were closed with INTERNAL since start because delivering to them threw (a
   * transport's sink or encoder failing). Other subscribers and the publisher are never affected; a
   * client that merely went away is not counted here.
   */
  public long deliveryFailures() {
    return deliveryFailures.get();
  }

  /** How many publishes were refused since start because a publish rate limit was reached. */
  public long rateLimitedPublishes() {
    return rateLimited.get();
  }

  /** Principals (and anonymous addresses) whose publish rate is being tracked now. */
  int rateLimitedPrincipalsTracked() {
    return rateLimiter.trackedPrincipals();
  }

  /** Closes every connection with the given status (clients reconnect and resume). */
  public void disconnectAll(Status status, String reason) {
    for (Connection c : List.copyOf(connections)) {
      c.close(status, reason);
    }
    for (PollWaiter w : List.copyOf(waiters)) {
      w.fail(new SwitchboardException(status, reason));
    }
  }

  /**
   * Stops accepting work, closes every connection with UNAVAILABLE ("server shutting down": clients
   * reconnect with backoff) and fails waiting polls. Closes the broker if the hub created it.
   * Idempotent.
   */
  public void shutdown() {
    if (running.compareAndSet(true, false)) {
      disconnectAll(Status.UNAVAILABLE, "server shutting down");
      scheduler.shutdownNow();
      if (ownsBroker) {
        broker.close();
      }
    }
  }

  /** Same as {@link #shutdown()}. */
  @Override
  public void close() {
    shutdown();
  }

  // ---- package-private plumbing for Connection ----

  void join(String topic, Member m) {
    while (true) {
      TopicGroup g = groups.computeIfAbsent(topic, TopicGroup::new);
      synchronized (g) {
        if (g.dead) {
          continue;
        }
        if (g.brokerSubscription == null) {
          // May throw (a broker that cannot reach its store): the member is then not added.
          g.brokerSubscription = broker.subscribe(topic, g);
        }
        g.members.add(m);
        return;
      }
    }
  }

  void leave(String topic, Member m) {
    TopicGroup g = groups.get(topic);
    if (g == null) {
      return;
    }
    AutoCloseable toClose = null;
    synchronized (g) {
      if (!g.members.remove(m) || !g.members.isEmpty()) {
        return;
      }
      g.dead = true;
      groups.remove(topic, g);
      toClose = g.brokerSubscription;
    }
    if (toClose != null) {
      try {
        toClose.close();
      } catch (Exception e) {
        log.warn("closing broker subscription for topic {} failed", topic, e);
      }
    }
  }

  void subscriberAdded() {
    subscribers.incrementAndGet();
  }

  void subscriberRemoved() {
    subscribers.decrementAndGet();
  }

  void slowConsumerClosed() {
    slowConsumerCloses.incrementAndGet();
  }

  void deliveryFailed() {
    deliveryFailures.incrementAndGet();
  }

  void delivered(int bytes) {
    deliveries.increment();
    deliveredBytes.add(bytes);
  }

  /** Transport name for refusals whose caller does not say which transport it serves. */
  static final String UNKNOWN_TRANSPORT = "unknown";

  /** Tells the listeners the hub refused a client; every refusal goes through here. */
  void refused(String transport, Status status) {
    for (HubListener l : listeners) {
      try {
        l.onRefused(transport, status);
      } catch (RuntimeException e) {
        log.debug("hub listener threw", e);
      }
    }
  }

  void resumed(String transport, boolean recovered) {
    for (HubListener l : listeners) {
      try {
        l.onResumed(transport, recovered);
      } catch (RuntimeException e) {
        log.debug("hub listener threw", e);
      }
    }
  }

  private void published(String transport, Status status, long brokerNanos) {
    for (HubListener l : listeners) {
      try {
        l.onPublished(transport, status, brokerNanos);
      } catch (RuntimeException e) {
        log.debug("hub listener threw", e);
      }
    }
  }

  void connectionClosed(Connection c) {
    connections.remove(c);
  }

  private void requireRunning() {
    if (!running.get()) {
      throw new SwitchboardException(Status.UNAVAILABLE, "unavailable", "server shutting down",
          Duration.ofSeconds(1), null);
    }
  }

  /**
   * Refuses work when the hub is shut down or holds its connection limit, so a transport can answer
   * before it takes on a connection (a WebSocket handshake before the upgrade, any HTTP request).
   *
   * @param transport the transport asking, the tag of the refusal {@link HubListener}s see
   * @throws SwitchboardException UNAVAILABLE ({@code too_many_connections} or {@code unavailable})
   *     with a retry hint
   */
  public void checkAdmission(String transport) {
    try {
      requireRunning();
      requireCapacity();
    } catch (SwitchboardException e) {
      refused(transport, e.status());
      throw e;
    }
  }

  /** Connections plus waiting long polls this hub accepts at once. */
  public int maxConnections() {
    return maxConnections;
  }

  private void requireCapacity() {
    if (connections.size() + waiters.size() >= maxConnections) {
      throw new SwitchboardException(Status.UNAVAILABLE, "too_many_connections",
          "server at its connection limit (" + maxConnections + "); retry later",
          Duration.ofSeconds(1), null);
    }
  }

  /** The local members of one topic, fed by one broker subscription. */
  private static final class TopicGroup implements Broker.Listener {
    final CopyOnWriteArrayList<Member> members = new CopyOnWriteArrayList<>();
    AutoCloseable brokerSubscription; // guarded by this
    boolean dead; // guarded by this

    TopicGroup(String topic) {}

    @Override
    public void onMessage(Message message) {
      for (Member m : members) {
        try {
          m.deliver(message);
        } catch (Throwable t) {
          // One member's failure must not cost the members after it this message.
          try {
            m.failed(t);
          } catch (Throwable again) {
            log.debug("handling a failed delivery failed", again);
          }
        }
      }
    }
  }

  /** A long poll waiting for the first message after its cursor. */
  private final class PollWaiter implements Member {
    final String topic;
    final String afterId;
    final int limit;
    final CompletableFuture<Broker.History> result = new CompletableFuture<>();
    final AtomicBoolean woken = new AtomicBoolean();
    volatile ScheduledFuture<?> timeout;

    PollWaiter(String topic, String afterId, int limit) {
      this.topic = topic;
      this.afterId = afterId;
      this.limit = limit;
      // Any completion, including the caller cancelling because its client went away, cleans up.
      result.whenComplete((h, e) -> cleanup());
    }

    CompletionStage<Broker.History> start(Duration wait) {
      // Join before reading, so a message published in between wakes us rather than being missed.
      waiters.add(this);
      try {
        join(topic, this);
      } catch (RuntimeException e) {
        finish(null, SwitchboardException.from(e));
        return result;
      }
      broker.history(topic, afterId, limit).whenComplete((h, err) -> {
        if (err != null) {
          finish(null, err);
        } else if (!h.messages().isEmpty() || !h.recovered()) {
          finish(h, null);
        } else if (!result.isDone()) {
          try {
            timeout = scheduler.schedule(
                () -> finish(new Broker.History(List.of(), true, h.latestId()), null),
                wait.toMillis(), TimeUnit.MILLISECONDS);
          } catch (java.util.concurrent.RejectedExecutionException e) {
            finish(null, new SwitchboardException(Status.UNAVAILABLE, "server shutting down"));
          }
        }
      });
      return result;
    }

    @Override
    public void deliver(Message m) {
      if (woken.compareAndSet(false, true)) {
        // Re-read rather than use m alone: the page honours the limit and the cursor.
        broker.history(topic, afterId, limit).whenComplete(this::finish);
      }
    }

    void fail(SwitchboardException e) {
      finish(null, e);
    }

    private void finish(Broker.History h, Throwable err) {
      if (err != null) {
        result.completeExceptionally(err);
      } else {
        result.complete(h);
      }
    }

    private void cleanup() {
      ScheduledFuture<?> t = timeout;
      if (t != null) {
        t.cancel(false);
      }
      leave(topic, this);
      waiters.remove(this);
    }
  }

  /**
   * Builds a {@link Hub}. Not thread-safe; setters throw {@link IllegalArgumentException} on bad
   * values.
   */
  public static final class Builder {
    private Broker broker;
    private Authenticator authenticator = Authenticator.anonymous();
    private Authorizer authorizer = Authorizer.allowAll();
    private OriginPolicy originPolicy = OriginPolicy.sameOrigin();
    private int maxPayloadBytes = 1 << 20;
    private int maxHeaders = PublishRules.DEFAULT_MAX_HEADERS;
    private int maxHeaderBytes = PublishRules.DEFAULT_MAX_HEADER_BYTES;
    private int maxQueuedMessages = 1024;
    private long maxQueuedBytes = 8L << 20;
    private int maxConnections = DescriptorLimit.defaultMaxConnections();
    private int maxSubscriptionsPerConnection = 1000;
    private Duration maxPollWait = Duration.ofSeconds(60);
    private RateLimit publishRatePerConnection = DEFAULT_PUBLISH_RATE_PER_CONNECTION;
    private RateLimit publishRatePerPrincipal = DEFAULT_PUBLISH_RATE_PER_PRINCIPAL;
    private int maxRateLimitedPrincipals = 100_000;

    private Builder() {}

    /** The broker (default: a new {@link InMemoryBroker}, closed with the hub). */
    public Builder broker(Broker broker) {
      this.broker = Objects.requireNonNull(broker, "broker");
      return this;
    }

    public Builder authenticator(Authenticator authenticator) {
      this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
      return this;
    }

    public Builder authorizer(Authorizer authorizer) {
      this.authorizer = Objects.requireNonNull(authorizer, "authorizer");
      return this;
    }

    /**
     * Which browser origins may use the transports and which hosts they answer to, for WebSocket
     * handshakes, REST, long polling and SSE alike (default {@link OriginPolicy#sameOrigin()}: same
     * origin only, any host). A refused request gets 403 {@code forbidden_origin} or
     * {@code forbidden_host} before anything else happens.
     */
    public Builder originPolicy(OriginPolicy policy) {
      this.originPolicy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** Largest payload accepted from publishers (default 1 MiB); larger → 413. */
    public Builder maxPayloadBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxPayloadBytes must be >= 1: " + bytes);
      }
      this.maxPayloadBytes = bytes;
      return this;
    }

    /** Most application headers on a published message (default 64); more → 400 {@code too_many_headers}. */
    public Builder maxHeaders(int headers) {
      if (headers < 0 || headers > 10_000) {
        throw new IllegalArgumentException("maxHeaders must be from 0 to 10,000: " + headers);
      }
      this.maxHeaders = headers;
      return this;
    }

    /**
     * Most bytes (UTF-8) of a published message's header names and values together (default 8 KiB);
     * more → 400 {@code headers_too_large}.
     */
    public Builder maxHeaderBytes(int bytes) {
      if (bytes < 0 || bytes > (1 << 20)) {
        throw new IllegalArgumentException("maxHeaderBytes must be from 0 to 1 MiB: " + bytes);
      }
      this.maxHeaderBytes = bytes;
      return this;
    }

    /** Per-connection outbound queue limit in messages (default 1024). */
    public Builder maxQueuedMessages(int messages) {
      if (messages < 2 || messages > 1_000_000) {
        throw new IllegalArgumentException("maxQueuedMessages must be from 2 to 1,000,000: " + messages);
      }
      this.maxQueuedMessages = messages;
      return this;
    }

    /** Per-connection outbound queue limit in bytes (default 8 MiB). */
    public Builder maxQueuedBytes(long bytes) {
      if (bytes < 1024 || bytes > (1L << 36)) {
        throw new IllegalArgumentException("maxQueuedBytes must be from 1 KiB to 64 GiB: " + bytes);
      }
      this.maxQueuedBytes = bytes;
      return this;
    }

    /**
     * Connections plus waiting long polls accepted at once; more → 503 {@code too_many_connections}.
     * Default: the process's free file descriptors when the builder is made (the limit less those
     * open) less a quarter of the limit (at least 64) kept for the container, brokers, files and
     * webhooks, at most 100,000 (100,000 where the limit is unknown); so clients are refused before
     * the container runs out of descriptors and cannot accept at all. See {@link DescriptorLimit}.
     */
    public Builder maxConnections(int connections) {
      if (connections < 1) {
        throw new IllegalArgumentException("maxConnections must be >= 1: " + connections);
      }
      this.maxConnections = connections;
      return this;
    }

    /** Topics one connection may subscribe to at once (default 1000); more → 429. */
    public Builder maxSubscriptionsPerConnection(int subscriptions) {
      if (subscriptions < 1) {
        throw new IllegalArgumentException("maxSubscriptionsPerConnection must be >= 1: " + subscriptions);
      }
      this.maxSubscriptionsPerConnection = subscriptions;
      return this;
    }

    /** Longest long-poll wait a client may ask for (default and maximum 60 s). */
    public Builder maxPollWait(Duration wait) {
      if (wait == null || wait.isNegative() || wait.isZero() || wait.compareTo(Duration.ofSeconds(60)) > 0) {
        throw new IllegalArgumentException("maxPollWait must be in (0, 60s]: " + wait);
      }
      this.maxPollWait = wait;
      return this;
    }

    /**
     * Publishes one connection (a WebSocket session, a gRPC {@code Connect} stream) may make; over it
     * a publish is refused with TOO_MANY_REQUESTS (429, {@code too_many_requests}, with a retry hint)
     * and the connection stays open. Default 1,000 per second with a burst of 2,000;
     * {@link RateLimit#unlimited()} turns it off.
     */
    public Builder publishRatePerConnection(RateLimit limit) {
      this.publishRatePerConnection = Objects.requireNonNull(limit, "limit");
      return this;
    }

    /**
     * Publishes one principal may make over all its connections and requests together (REST, gRPC
     * {@code Publish} and {@code PublishStream}, WebSocket, gRPC {@code Connect}). The principal is
     * the {@link Authenticator}'s, by name; {@link Authenticator#ANONYMOUS} clients are counted by IP
     * address (IPv6: by /64 prefix), so they do not share one budget (an anonymous client whose
     * address the transport does not know is limited per connection only). Default 5,000 per second
     * with a burst of 10,000; {@link RateLimit#unlimited()} turns it off.
     */
    public Builder publishRatePerPrincipal(RateLimit limit) {
      this.publishRatePerPrincipal = Objects.requireNonNull(limit, "limit");
      return this;
    }

    /**
     * Most principals (and anonymous addresses) whose publish rate is tracked at once (default
     * 100,000; about 14 MB when full, with 25-character names). A principal quiet long enough to
     * have a full bucket again is forgotten (nothing is lost); past the bound, the least active
     * eighth are forgotten and start with a full bucket again.
     */
    public Builder maxRateLimitedPrincipals(int principals) {
      if (principals < 1 || principals > 10_000_000) {
        throw new IllegalArgumentException("maxRateLimitedPrincipals must be from 1 to 10,000,000: " + principals);
      }
      this.maxRateLimitedPrincipals = principals;
      return this;
    }

    /** @throws IllegalStateException if the byte limit is below the payload limit */
    public Hub build() {
      if (maxQueuedBytes < maxPayloadBytes) {
        throw new IllegalStateException("maxQueuedBytes (" + maxQueuedBytes
            + ") must be >= maxPayloadBytes (" + maxPayloadBytes + ")");
      }
      return new Hub(this);
    }
  }
}
