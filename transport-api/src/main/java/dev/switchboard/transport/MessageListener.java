package dev.switchboard.transport;

/**
 * Receives one subscription's events. Callbacks for one subscription never overlap and arrive in
 * order; they run on a transport thread, so a listener that blocks stalls only its own subscription
 * (the server then treats it as a slow consumer). No callback follows {@link #onError}.
 */
public interface MessageListener {
  /** A message, in publish order, never one already delivered on this subscription. */
  void onMessage(Message message);

  /**
   * The server could not resume from the requested id ({@code reason} is {@code history_gap}):
   * some messages were missed. Delivery continues with the oldest message still in history.
   */
  default void onReset(String topic, String reason) {}

  /**
   * The subscription failed for good (not retryable: 400, 401, 403, 404, 413 or the channel
   * closed). Final callback.
   */
  default void onError(SwitchboardException error) {}
}
