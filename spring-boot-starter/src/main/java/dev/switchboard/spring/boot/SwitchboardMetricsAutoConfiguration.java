package dev.switchboard.spring.boot;

import dev.switchboard.hub.Hub;
import dev.switchboard.micrometer.SwitchboardMetrics;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Binds the hub's meters when {@code switchboard-micrometer} and Micrometer are on the class path:
 * {@link SwitchboardMetrics} is a {@code MeterBinder}, which Boot's metrics support binds to every
 * registry (so they show at {@code /actuator/metrics} and {@code /actuator/prometheus}).
 */
@AutoConfiguration(after = SwitchboardAutoConfiguration.class)
@ConditionalOnClass(name = {"io.micrometer.core.instrument.MeterRegistry",
    "dev.switchboard.micrometer.SwitchboardMetrics"})
@ConditionalOnBean(Hub.class)
public class SwitchboardMetricsAutoConfiguration {
  /** The hub's meters (and the webhook sender's, when there is one). */
  @Bean
  @ConditionalOnMissingBean
  public SwitchboardMetrics switchboardMetrics(Hub hub) {
    return new SwitchboardMetrics(hub);
  }
}
