package dev.switchboard.hub;

import java.net.URI;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * Makes the broker a configuration value ({@code switchboard.broker}): {@code memory} for the
 * embedded {@link InMemoryBroker}, or a URI whose scheme a {@link BrokerProvider} on the class path
 * serves ({@code redis://host:6379} with {@code switchboard-broker-redis},
 * {@code kafka://host:9092[,host2:9092…]?topic=…} with {@code switchboard-broker-kafka}).
 *
 * <pre>{@code
 * Hub hub = Hub.builder().broker(Brokers.create(System.getProperty("switchboard.broker", "memory"))).build();
 * }</pre>
 */
public final class Brokers {
  private Brokers() {}

  /**
   * @throws IllegalArgumentException for a malformed spec, or a scheme no provider serves (naming
   *     the artifact to add)
   */
  public static Broker create(String spec) {
    String s = spec == null ? "" : spec.trim();
    if (s.equals("memory") || s.equals("memory://")) {
      return new InMemoryBroker();
    }
    URI uri;
    try {
      uri = URI.create(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("switchboard.broker must be 'memory' or a URI such as redis://host:6379, not '"
          + s + "'", e);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    for (BrokerProvider p : ServiceLoader.load(BrokerProvider.class, Brokers.class.getClassLoader())) {
      if (p.schemes().contains(scheme)) {
        return p.create(uri);
      }
    }
    if (scheme.equals("redis") || scheme.equals("rediss")) {
      throw new IllegalArgumentException("switchboard.broker=" + s
          + " needs dev.switchboard:switchboard-broker-redis on the class path");
    }
    if (scheme.equals("kafka")) {
      throw new IllegalArgumentException("switchboard.broker=" + s
          + " needs dev.switchboard:switchboard-broker-kafka on the class path");
    }
    throw new IllegalArgumentException("switchboard.broker: no broker serves '" + scheme
        + "://' (use 'memory', redis://host:6379 or kafka://host:9092)");
  }
}
