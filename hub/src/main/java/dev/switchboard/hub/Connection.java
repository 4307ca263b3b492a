package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import java.security.Principal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connected client as the {@link Hub} sees it: its subscriptions and its bounded outbound queue.
 * A transport adapter creates one with {@link Hub#connect}, is told through its {@link Sink} when
 * events are queued, and drains them with {@link #poll()} from a single writer whenever its
 * connection can take more bytes — so a slow client never slows anyone else. Transports use an
 * {@link OutboundWriter} as the sink, which does all of that.
 *
 * <p>When the queue would exceed its message or byte limit, the connection is closed with
 * {@link Status#SLOW_CONSUMER}; the client reconnects and resumes from history. Replays of history
 * are fed page by page as the queue drains, so a large backlog never overflows it.
 *
 * <p>A sink that throws never affects another connection or the publisher: the connection is
 * closed with {@link Status#INTERNAL} and counted in {@link Hub#deliveryFailures()}.
 *
 * <p>Thread-safe. {@link #poll()} must be called by one thread at a time (the connection's writer).
 */
public final class Connection {
  private static final Logger log = LoggerFactory.getLogger(Connection.class);

  /**
   * Receives the connection's signals. Called from publishing threads: must not block, and should
   * not throw (a sink that throws is closed with {@link Status#INTERNAL}).
   */
  public interface Sink {
    /** Events were queued; the writer should drain with {@link #poll()} when it can write. */
    void onReady();

    /**
     * The hub closed the connection (slow consumer, shutdown, {@link Hub#disconnectAll}). Events
     * still queued may be written before closing (they are in order), except after SLOW_CONSUMER.
     */
    void onClose(Status status, String reason);
  }

  /** Something to send to the client, in order. */
  public sealed interface Event permits Delivery, Reset, Subscribed {
    /** Approximate queued bytes, for the byte limit. */
    int size();
  }

  /** A message for a subscribed topic. */
  public record Delivery(Message message) implements Event {
    @Override
    public int size() {
      return message.payloadSize() + 128;
    }
  }

  /** Resume was impossible ({@code reason} is {@code history_gap}); older messages follow. */
  public record Reset(String topic, String reason) implements Event {
    @Override
    public int size() {
      return 64;
    }
  }

  /** A subscription is in place; {@code recovered} is false when a requested resume hit a gap. */
  public record Subscribed(String topic, boolean recovered) implements Event {
    @Override
    public int size() {
      return 64;
    }
  }

  /** Reset reason when history no longer reaches back to the requested id. */
  public static final String HISTORY_GAP = "history_gap";

  private static final AtomicLong IDS = new AtomicLong();

  private final Hub hub;
  private final String id;
  private final Principal principal;
  private final String transport;
  private final Sink sink;
  private final int maxMessages;
  private final long maxBytes;
  private final int maxSubscriptions;
  private final RateLimiter.Bucket publishBucket; // null when connections are not rate limited
  private final Object principalKey; // the principal's rate-limit bucket key, or null for none
  private final MpscQueue<Event> queue = new MpscQueue<>(); // many publishers offer, the one writer polls
  /**
   * Queued messages (high 24 bits) and bytes (low 40 bits) in one word, so the publishing thread and
   * the writer each do one atomic update per event rather than two (they contend on it).
   */
  private final AtomicLong queued = new AtomicLong();
  private static final int BYTE_BITS = 40;
  private static final long BYTE_MASK = (1L << BYTE_BITS) - 1;
  private final Map<String, TopicSubscription> subscriptions = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Subscriptions still replaying history; poll() only looks for pages to fetch while any are. */
  private final AtomicInteger replaying = new AtomicInteger();
  private volatile Status closeStatus;
  private volatile String closeReason;

  Connection(Hub hub, Principal principal, String transport, Sink sink, int maxMessages, long maxBytes,
      int maxSubscriptions, RateLimiter.Bucket publishBucket, Object principalKey) {
    this.hub = hub;
    this.id = transport + "-" + IDS.incrementAndGet();
    this.principal = principal;
    this.transport = transport;
    this.sink = sink;
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.maxSubscriptions = maxSubscriptions;
    this.publishBucket = publishBucket;
    this.principalKey = principalKey;
  }

  /** A process-unique id, e.g. {@code sse-42}. */
  public String id() {
    return id;
  }

  public Principal principal() {
    return principal;
  }

  public String transport() {
    return transport;
  }

  /**
   * Subscribes this connection to a topic. With {@code afterId}, every message still in history
   * after it is queued first (preceded by a {@link Reset} if history no longer reaches back), then
   * live messages follow with no duplicate and no gap at the seam. A {@link Subscribed} event is
   * queued before the first message, and only once the subscription is in place: a client that has
   * read it gets every message published after it.
   *
   * @param afterId resume point, or null for live messages only
   * @return a stage that completes when the subscription is in place, or fails with a
   *     {@link SwitchboardException}: INVALID_ARGUMENT (bad topic or id), PERMISSION_DENIED,
   *     CONFLICT (already subscribed), TOO_MANY_REQUESTS (subscription limit), UNAVAILABLE (closed)
   */
  public CompletionStage<Void> subscribe(String topic, String afterId) {
    try {
      Topics.requireValid(topic);
      Topics.requireValidId(afterId);
      hub.authorize(transport, principal, topic, Authorizer.Action.SUBSCRIBE);
      if (closed.get()) {
        throw new SwitchboardException(Status.UNAVAILABLE, "connection is closed");
      }
      if (subscriptions.size() >= maxSubscriptions) {
        throw new SwitchboardException(Status.TOO_MANY_REQUESTS, "too_many_subscriptions",
            "this connection holds its limit of " + maxSubscriptions + " subscriptions; unsubscribe first",
            null, null);
      }
      TopicSubscription sub = new TopicSubscription(topic);
      if (subscriptions.putIfAbsent(topic, sub) != null) {
        throw new SwitchboardException(Status.CONFLICT, "already subscribed to topic " + topic);
      }
      if (afterId == null) {
        try {
          sub.joinLive();
        } finally {
          // Counted once it is in the live group: a publish after the count rises reaches it. A
          // failed join is counted too: its cancel() took it off again.
          hub.subscriberAdded();
        }
        return CompletableFuture.completedFuture(null);
      }
      hub.subscriberAdded(); // a resuming subscription misses nothing: history covers until it joins
      return sub.startReplay(afterId);
    } catch (SwitchboardException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Publishes on behalf of this connection's client: the connection's publish rate limit
   * ({@link Hub.Builder#publishRatePerConnection}) and its principal's
   * ({@link Hub.Builder#publishRatePerPrincipal}) apply, then the {@link Authorizer}, then the
   * hub's {@link Hub#publish(Message) publishing rules}. A refusal leaves the connection open.
   *
   * @return the stored message, or failed with a SwitchboardException: TOO_MANY_REQUESTS (with a
   *     retry hint) over a rate limit, PERMISSION_DENIED, or as {@link Hub#publish(Message)}
   */
  public CompletionStage<Message> publish(Message draft) {
    return hub.publish(this, publishBucket, principalKey, draft);
  }

  /** Removes a subscription; returns whether there was one. */
  public boolean unsubscribe(String topic) {
    TopicSubscription sub = subscriptions.remove(topic);
    if (sub == null) {
      return false;
    }
    sub.cancel();
    return true;
  }

  /** The topics this connection is subscribed to. */
  public List<String> topics() {
    return new ArrayList<>(subscriptions.keySet());
  }

  /**
   * Takes the next event to write, or null when none is queued. Single writer only. Taking events
   * may fetch the next page of a history replay, which queues more and calls {@link Sink#onReady}.
   */
  public Event poll() {
    Event e = queue.poll();
    if (e != null) {
      if (e instanceof Delivery d) {
        hub.delivered(d.message().payloadSize());
      }
      queued.addAndGet(-((1L << BYTE_BITS) + e.size()));
      if (replaying.get() > 0 && hasRoomForReplay()) {
        for (TopicSubscription sub : subscriptions.values()) {
          sub.fetchPage();
        }
      }
    }
    return e;
  }

  /** Events waiting to be written. */
  public int queuedMessages() {
    return (int) (queued.get() >>> BYTE_BITS);
  }

  /** The queue's message limit ({@link Hub.Builder#maxQueuedMessages}). */
  int maxMessages() {
    return maxMessages;
  }

  public boolean isClosed() {
    return closed.get();
  }

  /** Why the hub closed the connection, or null while open or when the transport released it. */
  public Status closeStatus() {
    return closeStatus;
  }

  public String closeReason() {
    return closeReason;
  }

  /**
   * Closes from the hub's side: removes every subscription and tells the {@link Sink}. Idempotent.
   */
  public void close(Status status, String reason) {
    tryClose(status, reason);
  }

  private boolean tryClose(Status status, String reason) {
    if (!closed.compareAndSet(false, true)) {
      return false;
    }
    closeStatus = status;
    closeReason = reason;
    if (status == Status.SLOW_CONSUMER) {
      hub.slowConsumerClosed();
    }
    cleanup();
    try {
      sink.onClose(status, reason);
    } catch (Throwable t) {
      log.debug("{}: sink failed while closing: {}", id, String.valueOf(t));
    }
    return true;
  }

  /**
   * Delivering to this connection threw (its sink, or a bug on the way to it): closes it with
   * INTERNAL, counts it and logs it once, so that no other connection is affected.
   */
  void deliveryFailed(Throwable cause) {
    if (tryClose(Status.INTERNAL, "internal error delivering a message; reconnect and resume")) {
      hub.deliveryFailed();
      log.debug("{}: delivery failed, closed with INTERNAL", id, cause);
    }
  }

  /** Closes from the transport's side (the client went away): removes every subscription. Idempotent. */
  public void release() {
    if (closed.compareAndSet(false, true)) {
      cleanup();
    }
  }

  private void cleanup() {
    for (String topic : List.copyOf(subscriptions.keySet())) {
      unsubscribe(topic);
    }
    hub.connectionClosed(this);
  }

  /** Queues an event; with {@code bounded}, overflowing the limits closes as slow consumer. */
  void enqueue(Event e, boolean bounded) {
    if (closed.get()) {
      return;
    }
    long delta = (1L << BYTE_BITS) + e.size();
    long q = queued.addAndGet(delta);
    if (bounded && ((q >>> BYTE_BITS) > maxMessages || (q & BYTE_MASK) > maxBytes)) {
      queued.addAndGet(-delta);
      close(Status.SLOW_CONSUMER, "slow consumer: outbound queue full (" + maxMessages
          + " messages / " + maxBytes + " bytes); reconnect and resume from the last id");
      return;
    }
    queue.offer(e);
    try {
      sink.onReady();
    } catch (Throwable t) {
      deliveryFailed(t); // never into the publisher's fan-out loop
    }
  }

  private boolean hasRoomForReplay() {
    long q = queued.get();
    return (q >>> BYTE_BITS) <= maxMessages / 2 && (q & BYTE_MASK) <= maxBytes / 2;
  }

  private int pageSize() {
    return Math.max(1, Math.min(256, maxMessages / 2));
  }

  /**
   * Where a {@link TopicSubscription} stands. A resume runs NEW → REPLAY ⇄ FETCHING → SEAM → DEDUP
   * → LIVE, a live-only subscription NEW → SEAM → LIVE; any phase may end in CANCELLED.
   */
  enum Phase {
    /** Created; nothing queued, not in the topic's live group. */
    NEW,
    /** Resuming from history page by page, not in the live group; waits here for queue room. */
    REPLAY,
    /** One history page is being read or queued; no other page is read meanwhile, so pages keep order. */
    FETCHING,
    /**
     * In (or joining) the live group: live messages are held while the last history read (after a
     * replay) or {@link Subscribed} (without one) is queued ahead of them.
     */
    SEAM,
    /** Live, but a live message may still repeat one the replay or the seam's read queued: dropped. */
    DEDUP,
    /** Live: each message is queued as it arrives. */
    LIVE,
    /** Unsubscribed, failed or closed: out of the live group, nothing more is queued. Final. */
    CANCELLED;

    /** Whether pages are still to be read: counted in {@code replaying}, so poll() offers room. */
    boolean replaying() {
      return this == REPLAY || this == FETCHING;
    }

    /** The machine's edges. */
    boolean canMoveTo(Phase next) {
      return next == CANCELLED ? this != CANCELLED : switch (this) {
        case NEW, FETCHING -> next == REPLAY || next == SEAM;
        case REPLAY -> next == FETCHING;
        case SEAM -> next == DEDUP || next == LIVE;
        case DEDUP -> next == LIVE;
        case LIVE, CANCELLED -> false;
      };
    }
  }

  /** The phase of this connection's subscription to {@code topic}, or null without one. For tests. */
  Phase phase(String topic) {
    TopicSubscription sub = subscriptions.get(topic);
    return sub == null ? null : sub.phase;
  }

  /** Subscriptions in REPLAY or FETCHING. For tests. */
  int replayingSubscriptions() {
    return replaying.get();
  }

  /**
   * One topic subscription, a state machine over {@link Phase}. Every transition goes through
   * {@link #advance}, a compare-and-set, so a transition that races {@link #cancel()} either
   * happens before it or not at all; neither poll() nor cancel() takes the lock, which guards only
   * the seam's data against concurrent {@link #deliver} calls.
   */
  private final class TopicSubscription implements Hub.Member {
    private static final AtomicReferenceFieldUpdater<TopicSubscription, Phase> PHASE =
        AtomicReferenceFieldUpdater.newUpdater(TopicSubscription.class, Phase.class, "phase");

    private final String topic;
    private volatile Phase phase = Phase.NEW;
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    // Last id queued from history; written in NEW and FETCHING, read entering FETCHING (ordered by phase).
    private String cursor;
    private List<Message> held; // SEAM's live messages; guarded by this
    private String floor; // DEDUP: live ids up to this one the replay sent; guarded by this
    private Set<String> seen; // DEDUP: ids the seam's read sent, not yet seen live; guarded by this

    TopicSubscription(String topic) {
      this.topic = topic;
    }

    /**
     * Moves {@code from} → {@code to}; false when the phase is no longer {@code from} (cancelled,
     * or another thread took this transition). Throws on an edge the machine does not have.
     */
    private boolean advance(Phase from, Phase to) {
      if (!from.canMoveTo(to)) {
        throw new IllegalStateException("subscription to " + topic + ": no transition " + from + " -> " + to);
      }
      if (!PHASE.compareAndSet(this, from, to)) {
        return false;
      }
      if (from.replaying() != to.replaying()) {
        replaying.addAndGet(to.replaying() ? 1 : -1);
      }
      return true;
    }

    /** NEW → REPLAY: resumes after {@code afterId}; the stage completes with the first page. */
    CompletionStage<Void> startReplay(String afterId) {
      cursor = afterId;
      if (advance(Phase.NEW, Phase.REPLAY)) {
        fetchPage();
      }
      return started;
    }

    /** REPLAY → FETCHING when the queue has room for a page: reads the page after the cursor. */
    void fetchPage() {
      if (phase != Phase.REPLAY || !hasRoomForReplay() || !advance(Phase.REPLAY, Phase.FETCHING)) {
        return;
      }
      int page = pageSize();
      // An id the broker never issued (another epoch's, another cluster's) is not an error: the
      // broker answers recovered=false from the oldest retained, which is queued as a gap.
      hub.broker().history(topic, cursor, page).whenComplete((h, err) -> {
        if (err != null) {
          failReplay(SwitchboardException.from(err));
        } else {
          queuePage(h, h.messages().size() < page);
        }
      });
    }

    /**
     * Queues a page read in FETCHING, then FETCHING → REPLAY to read on, or → SEAM after the last.
     * FETCHING holds until the page is queued: queuing re-enters poll(), which must not fetch the
     * next page ahead of this one.
     */
    private void queuePage(Broker.History h, boolean last) {
      if (phase != Phase.FETCHING) {
        return; // cancelled while reading
      }
      List<Message> page = h.messages();
      if (!page.isEmpty()) {
        cursor = page.get(page.size() - 1).id();
      } else if (!h.recovered()) {
        cursor = null; // nothing retained at all: the seam reads from the oldest whatever arrives
      }
      if (!started.isDone()) { // only the first page finds it pending
        hub.resumed(transport, h.recovered());
        enqueue(new Subscribed(topic, h.recovered()), false);
        if (!h.recovered()) {
          enqueue(new Reset(topic, HISTORY_GAP), false);
        }
        started.complete(null);
      }
      for (Message m : page) {
        enqueue(new Delivery(m), false);
      }
      if (!last) {
        if (advance(Phase.FETCHING, Phase.REPLAY)) {
          fetchPage();
        }
      } else if (enterSeam(Phase.FETCHING)) {
        goLive(cursor);
      }
    }

    /** → SEAM: holds live messages from here on. */
    private boolean enterSeam(Phase from) {
      held = new ArrayList<>(); // published to deliver() by the phase's volatile write
      return advance(from, Phase.SEAM);
    }

    /**
     * After the replay, in SEAM: joins the live group, then reads history after {@code from} (null
     * meaning from the oldest retained), which covers whatever was published before the join.
     */
    private void goLive(String from) {
      try {
        if (!joinGroup()) {
          return;
        }
      } catch (RuntimeException e) {
        failReplay(SwitchboardException.from(e));
        return;
      }
      hub.broker().history(topic, from, Integer.MAX_VALUE).whenComplete((h, err) -> {
        if (err != null) {
          failReplay(SwitchboardException.from(err));
        } else {
          closeSeam(h.messages(), from);
        }
      });
    }

    /** SEAM → DEDUP or LIVE: queues the seam's read, then the held live messages it did not contain. */
    private void closeSeam(List<Message> read, String from) {
      synchronized (this) {
        if (phase != Phase.SEAM) {
          return; // cancelled while reading
        }
        // Live messages arrive in id order but may lag behind the store (a broker that spans
        // nodes): one may be older than the seam (the replay sent it), in this read, or newer than
        // all of it. So skip live messages the replay or this read delivered, until the first one
        // that neither did.
        floor = from == null || hub.broker().idOrder() == null ? null : from;
        seen = new HashSet<>();
        for (Message m : read) {
          enqueue(new Delivery(m), true);
          seen.add(m.id());
        }
        releaseHeld();
      }
    }

    /**
     * NEW → SEAM → LIVE without resume: joins the live group, and only then queues {@link Subscribed}
     * (a client that has read it gets every message published after it), then what was held.
     *
     * @throws SwitchboardException when the hub cannot join (the subscription is then gone)
     */
    void joinLive() {
      try {
        if (!enterSeam(Phase.NEW) || !joinGroup()) {
          return;
        }
      } catch (RuntimeException e) {
        if (subscriptions.remove(topic, this)) {
          cancel();
        }
        throw SwitchboardException.from(e);
      }
      synchronized (this) {
        if (phase == Phase.SEAM) {
          enqueue(new Subscribed(topic, true), false);
          releaseHeld();
        }
      }
    }

    /**
     * Joins the topic's live group; false when cancelled meanwhile (it has left again). Throws as
     * {@link Hub#join} does.
     */
    private boolean joinGroup() {
      hub.join(topic, this);
      if (phase == Phase.CANCELLED) {
        hub.leave(topic, this); // cancel() may have left before the join; leaving twice is harmless
        return false;
      }
      return true;
    }

    /** SEAM → DEDUP or LIVE: queues the held live messages but repeats. Holding this. */
    private void releaseHeld() {
      // By index: a live message re-entering from the sink (this thread, this lock) is appended.
      for (int i = 0; i < held.size(); i++) {
        deliverAfterSeam(held.get(i));
      }
      held = null;
      advance(Phase.SEAM, mayRepeat() ? Phase.DEDUP : Phase.LIVE);
    }

    @Override
    public void deliver(Message m) {
      if (phase == Phase.LIVE) {
        enqueue(new Delivery(m), true);
        return;
      }
      synchronized (this) {
        switch (phase) {
          case SEAM -> {
            held.add(m);
            if (held.size() > maxMessages) {
              close(Status.SLOW_CONSUMER, "slow consumer: too many live messages during resume");
            }
          }
          case DEDUP -> {
            deliverAfterSeam(m);
            if (!mayRepeat()) {
              advance(Phase.DEDUP, Phase.LIVE);
            }
          }
          case LIVE -> enqueue(new Delivery(m), true);
          default -> { } // CANCELLED: a fan-out that began before it left
        }
      }
    }

    @Override
    public void failed(Throwable cause) {
      deliveryFailed(cause);
    }

    /** Whether a live message may still be one the replay or the seam's read sent. Holding this. */
    private boolean mayRepeat() {
      return floor != null || (seen != null && !seen.isEmpty());
    }

    /** Enqueues a live message unless the replay or the seam's history read already did. Holding this. */
    private void deliverAfterSeam(Message m) {
      if (floor != null) {
        if (hub.broker().idOrder().compare(m.id(), floor) <= 0) {
          return; // lagging live copy of a message the replay already sent
        }
        floor = null;
      }
      if (seen != null) {
        if (seen.remove(m.id())) {
          return;
        }
        seen = null; // the first message newer than the read: all later ones are newer too
      }
      enqueue(new Delivery(m), true);
    }

    /**
     * A history read or the join failed: the subscription ends. Before the first page the
     * subscribe stage fails; after it the client has been told it is subscribed, so the connection
     * closes and the client resumes.
     */
    private void failReplay(SwitchboardException e) {
      boolean beforeStart = started.completeExceptionally(e);
      if (subscriptions.remove(topic, this)) {
        cancel();
      }
      if (!beforeStart) {
        close(e.status(), "resume failed: " + e.getMessage());
      }
    }

    /** Any phase → CANCELLED: leaves the live group. Idempotent. */
    void cancel() {
      Phase from;
      do {
        from = phase;
        if (from == Phase.CANCELLED) {
          return;
        }
      } while (!advance(from, Phase.CANCELLED));
      hub.leave(topic, this); // a no-op when it never joined
      hub.subscriberRemoved();
      started.completeExceptionally(
          new SwitchboardException(Status.UNAVAILABLE, "subscription cancelled"));
    }
  }
}
