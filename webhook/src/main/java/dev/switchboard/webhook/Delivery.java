package dev.switchboard.webhook;

import java.net.URI;
import java.time.Instant;
import java.util.Objects;

/**
 * One webhook delivery and its progress: the same id on every attempt (receivers deduplicate by it),
 * a fresh signature and timestamp per attempt.
 *
 * <p>Immutable and thread-safe; progress makes new instances.
 *
 * @param attempts attempts made so far
 * @param nextAttempt when the next attempt is due
 * @param lastError what the last attempt got (status or error), or null
 */
public record Delivery(String id, String endpointId, URI url, byte[] body, String contentType,
    Instant created, int attempts, Instant nextAttempt, String lastError) {
  public Delivery {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(endpointId, "endpointId");
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(created, "created");
    Objects.requireNonNull(nextAttempt, "nextAttempt");
  }

  Delivery next(Instant due, String error) {
    return new Delivery(id, endpointId, url, body, contentType, created, attempts + 1, due, error);
  }
}
