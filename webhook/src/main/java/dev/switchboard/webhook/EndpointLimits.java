package dev.switchboard.webhook;

/**
 * How many webhook endpoints one principal may register, and how many topics one endpoint may
 * subscribe to. Over a limit is refused with a {@link WebhookRegistrationException} (400
 * {@code too_many_endpoints} / {@code too_many_topics}), never trimmed silently.
 *
 * <p>Immutable and thread-safe.
 */
public final class EndpointLimits {
  /** Default endpoints per principal. */
  public static final int DEFAULT_MAX_ENDPOINTS_PER_PRINCIPAL = 100;
  /** Default topics per endpoint. */
  public static final int DEFAULT_MAX_TOPICS_PER_ENDPOINT = 100;

  private final int maxEndpointsPerPrincipal;
  private final int maxTopicsPerEndpoint;

  private EndpointLimits(int maxEndpointsPerPrincipal, int maxTopicsPerEndpoint) {
    this.maxEndpointsPerPrincipal = maxEndpointsPerPrincipal;
    this.maxTopicsPerEndpoint = maxTopicsPerEndpoint;
  }

  /** The defaults: 100 endpoints per principal, 100 topics per endpoint. */
  public static EndpointLimits defaults() {
    return of(DEFAULT_MAX_ENDPOINTS_PER_PRINCIPAL, DEFAULT_MAX_TOPICS_PER_ENDPOINT);
  }

  /**
   * @throws IllegalArgumentException if a limit is below 1
   */
  public static EndpointLimits of(int maxEndpointsPerPrincipal, int maxTopicsPerEndpoint) {
    if (maxEndpointsPerPrincipal < 1) {
      throw new IllegalArgumentException("maxEndpointsPerPrincipal must be >= 1: " + maxEndpointsPerPrincipal);
    }
    if (maxTopicsPerEndpoint < 1) {
      throw new IllegalArgumentException("maxTopicsPerEndpoint must be >= 1: " + maxTopicsPerEndpoint);
    }
    return new EndpointLimits(maxEndpointsPerPrincipal, maxTopicsPerEndpoint);
  }

  public int maxEndpointsPerPrincipal() {
    return maxEndpointsPerPrincipal;
  }

  public int maxTopicsPerEndpoint() {
    return maxTopicsPerEndpoint;
  }

  /**
   * @param topics how many topics the endpoint asks for
   * @throws WebhookRegistrationException 400 {@code too_many_topics} above the limit
   */
  public void checkTopics(int topics) {
    if (topics > maxTopicsPerEndpoint) {
      throw new WebhookRegistrationException(400, WebhookRegistrationException.TOO_MANY_TOPICS,
          "an endpoint may subscribe to at most " + maxTopicsPerEndpoint + " topics, not " + topics
              + "; register several endpoints or use fewer topics");
    }
  }

  /**
   * @param existing how many endpoints the principal already has
   * @throws WebhookRegistrationException 400 {@code too_many_endpoints} when one more is over the limit
   */
  public void checkOneMoreEndpoint(String principal, int existing) {
    if (existing >= maxEndpointsPerPrincipal) {
      throw new WebhookRegistrationException(400, WebhookRegistrationException.TOO_MANY_ENDPOINTS,
          principal + " already has " + existing + " webhook endpoints, the limit; remove one first");
    }
  }

  @Override
  public String toString() {
    return "EndpointLimits{endpoints/principal=" + maxEndpointsPerPrincipal + ", topics/endpoint=" + maxTopicsPerEndpoint + "}";
  }
}
