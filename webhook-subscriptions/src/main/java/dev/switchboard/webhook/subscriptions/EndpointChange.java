package dev.switchboard.webhook.subscriptions;

import java.util.List;
import java.util.Map;

/**
 * What to set on an endpoint, at registration or in an update; a null field is left as it is (at
 * registration: the default). Immutable.
 *
 * @param url where deliveries go ({@code http(s)://…}, checked against the {@code TargetPolicy})
 * @param topics the topics to deliver
 * @param scheme {@code standard-webhooks} (default), {@code github} or {@code stripe}
 * @param rateLimit most deliveries per second, 0 for none (default 0)
 * @param maxInFlight deliveries in flight per topic, 1 (default, in order) to 64
 * @param enabled false disables (delivery stops, the cursor stays); true re-enables and resumes from the cursor
 * @param metadata the owner's key/value pairs (replaces the old ones)
 */
public record EndpointChange(String url, List<String> topics, String scheme, Integer rateLimit, Integer maxInFlight,
    Boolean enabled, Map<String, String> metadata) {

  /** A registration with the defaults. */
  public static EndpointChange of(String url, List<String> topics) {
    return new EndpointChange(url, topics, null, null, null, null, null);
  }

  /** An update that only enables or disables. */
  public static EndpointChange enabled(boolean enabled) {
    return new EndpointChange(null, null, null, null, null, enabled, null);
  }
}
