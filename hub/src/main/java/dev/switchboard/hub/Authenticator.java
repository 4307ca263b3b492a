package dev.switchboard.hub;

import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.security.Principal;
import java.util.Objects;
import java.util.function.Function;

/**
 * Decides who a client is, once per handshake (WebSocket, gRPC stream) or per request (HTTP, SSE,
 * long polling), for every transport alike.
 *
 * <p>Implementations must be thread-safe and should not block for long: they run on container
 * threads.
 */
@FunctionalInterface
public interface Authenticator {
  /** The principal of clients when no authentication is configured. */
  Principal ANONYMOUS = () -> "anonymous";

  /**
   * @return the principal, never null
   * @throws SwitchboardException with {@link Status#UNAUTHENTICATED} (→ 401) to refuse
   */
  Principal authenticate(Handshake handshake);

  /** Accepts everyone as {@link #ANONYMOUS}. */
  static Authenticator anonymous() {
    return h -> ANONYMOUS;
  }

  /**
   * Accepts {@code Authorization: Bearer <token>} (or, for browsers that cannot set headers on
   * EventSource and WebSocket, the {@code access_token} query parameter) when {@code tokens} maps it
   * to a principal; refuses when it returns null or no token is given.
   */
  static Authenticator bearer(Function<String, Principal> tokens) {
    Objects.requireNonNull(tokens, "tokens");
    return h -> {
      String token = h.bearerToken();
      if (token == null) {
        token = h.query("access_token");
      }
      if (token == null) {
        throw new SwitchboardException(Status.UNAUTHENTICATED,
            "missing credentials: send Authorization: Bearer <token>");
      }
      Principal p = tokens.apply(token);
      if (p == null) {
        throw new SwitchboardException(Status.UNAUTHENTICATED, "invalid or expired token");
      }
      return p;
    };
  }
}
