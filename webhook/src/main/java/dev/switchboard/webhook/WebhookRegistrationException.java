package dev.switchboard.webhook;

/**
 * A webhook endpoint refused at registration (or a target refused at send time): carries the HTTP
 * status to answer and a short machine-readable code, so an API answers
 * {@code {"status":400,"error":"forbidden_target","message":…}} without mapping it again.
 *
 * <p>Codes: {@code invalid_url} (not {@code http(s)://host[:port]/…}), {@code forbidden_target}
 * (private, loopback, link-local or otherwise non-public address, see {@link TargetPolicy}),
 * {@code unresolvable_target} (the host name does not resolve), {@code too_many_topics},
 * {@code too_many_endpoints} (see {@link EndpointLimits}). All are status 400.
 *
 * <p>Immutable.
 */
public final class WebhookRegistrationException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Codes of {@link #code()}. */
  public static final String INVALID_URL = "invalid_url";
  public static final String FORBIDDEN_TARGET = "forbidden_target";
  public static final String UNRESOLVABLE_TARGET = "unresolvable_target";
  public static final String TOO_MANY_TOPICS = "too_many_topics";
  public static final String TOO_MANY_ENDPOINTS = "too_many_endpoints";

  private final int status;
  private final String code;

  /**
   * @param status the HTTP status to answer (400 for every code above)
   * @param code the error code, e.g. {@link #FORBIDDEN_TARGET}
   * @param message what was wrong, with the offending value, and what to do
   */
  public WebhookRegistrationException(int status, String code, String message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** The HTTP status to answer. */
  public int status() {
    return status;
  }

  /** The machine-readable error code, e.g. {@code forbidden_target}. */
  public String code() {
    return code;
  }
}
