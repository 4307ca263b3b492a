package dev.switchboard.transport;

/**
 * The outcome categories Switchboard reports, with the one table that maps each to an HTTP status,
 * a WebSocket close code and a gRPC status code, so every transport reports the same failure the
 * same way.
 *
 * <table>
 *   <caption>Status mapping</caption>
 *   <tr><th>Status</th><th>HTTP</th><th>WebSocket close</th><th>gRPC</th></tr>
 *   <tr><td>INVALID_ARGUMENT</td><td>400</td><td>1008</td><td>INVALID_ARGUMENT (3)</td></tr>
 *   <tr><td>UNAUTHENTICATED</td><td>401</td><td>4401</td><td>UNAUTHENTICATED (16)</td></tr>
 *   <tr><td>PERMISSION_DENIED</td><td>403</td><td>4403</td><td>PERMISSION_DENIED (7)</td></tr>
 *   <tr><td>NOT_FOUND</td><td>404</td><td>1008</td><td>NOT_FOUND (5)</td></tr>
 *   <tr><td>METHOD_NOT_ALLOWED</td><td>405</td><td>1008</td><td>UNIMPLEMENTED (12)</td></tr>
 *   <tr><td>CONFLICT</td><td>409</td><td>1008</td><td>ABORTED (10)</td></tr>
 *   <tr><td>PAYLOAD_TOO_LARGE</td><td>413</td><td>1009</td><td>RESOURCE_EXHAUSTED (8)</td></tr>
 *   <tr><td>UNSUPPORTED_MEDIA_TYPE</td><td>415</td><td>1003</td><td>INVALID_ARGUMENT (3)</td></tr>
 *   <tr><td>UNPROCESSABLE</td><td>422</td><td>1008</td><td>FAILED_PRECONDITION (9)</td></tr>
 *   <tr><td>TOO_MANY_REQUESTS</td><td>429</td><td>1013</td><td>RESOURCE_EXHAUSTED (8)</td></tr>
 *   <tr><td>SLOW_CONSUMER</td><td>503</td><td>4000</td><td>RESOURCE_EXHAUSTED (8)</td></tr>
 *   <tr><td>UNAVAILABLE</td><td>503</td><td>1001</td><td>UNAVAILABLE (14)</td></tr>
 *   <tr><td>INTERNAL</td><td>500</td><td>1011</td><td>INTERNAL (13)</td></tr>
 * </table>
 *
 * <p>The reverse lookups ({@link #fromHttpStatus}, {@link #fromWebSocketClose}, {@link #fromGrpcCode})
 * read this table back, so a client recovers the status from the code alone, never from message
 * text. WebSocket close codes 4000-4999 are private to an application (RFC 6455 §7.4.2): Switchboard
 * uses 4000 (slow consumer), 4401 and 4403 (the HTTP statuses 401 and 403 in that range).
 *
 * <p>This enum is immutable and thread-safe.
 */
public enum Status {
  INVALID_ARGUMENT(400, 1008, 3, "invalid_argument"),
  UNAUTHENTICATED(401, 4401, 16, "unauthenticated"),
  PERMISSION_DENIED(403, 4403, 7, "permission_denied"),
  NOT_FOUND(404, 1008, 5, "not_found"),
  METHOD_NOT_ALLOWED(405, 1008, 12, "method_not_allowed"),
  CONFLICT(409, 1008, 10, "conflict"),
  PAYLOAD_TOO_LARGE(413, 1009, 8, "payload_too_large"),
  UNSUPPORTED_MEDIA_TYPE(415, 1003, 3, "unsupported_media_type"),
  UNPROCESSABLE(422, 1008, 9, "unprocessable"),
  TOO_MANY_REQUESTS(429, 1013, 8, "too_many_requests"),
  SLOW_CONSUMER(503, 4000, 8, "slow_consumer"),
  UNAVAILABLE(503, 1001, 14, "unavailable"),
  INTERNAL(500, 1011, 13, "internal");

  /**
   * The close code servers before 0.x used for every refusal (policy violation), authentication
   * included; still read as {@link #PERMISSION_DENIED}.
   */
  private static final int CLOSE_POLICY_VIOLATION = 1008;
  /** RFC 6455's "service restart": the server is going away for a moment. */
  private static final int CLOSE_SERVICE_RESTART = 1012;

  private final int httpStatus;
  private final int webSocketCloseCode;
  private final int grpcCode;
  private final String code;

  Status(int httpStatus, int webSocketCloseCode, int grpcCode, String code) {
    this.httpStatus = httpStatus;
    this.webSocketCloseCode = webSocketCloseCode;
    this.grpcCode = grpcCode;
    this.code = code;
  }

  /** The HTTP status code, e.g. 413. */
  public int httpStatus() {
    return httpStatus;
  }

  /**
   * The WebSocket close code (RFC 6455 §7.4), e.g. 1009; 4000 (slow consumer), 4401
   * (unauthenticated) and 4403 (permission denied) are Switchboard's private codes.
   */
  public int webSocketCloseCode() {
    return webSocketCloseCode;
  }

  /** The numeric gRPC status code (grpc/doc/statuscodes.md), e.g. 8 for RESOURCE_EXHAUSTED. */
  public int grpcCode() {
    return grpcCode;
  }

  /** The short machine-readable code used in JSON error bodies, e.g. {@code payload_too_large}. */
  public String code() {
    return code;
  }

  /**
   * Whether a client may retry the same request later and expect it to succeed: UNAVAILABLE,
   * TOO_MANY_REQUESTS, SLOW_CONSUMER and INTERNAL. Every client transport reconnects, and resends a
   * publish, only on these; PAYLOAD_TOO_LARGE and the other client errors fail for good.
   */
  public boolean isRetryable() {
    return this == UNAVAILABLE || this == TOO_MANY_REQUESTS || this == SLOW_CONSUMER || this == INTERNAL;
  }

  /**
   * The status for an HTTP response code: the exact entry when one has that code, otherwise the
   * nearest category (other 4xx → INVALID_ARGUMENT, other 5xx → UNAVAILABLE).
   */
  public static Status fromHttpStatus(int httpStatus) {
    return switch (httpStatus) {
      case 400 -> INVALID_ARGUMENT;
      case 401 -> UNAUTHENTICATED;
      case 403 -> PERMISSION_DENIED;
      case 404 -> NOT_FOUND;
      case 405 -> METHOD_NOT_ALLOWED;
      case 409 -> CONFLICT;
      case 413 -> PAYLOAD_TOO_LARGE;
      case 415 -> UNSUPPORTED_MEDIA_TYPE;
      case 422 -> UNPROCESSABLE;
      case 429 -> TOO_MANY_REQUESTS;
      case 500 -> INTERNAL;
      default -> httpStatus >= 500 ? UNAVAILABLE : INVALID_ARGUMENT;
    };
  }

  /**
   * The status for a WebSocket close code sent by a Switchboard server: 4401 UNAUTHENTICATED, 4403
   * PERMISSION_DENIED, 1008 (older servers' refusal) PERMISSION_DENIED, 1009 PAYLOAD_TOO_LARGE, 1003
   * UNSUPPORTED_MEDIA_TYPE, 1013 and 1012 TOO_MANY_REQUESTS, 4000 SLOW_CONSUMER, 1011 INTERNAL, and
   * UNAVAILABLE for every other code (1000, 1001, 1006: the connection simply ended).
   */
  public static Status fromWebSocketClose(int closeCode) {
    if (closeCode == CLOSE_POLICY_VIOLATION) {
      return PERMISSION_DENIED;
    }
    if (closeCode == CLOSE_SERVICE_RESTART) {
      return TOO_MANY_REQUESTS;
    }
    for (Status s : values()) {
      // Only codes that name one status; 1008 and 1001 are shared or mean "gone".
      if (s.webSocketCloseCode == closeCode && s.webSocketCloseCode != CLOSE_POLICY_VIOLATION) {
        return s;
      }
    }
    return UNAVAILABLE;
  }

  /**
   * The status for a numeric gRPC code when the server sent no Switchboard trailer: the table's
   * entry, RESOURCE_EXHAUSTED as TOO_MANY_REQUESTS, OUT_OF_RANGE as INVALID_ARGUMENT, ALREADY_EXISTS
   * as CONFLICT, UNKNOWN and DATA_LOSS as INTERNAL, and UNAVAILABLE for the rest (UNAVAILABLE,
   * DEADLINE_EXCEEDED, CANCELLED, OK).
   */
  public static Status fromGrpcCode(int grpcCode) {
    return switch (grpcCode) {
      case 3, 11 -> INVALID_ARGUMENT; // INVALID_ARGUMENT, OUT_OF_RANGE
      case 16 -> UNAUTHENTICATED;
      case 7 -> PERMISSION_DENIED;
      case 5 -> NOT_FOUND;
      case 12 -> METHOD_NOT_ALLOWED; // UNIMPLEMENTED
      case 6, 10 -> CONFLICT; // ALREADY_EXISTS, ABORTED
      case 8 -> TOO_MANY_REQUESTS; // RESOURCE_EXHAUSTED: several statuses share it
      case 9 -> UNPROCESSABLE; // FAILED_PRECONDITION
      case 2, 13, 15 -> INTERNAL; // UNKNOWN, INTERNAL, DATA_LOSS
      default -> UNAVAILABLE;
    };
  }
}
