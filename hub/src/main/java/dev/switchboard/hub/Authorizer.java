package dev.switchboard.hub;

import java.security.Principal;

/**
 * Decides whether a principal may subscribe to or publish on a topic; a refusal becomes 403 (HTTP),
 * an {@code error} frame with status 403 (WebSocket) or PERMISSION_DENIED (gRPC).
 *
 * <p>Implementations must be thread-safe and fast: they run on every subscribe and publish.
 */
@FunctionalInterface
public interface Authorizer {
  /** What a principal wants to do with a topic. */
  enum Action { SUBSCRIBE, PUBLISH }

  boolean isAllowed(Principal principal, String topic, Action action);

  /** Allows everything. */
  static Authorizer allowAll() {
    return (p, t, a) -> true;
  }
}
