package dev.switchboard.redis;

import dev.switchboard.hub.Broker;
import dev.switchboard.hub.BrokerProvider;
import java.net.URI;
import java.util.Set;

/**
 * Serves {@code switchboard.broker=redis://…} (and {@code rediss://}, {@code redis-cluster://host:port,host:port},
 * {@code rediss-cluster://}) for
 * {@link dev.switchboard.hub.Brokers#create}, with {@link RedisBroker}'s defaults. Thread-safe.
 */
public final class RedisBrokerProvider implements BrokerProvider {
  @Override
  public Set<String> schemes() {
    return Set.of("redis", "rediss", "redis-cluster", "rediss-cluster");
  }

  @Override
  public Broker create(URI uri) {
    return RedisBroker.builder(uri.toString()).build();
  }
}
