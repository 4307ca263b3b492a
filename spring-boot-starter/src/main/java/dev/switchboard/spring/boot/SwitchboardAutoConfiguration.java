package dev.switchboard.spring.boot;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Authorizer;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Brokers;
import dev.switchboard.hub.Hub;
import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.ws.WebSocketTransport;
import jakarta.servlet.DispatcherType;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Mounts a Switchboard {@link Hub} in a Spring Boot application: the hub (a
 * {@link dev.switchboard.transport.Publisher} to inject), its broker ({@code switchboard.server.broker}),
 * the REST/long-poll and SSE filters and the WebSocket endpoint on Boot's servlet container, and a
 * lifecycle that shuts the hub down before the web server's graceful shutdown, so open streams,
 * sessions and polls are told at once and do not hold the shutdown up.
 *
 * <p>An {@link Authenticator}, {@link Authorizer} or {@link Broker} bean of the application is used
 * instead of the default (everyone anonymous, everything allowed, the broker named by the property);
 * a {@link Hub} bean replaces the hub. {@code switchboard.server.enabled=false} turns it all off.
 */
@AutoConfiguration
@ConditionalOnClass(Hub.class)
@ConditionalOnBooleanProperty(name = "switchboard.server.enabled", matchIfMissing = true)
@EnableConfigurationProperties(SwitchboardProperties.class)
public class SwitchboardAutoConfiguration {
  /** Filter order of the Switchboard filters: after Spring Security's chain (-100), before most others. */
  public static final int FILTER_ORDER = 0;

  /** The broker named by {@code switchboard.server.broker}, unless the application defines one. */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public Broker switchboardBroker(SwitchboardProperties properties) {
    return Brokers.create(properties.getBroker());
  }

  /** The hub, built from the properties and the application's authenticator and authorizer. */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public Hub switchboardHub(SwitchboardProperties p, Broker broker, ObjectProvider<Authenticator> authenticator,
      ObjectProvider<Authorizer> authorizer) {
    Hub.Builder b = Hub.builder().broker(broker);
    authenticator.ifAvailable(b::authenticator);
    authorizer.ifAvailable(b::authorizer);
    if (p.getMaxPayloadBytes() != null) {
      b.maxPayloadBytes(p.getMaxPayloadBytes());
    }
    if (p.getMaxHeaders() != null) {
      b.maxHeaders(p.getMaxHeaders());
    }
    if (p.getMaxHeaderBytes() != null) {
      b.maxHeaderBytes(p.getMaxHeaderBytes());
    }
    if (p.getMaxQueuedMessages() != null) {
      b.maxQueuedMessages(p.getMaxQueuedMessages());
    }
    if (p.getMaxQueuedBytes() != null) {
      b.maxQueuedBytes(p.getMaxQueuedBytes());
    }
    if (p.getMaxConnections() != null) {
      b.maxConnections(p.getMaxConnections());
    }
    if (p.getMaxSubscriptionsPerConnection() != null) {
      b.maxSubscriptionsPerConnection(p.getMaxSubscriptionsPerConnection());
    }
    if (p.getMaxPollWait() != null) {
      b.maxPollWait(p.getMaxPollWait());
    }
    return b.build();
  }

  /** Shuts the hub down before the web server's graceful shutdown. */
  @Bean
  public SwitchboardLifecycle switchboardLifecycle(Hub hub) {
    return new SwitchboardLifecycle(hub);
  }

  /** The servlet transports, on Boot's servlet container. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  static class ServletTransports {
    private static String pattern(SwitchboardProperties p) {
      return p.getBasePath() + "/v1/*";
    }

    @Bean
    @ConditionalOnMissingBean(name = "switchboardSseFilter")
    FilterRegistrationBean<SseTransportFilter> switchboardSseFilter(Hub hub, SwitchboardProperties p) {
      SseTransportFilter.Builder b = SseTransportFilter.builder(hub).basePath(p.getBasePath())
          .heartbeat(p.getSse().getHeartbeat()).retry(p.getSse().getRetry());
      p.getAllowedOrigins().forEach(b::allowOrigin);
      return register(b.build(), "switchboardSseFilter", FILTER_ORDER + 1, pattern(p));
    }

    @Bean
    @ConditionalOnMissingBean(name = "switchboardHttpFilter")
    FilterRegistrationBean<HttpTransportFilter> switchboardHttpFilter(Hub hub, SwitchboardProperties p) {
      HttpTransportFilter.Builder b = HttpTransportFilter.builder(hub).basePath(p.getBasePath());
      p.getAllowedOrigins().forEach(b::allowOrigin);
      return register(b.build(), "switchboardHttpFilter", FILTER_ORDER + 2, pattern(p));
    }

    static <F extends jakarta.servlet.Filter> FilterRegistrationBean<F> register(F filter, String name, int order,
        String pattern) {
      FilterRegistrationBean<F> r = new FilterRegistrationBean<>(filter);
      r.setName(name);
      r.setAsyncSupported(true);
      r.setOrder(order);
      r.setDispatcherTypes(DispatcherType.REQUEST);
      r.setUrlPatterns(List.of(pattern));
      return r;
    }
  }

  /** The WebSocket endpoint and its handshake filter, when the container supports Jakarta WebSocket. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnClass(name = "jakarta.websocket.server.ServerContainer")
  @ConditionalOnBooleanProperty(name = "switchboard.server.websocket.enabled", matchIfMissing = true)
  static class WebSocketEndpoint {
    @Bean
    @ConditionalOnMissingBean
    WebSocketTransport switchboardWebSocketTransport(Hub hub, SwitchboardProperties p) {
      WebSocketTransport.Builder b = WebSocketTransport.builder(hub).basePath(p.getBasePath())
          .pingInterval(p.getWebsocket().getPingInterval()).idleTimeout(p.getWebsocket().getIdleTimeout());
      p.getAllowedOrigins().forEach(b::allowOrigin);
      return b.build();
    }

    /**
     * Decides handshakes before the upgrade: 403 (host, origin), 401 (the Authenticator), 503
     * (connection limit, shutdown), each with the JSON error body; never a 101 then a close.
     */
    @Bean
    FilterRegistrationBean<jakarta.servlet.Filter> switchboardWebSocketHandshakeFilter(WebSocketTransport ws,
        SwitchboardProperties p) {
      return ServletTransports.register(ws.handshakeFilter(), "switchboardWebSocketHandshakeFilter", FILTER_ORDER,
          p.getBasePath() + "/v1/ws");
    }

    @Bean
    WebSocketEndpointExporter switchboardWebSocketEndpointExporter(WebSocketTransport ws) {
      return new WebSocketEndpointExporter(ws);
    }
  }
}
