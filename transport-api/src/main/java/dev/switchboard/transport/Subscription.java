package dev.switchboard.transport;

/**
 * A client's subscription to one topic on a {@link Channel}. It survives reconnects: after a dropped
 * connection the channel resumes it from {@link #lastId()}.
 *
 * <p>Thread-safe.
 */
public interface Subscription extends AutoCloseable {
  String topic();

  /** The id of the last message delivered to the listener, or {@code null} if none yet. */
  String lastId();

  /** Whether the subscription still delivers (false after {@link #close()} or a terminal error). */
  boolean isActive();

  /** Stops the subscription; no listener callback follows. Idempotent. */
  @Override
  void close();
}
