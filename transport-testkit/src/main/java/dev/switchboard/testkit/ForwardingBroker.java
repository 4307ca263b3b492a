package dev.switchboard.testkit;

import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import java.util.Comparator;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * A {@link Broker} that forwards every call to another, for tests that change one call (a publish
 * that never answers, a failing history read). Thread-safe as the broker it forwards to.
 */
public class ForwardingBroker implements Broker {
  private final Broker delegate;

  public ForwardingBroker(Broker delegate) {
    this.delegate = delegate;
  }

  @Override
  public CompletionStage<Message> publish(Message draft) {
    return delegate.publish(draft);
  }

  @Override
  public AutoCloseable subscribe(String topic, Listener listener) {
    return delegate.subscribe(topic, listener);
  }

  @Override
  public CompletionStage<History> history(String topic, String afterId, int limit) {
    return delegate.history(topic, afterId, limit);
  }

  @Override
  public CompletionStage<Optional<Message>> get(String topic, String id) {
    return delegate.get(topic, id);
  }

  @Override
  public Comparator<String> idOrder() {
    return delegate.idOrder();
  }

  @Override
  public void close() {
    delegate.close();
  }
}
