package dev.switchboard.transport.internal;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The checks every client channel makes before a publish leaves it: the payload is within
 * {@link TransportConfig#maxMessageBytes()}, and fewer than {@link TransportConfig#maxPendingPublishes()}
 * publishes await an answer. Internal. Thread-safe.
 */
public final class PublishGate {
  private final TransportConfig config;
  private final AtomicInteger unanswered = new AtomicInteger();

  public PublishGate(TransportConfig config) {
    this.config = config;
  }

  /**
   * The result future of an admitted publish, counted until it completes; or, when the publish is
   * refused, a future already failed with PAYLOAD_TOO_LARGE or TOO_MANY_REQUESTS
   * ({@code too_many_pending}).
   */
  public CompletableFuture<Message> admit(Message message) {
    if (message.payloadSize() > config.maxMessageBytes()) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.PAYLOAD_TOO_LARGE,
          "payload of " + message.payloadSize() + " bytes is over the client limit of "
              + config.maxMessageBytes() + " bytes (switchboard.max-message-bytes)"));
    }
    if (unanswered.incrementAndGet() > config.maxPendingPublishes()) {
      unanswered.decrementAndGet();
      return CompletableFuture.failedFuture(SwitchboardException.of(Status.TOO_MANY_REQUESTS, "too_many_pending",
          config.maxPendingPublishes() + " publishes already await the server's answer "
              + "(switchboard.max-pending-publishes): wait for some to complete"));
    }
    CompletableFuture<Message> result = new CompletableFuture<>();
    result.whenComplete((m, e) -> unanswered.decrementAndGet());
    return result;
  }
}
