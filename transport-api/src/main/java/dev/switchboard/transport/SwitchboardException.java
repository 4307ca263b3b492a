package dev.switchboard.transport;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The one unchecked exception Switchboard throws or completes stages with. It carries a
 * {@link Status} (which maps to HTTP, WebSocket and gRPC codes), a short error code for JSON bodies,
 * and, for retryable failures, an optional hint of how long to wait.
 *
 * <p>Instances are immutable and thread-safe.
 */
public class SwitchboardException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status status;
  private final String errorCode;
  private final transient Duration retryAfter;

  /** An exception with the status's own short code. */
  public SwitchboardException(Status status, String message) {
    this(status, status.code(), message, null, null);
  }

  /** An exception with the status's own short code and a cause. */
  public SwitchboardException(Status status, String message, Throwable cause) {
    this(status, status.code(), message, null, cause);
  }

  /**
   * An exception with its own short code and no retry hint or cause: the common case of a refusal
   * that names what was wrong, e.g. {@code of(Status.INVALID_ARGUMENT, "invalid_topic", "…")}.
   *
   * @param errorCode short machine-readable code, e.g. {@code invalid_topic}
   */
  public static SwitchboardException of(Status status, String errorCode, String message) {
    return new SwitchboardException(status, errorCode, message, null, null);
  }

  /**
   * The full form.
   *
   * @param errorCode short machine-readable code, e.g. {@code invalid_topic}
   * @param retryAfter how long the caller should wait before retrying, or {@code null}
   */
  public SwitchboardException(
      Status status, String errorCode, String message, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.status = Objects.requireNonNull(status, "status");
    this.errorCode = Objects.requireNonNull(errorCode, "errorCode");
    this.retryAfter = retryAfter;
  }

  public Status status() {
    return status;
  }

  /** The short code written in JSON error bodies ({@code "error"}). */
  public String errorCode() {
    return errorCode;
  }

  /** How long to wait before retrying, when the server or the library said so. */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }

  /**
   * {@code t} itself when it is (or wraps, as a completion or execution exception does) a
   * SwitchboardException; otherwise an {@link Status#INTERNAL} one wrapping it.
   */
  public static SwitchboardException from(Throwable t) {
    Throwable c = t;
    while (c != null) {
      if (c instanceof SwitchboardException) {
        return (SwitchboardException) c;
      }
      if (!(c instanceof java.util.concurrent.CompletionException
          || c instanceof java.util.concurrent.ExecutionException)) {
        break;
      }
      c = c.getCause();
    }
    Throwable root = c == null ? t : c;
    return new SwitchboardException(Status.INTERNAL, String.valueOf(root), root);
  }

  @Override
  public String toString() {
    return "SwitchboardException[" + status + "/" + errorCode + "]: " + getMessage();
  }
}
