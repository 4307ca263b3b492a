package dev.switchboard.kafka;

import dev.switchboard.hub.Broker;
import dev.switchboard.hub.BrokerProvider;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;

/**
 * Serves {@code switchboard.broker=kafka://host:9092[,host2:9092…][?topic=…&partitions=…]} for
 * {@link dev.switchboard.hub.Brokers#create}. Query parameters: {@code topic}, {@code partitions},
 * {@code replicationFactor}, {@code maxMessagesPerTopic}, {@code indexMaxBytes}, {@code timeoutMs},
 * {@code lingerMs}; the rest are {@link KafkaBroker}'s defaults. An unknown parameter or a bad value
 * is refused with an {@link IllegalArgumentException} naming it. Thread-safe.
 */
public final class KafkaBrokerProvider implements BrokerProvider {
  @Override
  public Set<String> schemes() {
    return Set.of("kafka");
  }

  @Override
  public Broker create(URI uri) {
    String servers = uri.getRawAuthority();
    if (servers == null || servers.isBlank()) {
      throw new IllegalArgumentException("switchboard.broker=" + uri + ": name the Kafka servers, e.g. kafka://host:9092,host2:9092");
    }
    KafkaBroker.Builder b = KafkaBroker.builder(servers);
    String query = uri.getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        try {
          switch (key) {
            case "topic" -> b.topic(value);
            case "partitions" -> b.partitions(Integer.parseInt(value));
            case "replicationFactor" -> b.replicationFactor(Integer.parseInt(value));
            case "maxMessagesPerTopic" -> b.maxMessagesPerTopic(Integer.parseInt(value));
            case "indexMaxBytes" -> b.indexMaxBytes(Long.parseLong(value));
            case "timeoutMs" -> b.timeout(Duration.ofMillis(Long.parseLong(value)));
            case "lingerMs" -> b.linger(Duration.ofMillis(Long.parseLong(value)));
            default -> throw new IllegalArgumentException("switchboard.broker: unknown Kafka parameter '" + key
                + "' (known: topic, partitions, replicationFactor, maxMessagesPerTopic, indexMaxBytes, timeoutMs, lingerMs)");
          }
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("switchboard.broker: " + key + " must be a number, not '" + value + "'", e);
        }
      }
    }
    return b.build();
  }
}
