package dev.switchboard.transport.internal;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of one subscription, shared by the transports: keeps the last delivered id (the
 * resume point), drops a duplicate of it at a resume seam, isolates the listener's exceptions, and
 * makes {@link MessageListener#onError} the last callback. Internal. Thread-safe.
 */
public abstract class ListenerSubscription implements Subscription {
  private static final Logger log = LoggerFactory.getLogger(ListenerSubscription.class);

  private final String topic;
  private final MessageListener listener;
  private volatile String lastId;
  private volatile boolean active = true;
  private volatile boolean resumeRequested;

  protected ListenerSubscription(String topic, String afterId, MessageListener listener) {
    this.topic = topic;
    this.lastId = afterId;
    this.listener = listener;
  }

  @Override
  public final String topic() {
    return topic;
  }

  @Override
  public final String lastId() {
    return lastId;
  }

  @Override
  public final boolean isActive() {
    return active;
  }

  /** Moves the resume point without delivering. */
  protected final void setLastId(String id) {
    lastId = id;
  }

  /** Delivers a message unless inactive or a duplicate of the last one. */
  public void deliver(Message m) {
    if (!active || (m.id() != null && m.id().equals(lastId))) {
      return;
    }
    if (m.id() != null) {
      lastId = m.id();
    }
    try {
      listener.onMessage(m);
    } catch (RuntimeException e) {
      log.warn("listener for topic {} threw; delivery continues", topic, e);
    }
  }

  /**
   * The id the next subscribe request resumes after (null: live only), noting whether it asked to
   * resume, which {@link #subscribed} needs. Call once per subscribe request.
   */
  public String requestResume() {
    String id = lastId;
    resumeRequested = id != null;
    return id;
  }

  /**
   * The subscription is in place; {@code serverRecovered} is the server's word that nothing after the
   * requested id was lost. The listener hears {@code recovered} only when a resume was asked for.
   */
  public void subscribed(boolean serverRecovered) {
    if (active) {
      try {
        listener.onSubscribed(topic, resumeRequested && serverRecovered);
      } catch (RuntimeException e) {
        log.warn("listener for topic {} threw", topic, e);
      }
    }
  }

  /** Tells the listener the server could not resume (history gap). */
  public void reset(String reason) {
    if (active) {
      try {
        listener.onReset(topic, reason);
      } catch (RuntimeException e) {
        log.warn("listener for topic {} threw", topic, e);
      }
    }
  }

  /** Ends the subscription with an error: the listener's last callback. */
  public void fail(SwitchboardException cause) {
    if (!deactivate()) {
      return;
    }
    try {
      listener.onError(cause);
    } catch (RuntimeException e) {
      log.warn("listener for topic {} threw", topic, e);
    }
  }

  /** Ends the subscription quietly (the application closed it). */
  @Override
  public void close() {
    deactivate();
  }

  /**
   * Marks it inactive and lets the transport forget it.
   *
   * @return false if it already was
   */
  private boolean deactivate() {
    synchronized (this) {
      if (!active) {
        return false;
      }
      active = false;
    }
    onEnd();
    return true;
  }

  /** The subscription ended (closed or failed): release transport resources. Called once. */
  protected abstract void onEnd();
}
