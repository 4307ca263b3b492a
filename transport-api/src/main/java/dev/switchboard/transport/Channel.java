package dev.switchboard.transport;

import java.util.concurrent.CompletionStage;

/**
 * A full-duplex, transport-independent session between one client and a hub. Open one with
 * {@link Transports#open(TransportConfig)}; the same code works whichever transport the
 * configuration names. The channel reconnects by itself with backoff and resumes every subscription
 * from the last id it delivered.
 *
 * <p>Thread-safe: every method may be called from any thread. State listeners run on transport
 * threads and must not block.
 */
public interface Channel extends AutoCloseable {
  /** Connection states. CLOSED is final. */
  enum State { CONNECTING, OPEN, RECONNECTING, CLOSED }

  /** Observes state changes; no callback follows the change to CLOSED. */
  @FunctionalInterface
  interface StateListener {
    /**
     * @param cause why the state changed (for RECONNECTING and CLOSED after a failure), or null
     */
    void onStateChange(State from, State to, SwitchboardException cause);
  }

  /** The transport name, e.g. {@code sse}. */
  String transport();

  State state();

  void addStateListener(StateListener listener);

  /**
   * Publishes a message upstream through this channel.
   *
   * @return a stage completed with the stored message, or failed with a
   *     {@link SwitchboardException} carrying the server's status (400, 401, 403, 413, …)
   */
  CompletionStage<Message> send(Message message);

  /**
   * Subscribes to a topic.
   *
   * @param afterId resume after this id (missed messages still in history are delivered first), or
   *     {@code null} for live messages only
   * @throws IllegalStateException if the application closed the channel (a channel the server
   *     ended, e.g. for bad credentials, instead tells the listener's {@code onError} why)
   */
  Subscription subscribe(String topic, String afterId, MessageListener listener);

  /** Subscribes to live messages of a topic. */
  default Subscription subscribe(String topic, MessageListener listener) {
    return subscribe(topic, null, listener);
  }

  /** Closes the channel and all its subscriptions. Idempotent. */
  @Override
  void close();
}
