package dev.switchboard.transport;

/**
 * Receives one subscription's events. Callbacks for one subscription never overlap and arrive in
 * order; they run on a transport thread, so a listener that blocks stalls only its own subscription
 * (the server then treats it as a slow consumer). No callback follows {@link #onError}.
 *
 * <p>The order for one subscription: {@link #onSubscribed} when the server has the subscription in
 * place, then {@link #onReset} if the resume point was lost, then the messages; after a reconnect
 * the same again, from the last delivered id. {@link #onError} ends it.
 */
public interface MessageListener {
  /** The {@link #onReset} reason when history no longer holds the id a subscription resumed after. */
  String HISTORY_GAP = "history_gap";

  /** A message, in publish order, never one already delivered on this subscription. */
  void onMessage(Message message);

  /**
   * The subscription is in place on the server: every message published from now on will be
   * delivered (a live-only subscriber can start publishing or expecting answers). Called again after
   * each reconnect, when the subscription is in place once more.
   *
   * <p>{@code recovered} is true when this (re)subscription asked to resume after an id (the one
   * given to {@code subscribe}, or after a reconnect the last delivered one) and the server still
   * held every message after it, so nothing was missed. It is false for a live-only subscription (no
   * id: nothing to recover) and after a history gap, in which case {@link #onReset} follows at once.
   * On long polling the subscription is in place when the first poll is answered (and again when one
   * is answered after a failed one); on SSE, WebSocket and gRPC when the server says so.
   */
  default void onSubscribed(String topic, boolean recovered) {}

  /**
   * The server could not resume from the requested id ({@code reason} is {@link #HISTORY_GAP}):
   * some messages were missed. Delivery continues with the oldest message still in history.
   */
  default void onReset(String topic, String reason) {}

  /**
   * The subscription failed for good (not retryable: 400, 401, 403, 404, 413 or the channel
   * closed). Final callback.
   */
  default void onError(SwitchboardException error) {}
}
