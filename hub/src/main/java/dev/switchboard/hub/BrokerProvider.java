package dev.switchboard.hub;

import java.net.URI;

/**
 * Service-provider interface that makes a {@link Broker} from a URI such as
 * {@code redis://host:6379}, found with {@link java.util.ServiceLoader} by {@link Brokers#create}.
 * Implementations are thread-safe.
 */
public interface BrokerProvider {
  /** The URI schemes this provider serves, e.g. {@code redis} and {@code rediss}. */
  java.util.Set<String> schemes();

  /**
   * Connects a broker.
   *
   * @throws dev.switchboard.transport.SwitchboardException UNAVAILABLE when its store cannot be reached
   */
  Broker create(URI uri);
}
