package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Service-provider interface for the message store and fan-out behind a {@link Hub}: the embedded
 * {@link InMemoryBroker}, or a broker that spans nodes (Redis).
 *
 * <p>Contract: {@link #publish} stores the message (assigning id and time) <em>before</em> any
 * listener sees it, so a history read that starts after a listener is registered contains every
 * message that listener may have missed. Listener calls for one topic are serialised and in id
 * order. Implementations are thread-safe.
 */
public interface Broker extends AutoCloseable {
  /**
   * Stores and fans out a draft.
   *
   * @return the stored message; failed with a {@code SwitchboardException} (UNAVAILABLE when the
   *     backing store is down — never success for a message that was not stored)
   */
  CompletionStage<Message> publish(Message draft);

  /**
   * Registers a live listener for a topic (no history). The listener must not block. When this
   * returns, the listener gets every message published from then on (a broker that subscribes
   * remotely waits for the subscription to be in place).
   *
   * @return a handle whose {@code close()} removes the listener
   * @throws dev.switchboard.transport.SwitchboardException UNAVAILABLE when the subscription cannot be made
   */
  AutoCloseable subscribe(String topic, Listener listener);

  /**
   * Reads history.
   *
   * @param afterId return messages after this id; {@code null} for the oldest retained onwards. An
   *     id this broker did not issue for the topic (malformed for this broker, from another epoch or
   *     node, or newer than the topic's newest) is a gap, not an error: the page starts at the
   *     oldest retained message with {@code recovered} false. (The hub checks the id's syntax,
   *     {@link dev.switchboard.transport.Topics#requireValidId}, before it gets here.)
   * @param limit at most this many (0 returns none, still reporting {@code latestId})
   * @return the page; failed with a {@code SwitchboardException} only when the store cannot answer
   *     (UNAVAILABLE)
   */
  CompletionStage<History> history(String topic, String afterId, int limit);

  /** One message by id, if still retained. */
  CompletionStage<Optional<Message>> get(String topic, String id);

  /**
   * How this broker's ids order within one topic, or null when they cannot be compared. A hub uses
   * it when a resuming subscriber joins the live feed: a broker whose live delivery can lag behind
   * its store (one spanning nodes) may still deliver messages the history replay already sent, and
   * with an order they are recognised and dropped. Applies only to ids this broker made.
   */
  default java.util.Comparator<String> idOrder() {
    return null;
  }

  /** Releases resources; later calls fail. */
  @Override
  void close();

  /** A live-message callback. */
  @FunctionalInterface
  interface Listener {
    void onMessage(Message message);
  }

  /**
   * One page of history.
   *
   * @param messages in id order
   * @param recovered false when {@code afterId} is older than the retained history (or from another
   *     epoch): a gap, and {@code messages} start at the oldest retained message
   * @param latestId the newest id of the topic, or null when it has none
   */
  record History(List<Message> messages, boolean recovered, String latestId) {
    public History {
      messages = List.copyOf(messages);
    }
  }
}
