package dev.switchboard.spring.boot;

import dev.switchboard.hub.Hub;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.actuate.health.AbstractHealthIndicator;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The {@code switchboard} health contributor (Spring Boot 3.x Actuator): UP while the hub runs and
 * its broker answers a history read within two seconds, with connection and subscription counts.
 */
@AutoConfiguration(after = SwitchboardAutoConfiguration.class)
@ConditionalOnClass(name = "org.springframework.boot.actuate.health.AbstractHealthIndicator")
@ConditionalOnBean(Hub.class)
public class SwitchboardHealthAutoConfiguration {
  /** The indicator, named {@code switchboard} in {@code /actuator/health}. */
  @Bean
  @ConditionalOnMissingBean(name = "switchboardHealthIndicator")
  public SwitchboardHealthIndicator switchboardHealthIndicator(Hub hub) {
    return new SwitchboardHealthIndicator(hub, Duration.ofSeconds(2));
  }

  /** Hub running and broker reachable. Thread-safe. */
  public static class SwitchboardHealthIndicator extends AbstractHealthIndicator {
    /** A topic the check reads (no message is written to it). */
    static final String PROBE_TOPIC = "switchboard.health";
    private final Hub hub;
    private final Duration timeout;

    SwitchboardHealthIndicator(Hub hub, Duration timeout) {
      super("Switchboard health check failed");
      this.hub = hub;
      this.timeout = timeout;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) throws Exception {
      builder.withDetail("connections", hub.connectionCount()).withDetail("subscriptions", hub.subscriberCount());
      if (!hub.isRunning()) {
        builder.down().withDetail("hub", "shut down");
        return;
      }
      // Reaching the broker: a read of nothing, answered by the broker's store (Redis for RedisBroker).
      hub.broker().history(PROBE_TOPIC, null, 0).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      builder.up().withDetail("broker", hub.broker().getClass().getSimpleName());
    }
  }
}
