package dev.switchboard.spring.boot;

import dev.switchboard.micrometer.WebhookMetrics;
import dev.switchboard.webhook.DeliveryStore;
import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookVerifier;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Webhooks, when {@code switchboard-webhook} is on the class path: a started {@link WebhookSender}
 * (on the application's {@link DeliveryStore} bean if there is one, else in memory; its attempts
 * counted by the metrics when bound), and, when the application defines a {@link WebhookVerifier}
 * bean, the verifying {@link WebhookFilter} on {@code switchboard.server.webhook.path}.
 */
@AutoConfiguration(after = {SwitchboardAutoConfiguration.class, SwitchboardMetricsAutoConfiguration.class})
@ConditionalOnClass(name = "dev.switchboard.webhook.WebhookSender")
@EnableConfigurationProperties(SwitchboardProperties.class)
public class SwitchboardWebhookAutoConfiguration {
  /** The sender; register endpoints on it and {@code send}. */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public WebhookSender switchboardWebhookSender(ObjectProvider<DeliveryStore> store,
      ObjectProvider<MetricsHook> metrics) {
    WebhookSender.Builder b = WebhookSender.builder();
    store.ifAvailable(b::store);
    MetricsHook hook = metrics.getIfAvailable();
    if (hook != null) {
      hook.configure(b);
    }
    WebhookSender sender = b.build();
    if (hook != null) {
      hook.bind(sender);
    }
    return sender.start();
  }

  /** The sender's meters, when Micrometer and switchboard-micrometer are on the class path. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = {"io.micrometer.core.instrument.MeterRegistry",
      "dev.switchboard.micrometer.WebhookMetrics"})
  static class MetricsHookConfiguration {
    @Bean
    @ConditionalOnMissingBean
    WebhookMetrics switchboardWebhookMetrics() {
      return new WebhookMetrics();
    }

    @Bean
    MetricsHook switchboardWebhookMetricsHook(WebhookMetrics metrics) {
      return new MetricsHook(metrics);
    }
  }

  /** Gives the sender the metrics' listener and the metrics the sender. */
  static final class MetricsHook {
    private final WebhookMetrics metrics;

    MetricsHook(WebhookMetrics metrics) {
      this.metrics = metrics;
    }

    void configure(WebhookSender.Builder b) {
      b.listener(metrics.listener());
    }

    void bind(WebhookSender sender) {
      metrics.sender(sender);
    }
  }

  /** The verifying filter for incoming webhooks. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnBean(WebhookVerifier.class)
  static class Receiving {
    @Bean
    @ConditionalOnMissingBean(name = "switchboardWebhookFilter")
    FilterRegistrationBean<WebhookFilter> switchboardWebhookFilter(WebhookVerifier verifier,
        SwitchboardProperties p) {
      return SwitchboardAutoConfiguration.ServletTransports.register(WebhookFilter.builder(verifier).build(),
          "switchboardWebhookFilter", SwitchboardAutoConfiguration.FILTER_ORDER, p.getWebhook().getPath());
    }
  }
}
