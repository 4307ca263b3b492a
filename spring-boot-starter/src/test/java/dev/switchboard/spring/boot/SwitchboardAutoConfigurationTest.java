package dev.switchboard.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.micrometer.SwitchboardMetrics;
import dev.switchboard.micrometer.WebhookMetrics;
import dev.switchboard.spring.boot.SwitchboardGrpcAutoConfiguration.GrpcServerLifecycle;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookVerifier;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.web.servlet.FilterRegistrationBean;

/** The auto-configuration's choices, without a web server (the example app tests it on Tomcat). */
class SwitchboardAutoConfigurationTest {
  private static final AutoConfigurations ALL = AutoConfigurations.of(SwitchboardAutoConfiguration.class,
      SwitchboardGrpcAutoConfiguration.class, SwitchboardMetricsAutoConfiguration.class,
      SwitchboardWebhookAutoConfiguration.class, SwitchboardHealthAutoConfiguration.class);

  private final WebApplicationContextRunner web = new WebApplicationContextRunner().withConfiguration(ALL);
  private final ApplicationContextRunner plain = new ApplicationContextRunner().withConfiguration(ALL);

  @Test
  void defaults_mountHubFiltersWebSocketMetricsAndWebhookSender() {
    web.withPropertyValues("switchboard.server.base-path=/rt", "switchboard.server.max-connections=7")
        .run(ctx -> {
          Hub hub = ctx.getBean(Hub.class);
          assertEquals(7, hub.maxConnections());
          assertTrue(hub.broker() instanceof InMemoryBroker);
          FilterRegistrationBean<?> sse = ctx.getBean("switchboardSseFilter", FilterRegistrationBean.class);
          assertEquals(java.util.Set.of("/rt/v1/*"), sse.getUrlPatterns());
          assertTrue(sse.isAsyncSupported());
          assertTrue(ctx.containsBean("switchboardHttpFilter"));
          assertTrue(ctx.containsBean("switchboardWebSocketHandshakeFilter"));
          assertTrue(ctx.containsBean("switchboardWebSocketEndpointExporter"));
          assertEquals(1, ctx.getBeansOfType(SwitchboardMetrics.class).size());
          assertEquals(1, ctx.getBeansOfType(WebhookMetrics.class).size());
          assertEquals(1, ctx.getBeansOfType(WebhookSender.class).size());
          assertFalse(ctx.containsBean("switchboardWebhookFilter"), "no verifier bean, no webhook filter");
          assertFalse(ctx.containsBean("switchboardGrpcServer"), "no port, no gRPC server");
          assertEquals(1, ctx.getBeansOfType(SwitchboardHealthAutoConfiguration.SwitchboardHealthIndicator.class).size());
        });
  }

  @Test
  void userBeans_areUsedInsteadOfTheDefaults() {
    Broker mine = new InMemoryBroker();
    Authenticator nobody = handshake -> null;
    plain.withBean(Broker.class, () -> mine).withBean(Authenticator.class, () -> nobody)
        .withBean(WebhookVerifier.class, () -> WebhookVerifier.github("s3cret").build())
        .run(ctx -> {
          assertSame(mine, ctx.getBean(Hub.class).broker());
          assertEquals(1, ctx.getBeansOfType(Broker.class).size());
          dev.switchboard.transport.SwitchboardException refused = org.junit.jupiter.api.Assertions.assertThrows(
              dev.switchboard.transport.SwitchboardException.class, () -> ctx.getBean(Hub.class)
                  .authenticate(new dev.switchboard.hub.Handshake("ws", null, java.util.Map.of(), java.util.Map.of())));
          assertEquals(dev.switchboard.transport.Status.UNAUTHENTICATED, refused.status());
          assertFalse(ctx.containsBean("switchboardSseFilter"), "not a web application: no filters");
        });
    web.withBean(WebhookVerifier.class, () -> WebhookVerifier.github("s3cret").build())
        .run(ctx -> assertTrue(ctx.containsBean("switchboardWebhookFilter")));
  }

  @Test
  void disabled_mountsNothing() {
    web.withPropertyValues("switchboard.server.enabled=false")
        .run(ctx -> assertTrue(ctx.getBeansOfType(Hub.class).isEmpty()));
  }

  @Test
  void badBrokerSetting_failsStartupNamingTheArtifact() {
    plain.withPropertyValues("switchboard.server.broker=redis://127.0.0.1:6379").run(ctx -> {
      assertTrue(ctx.getStartupFailure() != null);
      Throwable root = ctx.getStartupFailure();
      while (root.getCause() != null) {
        root = root.getCause();
      }
      assertTrue(root.getMessage().contains("switchboard-broker-redis"), root.getMessage());
    });
  }

  @Test
  void grpcPort_startsTheGrpcServiceAndStopsItWithTheContext() {
    plain.withPropertyValues("switchboard.server.grpc.port=0").run(ctx -> {
      GrpcServerLifecycle grpc = ctx.getBean(GrpcServerLifecycle.class);
      assertTrue(grpc.isRunning());
      Hub hub = ctx.getBean(Hub.class);
      try (Channel c = Transports.open(TransportConfig.builder().transport("grpc")
          .url("grpc://127.0.0.1:" + grpc.port()).requestTimeout(Duration.ofSeconds(30)).build())) {
        Message m = c.send(Message.builder("t").text("over grpc").build()).toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        assertEquals("over grpc", hub.message(Authenticator.ANONYMOUS, "t", m.id()).toCompletableFuture()
            .get(30, TimeUnit.SECONDS).text());
      }
    });
  }
}
