package dev.switchboard.transport;

import java.util.concurrent.CompletionStage;

/**
 * Server-side, one-way fan-out: every subscriber of the topic receives each published message,
 * whatever its transport and whichever node it is connected to.
 *
 * <p>Implementations are thread-safe.
 */
public interface Publisher {
  /**
   * Publishes a draft.
   *
   * @return a stage completed with the stored message (with its id and time), or failed with a
   *     {@link SwitchboardException} (invalid topic → INVALID_ARGUMENT, payload over the limit →
   *     PAYLOAD_TOO_LARGE, broker down → UNAVAILABLE)
   */
  CompletionStage<Message> publish(Message draft);

  /** Publishes a UTF-8 text message. */
  default CompletionStage<Message> publish(String topic, String text) {
    return publish(Message.text(topic, text));
  }
}
