package dev.switchboard.transport;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code auto} transport: tries each candidate in order (ws, sse, longpoll — those on the class
 * path) and keeps the first that is not refused before it ever opened (a proxy or server that
 * answers the WebSocket upgrade with 403 or 400, say). The choice is kept for the channel's
 * lifetime, so reconnects use the same transport. Subscriptions and sends made before the choice
 * wait for it.
 *
 * <p>Thread-safe.
 */
final class AutoChannel implements Channel {
  private static final Logger log = LoggerFactory.getLogger(AutoChannel.class);

  private final TransportConfig config;
  private final List<TransportProvider> candidates;
  private final CompletableFuture<Channel> chosen = new CompletableFuture<>();
  private final List<StateListener> stateListeners = new CopyOnWriteArrayList<>();
  private final List<Deferred> deferred = new ArrayList<>(); // guarded by this
  private volatile boolean closed;

  AutoChannel(TransportConfig config, List<TransportProvider> candidates) {
    this.config = config;
    this.candidates = List.copyOf(candidates);
    attempt(0);
  }

  private void attempt(int index) {
    TransportProvider p = candidates.get(index);
    Channel c;
    try {
      c = p.open(config);
    } catch (RuntimeException e) {
      next(index, SwitchboardException.from(e));
      return;
    }
    if (c.state() == State.OPEN) {
      choose(c);
      return;
    }
    c.addStateListener((from, to, cause) -> {
      if (chosen.isDone()) {
        return;
      }
      if (to == State.OPEN) {
        choose(c);
      } else if (to == State.CLOSED && cause != null && cause.status() != Status.UNAUTHENTICATED) {
        next(index, cause);
      } else if (to == State.CLOSED) {
        choose(c); // refused credentials fail on every transport: report, do not hide it
      }
    });
    if (c.state() == State.OPEN && !chosen.isDone()) {
      choose(c);
    }
  }

  private void next(int index, SwitchboardException cause) {
    if (index + 1 < candidates.size() && !closed) {
      log.info("transport {} unavailable ({}); trying {}", candidates.get(index).name(), cause.getMessage(),
          candidates.get(index + 1).name());
      attempt(index + 1);
    } else {
      chosen.completeExceptionally(cause);
      List<Deferred> ds;
      synchronized (this) {
        ds = new ArrayList<>(deferred);
        deferred.clear();
      }
      for (Deferred d : ds) {
        d.listener.onError(cause);
      }
    }
  }

  private void choose(Channel c) {
    if (!chosen.complete(c)) {
      return;
    }
    if (closed) {
      c.close();
      return;
    }
    for (StateListener l : stateListeners) {
      c.addStateListener(l);
      if (c.state() != State.CONNECTING) {
        l.onStateChange(State.CONNECTING, c.state(), null);
      }
    }
    List<Deferred> ds;
    synchronized (this) {
      ds = new ArrayList<>(deferred);
      deferred.clear();
    }
    for (Deferred d : ds) {
      d.attach(c);
    }
  }

  @Override
  public String transport() {
    Channel c = chosen.isCompletedExceptionally() ? null : chosen.getNow(null);
    return c == null ? "auto" : c.transport();
  }

  @Override
  public State state() {
    if (closed) {
      return State.CLOSED;
    }
    Channel c = chosen.isCompletedExceptionally() ? null : chosen.getNow(null);
    return c == null ? (chosen.isDone() ? State.CLOSED : State.CONNECTING) : c.state();
  }

  @Override
  public void addStateListener(StateListener listener) {
    stateListeners.add(listener);
    Channel c = chosen.isCompletedExceptionally() ? null : chosen.getNow(null);
    if (c != null) {
      c.addStateListener(listener);
    }
  }

  @Override
  public CompletionStage<Message> send(Message message) {
    return chosen.thenCompose(c -> c.send(message));
  }

  @Override
  public Subscription subscribe(String topic, String afterId, MessageListener listener) {
    if (closed) {
      throw new IllegalStateException("channel is closed");
    }
    Deferred d = new Deferred(topic, afterId, listener);
    synchronized (this) {
      if (!chosen.isDone()) {
        deferred.add(d);
        return d;
      }
    }
    Channel c = chosen.isCompletedExceptionally() ? null : chosen.getNow(null);
    if (c == null) {
      throw new IllegalStateException("no transport could connect");
    }
    d.attach(c);
    return d;
  }

  @Override
  public void close() {
    closed = true;
    Channel c = chosen.isCompletedExceptionally() ? null : chosen.getNow(null);
    if (c != null) {
      c.close();
    }
    synchronized (this) {
      deferred.clear();
    }
  }

  /** A subscription that exists before the transport is chosen. */
  private final class Deferred implements Subscription {
    final String topic;
    final String afterId;
    final MessageListener listener;
    volatile Subscription real;
    volatile boolean cancelled;

    Deferred(String topic, String afterId, MessageListener listener) {
      this.topic = topic;
      this.afterId = afterId;
      this.listener = listener;
    }

    void attach(Channel c) {
      if (!cancelled) {
        real = c.subscribe(topic, afterId, listener);
      }
    }

    @Override
    public String topic() {
      return topic;
    }

    @Override
    public String lastId() {
      Subscription r = real;
      return r == null ? afterId : r.lastId();
    }

    @Override
    public boolean isActive() {
      Subscription r = real;
      return !cancelled && (r == null || r.isActive());
    }

    @Override
    public void close() {
      cancelled = true;
      Subscription r = real;
      if (r != null) {
        r.close();
      }
    }
  }
}
