package dev.switchboard.hub;

import dev.switchboard.transport.Status;

/**
 * Observes a {@link Hub}'s rare or per-publish events, for metrics (see {@code switchboard-micrometer})
 * or logging. Per-delivery figures are not events: the hub counts them itself ({@link Hub#deliveries()},
 * {@link Hub#deliveredBytes()}) so that fan-out costs no call and no allocation per subscriber.
 *
 * <p>Every method has a no-op default. Methods are called on the thread that caused the event (a
 * container thread, the broker's callback thread, the hub's timer) and must be quick and must not
 * block or throw; an exception thrown by a listener is logged at DEBUG and ignored. Add one with
 * {@link Hub#addListener}.
 */
public interface HubListener {
  /**
   * The transport tag of a publish by the server itself ({@link Hub#publish(dev.switchboard.transport.Message)}),
   * as opposed to a client's over a transport.
   */
  String SERVER = "server";

  /**
   * A publish finished.
   *
   * @param transport the client's transport ({@code http}, {@code ws}, {@code grpc}, or
   *     {@code unknown} when the caller of {@link Hub#publish(java.security.Principal,
   *     dev.switchboard.transport.Message)} did not say), or {@link #SERVER}
   * @param error null when the broker stored it, otherwise why it failed
   * @param brokerNanos how long the broker took, or -1 when the publish was refused before reaching it
   *     (bad message, not authorised, shut down)
   */
  default void onPublished(String transport, Status error, long brokerNanos) {}

  /**
   * The hub refused a client: authentication failed (UNAUTHENTICATED), authorisation denied
   * (PERMISSION_DENIED), the connection limit was reached or the hub is shutting down (UNAVAILABLE),
   * or a rate limit (TOO_MANY_REQUESTS).
   *
   * @param transport the transport's name ({@code sse}, {@code ws}, {@code grpc}, {@code http},
   *     {@code longpoll}), or {@code unknown} where the refusing call does not know it
   */
  default void onRefused(String transport, Status status) {}

  /**
   * A subscription asked to resume after an id: {@code recovered} is false when history no longer
   * reached back ({@code history_gap}).
   */
  default void onResumed(String transport, boolean recovered) {}
}
