package dev.switchboard.webhook;

import java.util.Objects;

/**
 * A webhook delivery failed verification. The message says exactly what failed — which header is
 * missing or malformed, how far off the timestamp is, how many secrets were tried — and never
 * contains a secret or a signature. Answer it with 401.
 *
 * <p>Immutable and thread-safe.
 */
public final class WebhookVerificationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What failed. */
  public enum Reason {
    MISSING_HEADER, MALFORMED_HEADER, UNKNOWN_VERSION, TIMESTAMP_TOO_OLD, TIMESTAMP_TOO_NEW, NO_MATCHING_SIGNATURE
  }

  private final Reason reason;

  WebhookVerificationException(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = Objects.requireNonNull(reason);
  }

  public Reason reason() {
    return reason;
  }

  /** A short code for JSON error bodies, e.g. {@code timestamp_too_old}. */
  public String code() {
    return reason.name().toLowerCase(java.util.Locale.ROOT);
  }
}
