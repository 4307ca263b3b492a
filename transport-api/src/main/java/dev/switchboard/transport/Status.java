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
 *   <tr><td>UNAUTHENTICATED</td><td>401</td><td>1008</td><td>UNAUTHENTICATED (16)</td></tr>
 *   <tr><td>PERMISSION_DENIED</td><td>403</td><td>1008</td><td>PERMISSION_DENIED (7)</td></tr>
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
 * <p>This enum is immutable and thread-safe.
 */
public enum Status {
  INVALID_ARGUMENT(400, 1008, 3, "invalid_argument"),
  UNAUTHENTICATED(401, 1008, 16, "unauthenticated"),
  PERMISSION_DENIED(403, 1008, 7, "permission_denied"),
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

  /** The WebSocket close code (RFC 6455 §7.4), e.g. 1009; 4000 is Switchboard's slow-consumer code. */
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

  /** Whether a client may retry the same request later and expect it to succeed. */
  public boolean isRetryable() {
    return this == UNAVAILABLE || this == TOO_MANY_REQUESTS || this == SLOW_CONSUMER || this == INTERNAL;
  }

  /**
   * The status for an HTTP response code: the exact entry when one has that code, otherwise the
   * nearest category (other 4xx → INVALID_ARGUMENT, other 5xx → UNAVAILABLE).
   */
  public static Status fromHttpStatus(int httpStatus) {
    switch (httpStatus) {
      case 400: return INVALID_ARGUMENT;
      case 401: return UNAUTHENTICATED;
      case 403: return PERMISSION_DENIED;
      case 404: return NOT_FOUND;
      case 405: return METHOD_NOT_ALLOWED;
      case 409: return CONFLICT;
      case 413: return PAYLOAD_TOO_LARGE;
      case 415: return UNSUPPORTED_MEDIA_TYPE;
      case 422: return UNPROCESSABLE;
      case 429: return TOO_MANY_REQUESTS;
      case 500: return INTERNAL;
      default:
        return httpStatus >= 500 ? UNAVAILABLE : INVALID_ARGUMENT;
    }
  }
}
