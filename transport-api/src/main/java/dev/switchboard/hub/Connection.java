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
          sub.maybeFetchNextPage();
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
   * One topic subscription. Replays history page by page (not yet in the topic's live group), then
   * joins the live group and buffers live messages while reading the last bit of history, merges
   * the two without duplicates, and goes live.
   */
  private final class TopicSubscription implements Hub.Member {
    private final String topic;
    private volatile boolean buffering;
    private volatile boolean filtering; // live messages may repeat the seam's history read
    private List<Message> buffer; // guarded by this
    private Set<String> seen; // ids the seam's history read delivered, not yet seen live; guarded by this
    private String floor; // last id the replay delivered before the seam; guarded by this
    private String cursor; // last id queued from history; guarded by this
    private boolean fetching; // guarded by this
    private boolean replaying; // guarded by this
    private boolean firstPage = true; // guarded by this
    private volatile boolean cancelled;
    private volatile boolean joined;
    private final CompletableFuture<Void> started = new CompletableFuture<>();

    TopicSubscription(String topic) {
      this.topic = topic;
    }

    CompletionStage<Void> startReplay(String afterId) {
      synchronized (this) {
        cursor = afterId;
        replaying = true;
      }
      Connection.this.replaying.incrementAndGet();
      fetchPage();
      return started;
    }

    void maybeFetchNextPage() {
      synchronized (this) {
        if (!replaying || fetching || cancelled) {
          return;
        }
      }
      fetchPage();
    }

    private void fetchPage() {
      String after;
      synchronized (this) {
        if (fetching || !replaying || cancelled || !hasRoomForReplay()) {
          return;
        }
        fetching = true;
        after = cursor;
      }
      int page = pageSize();
      // An id the broker never issued (another epoch's, another cluster's) is not an error: the
      // broker answers recovered=false from the oldest retained, which is queued as a gap below.
      hub.broker().history(topic, after, page).whenComplete((h, err) -> {
        if (err != null) {
          failReplay(SwitchboardException.from(err));
          return;
        }
        boolean last = h.messages().size() < page;
        boolean first;
        synchronized (this) {
          // 'fetching' stays set until this page is queued: queuing re-enters poll(), which must
          // not fetch the next page ahead of this one.
          first = firstPage;
          firstPage = false;
          if (!h.messages().isEmpty()) {
            cursor = h.messages().get(h.messages().size() - 1).id();
          } else if (!h.recovered()) {
            // Nothing retained at all: resume from the start of whatever arrives next.
            cursor = null;
          }
        }
        if (cancelled) {
          synchronized (this) {
            fetching = false;
          }
          return;
        }
        if (first) {
          hub.resumed(transport, h.recovered());
          enqueue(new Subscribed(topic, h.recovered()), false);
          if (!h.recovered()) {
            enqueue(new Reset(topic, HISTORY_GAP), false);
          }
          started.complete(null);
        }
        for (Message m : h.messages()) {
          enqueue(new Delivery(m), false);
        }
        String from;
        synchronized (this) {
          fetching = false;
          replaying = !last;
          from = cursor;
        }
        if (last) {
          Connection.this.replaying.decrementAndGet();
          goLive(from == null ? "" : from);
        } else {
          fetchPage();
        }
      });
    }

    private void failReplay(SwitchboardException e) {
      boolean wasReplaying;
      synchronized (this) {
        fetching = false;
        wasReplaying = replaying;
        replaying = false;
      }
      if (wasReplaying) {
        Connection.this.replaying.decrementAndGet();
      }
      boolean beforeStart = started.completeExceptionally(e);
      if (subscriptions.remove(topic, this)) {
        cancel();
      }
      if (!beforeStart) {
        close(e.status(), "resume failed: " + e.getMessage());
      }
    }

    /**
     * Joins the live group of a subscription without resume, and only then queues {@link Subscribed}:
     * a client that has read it gets every message published after it. Live messages that arrive
     * between the join and the {@code Subscribed} are held and queued right after it.
     *
     * @throws SwitchboardException when the hub cannot join (the subscription is then gone)
     */
    void joinLive() {
      try {
        if (!holdAndJoin()) {
          return;
        }
      } catch (RuntimeException e) {
        if (subscriptions.remove(topic, this)) {
          cancel();
        }
        throw SwitchboardException.from(e);
      }
      synchronized (this) {
        enqueue(new Subscribed(topic, true), false);
        // By index: a live message re-entering from the sink (this thread, this lock) is appended.
        for (int i = 0; i < buffer.size(); i++) {
          enqueue(new Delivery(buffer.get(i)), true);
        }
        buffer = null;
        buffering = false;
      }
    }

    /**
     * Joins the live group after a replay: buffers live messages while reading history after
     * {@code from} ("" meaning from the oldest retained), then merges.
     */
    void goLive(String from) {
      try {
        if (!holdAndJoin()) {
          return;
        }
      } catch (RuntimeException e) {
        failReplay(SwitchboardException.from(e));
        return;
      }
      hub.broker().history(topic, from.isEmpty() ? null : from, Integer.MAX_VALUE)
          .whenComplete((h, err) -> {
            if (err != null) {
              failReplay(SwitchboardException.from(err));
              return;
            }
            synchronized (this) {
              // Live messages arrive in id order but may lag behind the store (a broker that spans
              // nodes): one may be older than the seam (the replay sent it), in this read, or newer
              // than all of it. So skip live messages the replay or this read delivered, until the
              // first one that neither did.
              floor = from.isEmpty() || hub.broker().idOrder() == null ? null : from;
              seen = new HashSet<>();
              for (Message m : h.messages()) {
                enqueue(new Delivery(m), true);
                seen.add(m.id());
              }
              for (Message m : buffer) {
                deliverAfterSeam(m);
              }
              buffer = null;
              buffering = false;
              filtering = mayRepeat();
            }
          });
    }

    /**
     * Starts holding live messages back, then joins the topic's live group; false when the
     * subscription was cancelled meanwhile (it has left again). Throws as {@link Hub#join} does.
     */
    private boolean holdAndJoin() {
      synchronized (this) {
        buffer = new ArrayList<>();
        buffering = true;
      }
      hub.join(topic, this);
      joined = true;
      if (cancelled) {
        // cancel() may have run before joined was set; leaving twice is harmless.
        hub.leave(topic, this);
        return false;
      }
      return true;
    }

    @Override
    public void failed(Throwable cause) {
      deliveryFailed(cause);
    }

    @Override
    public void deliver(Message m) {
      if (!buffering && !filtering) {
        enqueue(new Delivery(m), true);
        return;
      }
      synchronized (this) {
        if (buffering) {
          buffer.add(m);
          if (buffer.size() > maxMessages) {
            close(Status.SLOW_CONSUMER, "slow consumer: too many live messages during resume");
          }
          return;
        }
        deliverAfterSeam(m);
        filtering = mayRepeat();
      }
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

    void cancel() {
      cancelled = true;
      if (joined) {
        hub.leave(topic, this);
      }
      hub.subscriberRemoved();
      started.completeExceptionally(
          new SwitchboardException(Status.UNAVAILABLE, "subscription cancelled"));
    }
  }
}
