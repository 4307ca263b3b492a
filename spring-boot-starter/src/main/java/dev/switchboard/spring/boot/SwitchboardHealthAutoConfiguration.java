package dev.switchboard.spring.boot;

import dev.switchboard.hub.Hub;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The {@code switchboard} health contributor for Spring Boot Actuator: UP while the hub runs and its
 * broker answers a history read within two seconds, with connection and subscription counts as
 * details. Boot 3 ({@code org.springframework.boot.actuate.health}) and Boot 4
 * ({@code org.springframework.boot.health.contributor}) each get their own indicator class.
 */
@AutoConfiguration(after = SwitchboardAutoConfiguration.class)
@ConditionalOnBean(Hub.class)
public class SwitchboardHealthAutoConfiguration {
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  /** Spring Boot 3.x Actuator. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.actuate.health.AbstractHealthIndicator")
  static class Boot3 {
    @Bean
    @ConditionalOnMissingBean(name = "switchboardHealthIndicator")
    SwitchboardHealthIndicator switchboardHealthIndicator(Hub hub) {
      return new SwitchboardHealthIndicator(hub);
    }
  }

  /** Spring Boot 4.x ({@code spring-boot-health}). */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.health.contributor.AbstractHealthIndicator")
  @ConditionalOnMissingClass("org.springframework.boot.actuate.health.AbstractHealthIndicator")
  static class Boot4 {
    @Bean
    @ConditionalOnMissingBean(name = "switchboardHealthIndicator")
    SwitchboardBoot4HealthIndicator switchboardHealthIndicator(Hub hub) {
      return new SwitchboardBoot4HealthIndicator(hub);
    }
  }

  /**
   * The check both indicators run: details, then whether the hub runs (false: DOWN); throws when the
   * broker does not answer in time (DOWN with the error).
   */
  static boolean check(Hub hub, Map<String, Object> details) throws Exception {
    details.put("connections", hub.connectionCount());
    details.put("subscriptions", hub.subscriberCount());
    if (!hub.isRunning()) {
      details.put("hub", "shut down");
      return false;
    }
    // Reaching the broker: a read of nothing, answered by its store (Redis for RedisBroker).
    hub.broker().history("switchboard.health", null, 0).toCompletableFuture()
        .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    details.put("broker", hub.broker().getClass().getSimpleName());
    return true;
  }

  /** Boot 3: hub running and broker reachable. Thread-safe. */
  public static class SwitchboardHealthIndicator extends org.springframework.boot.actuate.health.AbstractHealthIndicator {
    private final Hub hub;

    SwitchboardHealthIndicator(Hub hub) {
      super("Switchboard health check failed");
      this.hub = hub;
    }

    @Override
    protected void doHealthCheck(org.springframework.boot.actuate.health.Health.Builder builder) throws Exception {
      Map<String, Object> details = new LinkedHashMap<>();
      boolean up = check(hub, details);
      (up ? builder.up() : builder.down()).withDetails(details);
    }
  }

  /** Boot 4: hub running and broker reachable. Thread-safe. */
  public static class SwitchboardBoot4HealthIndicator
      extends org.springframework.boot.health.contributor.AbstractHealthIndicator {
    private final Hub hub;

    SwitchboardBoot4HealthIndicator(Hub hub) {
      super("Switchboard health check failed");
      this.hub = hub;
    }

    @Override
    protected void doHealthCheck(org.springframework.boot.health.contributor.Health.Builder builder) throws Exception {
      Map<String, Object> details = new LinkedHashMap<>();
      boolean up = check(hub, details);
      (up ? builder.up() : builder.down()).withDetails(details);
    }
  }
}
