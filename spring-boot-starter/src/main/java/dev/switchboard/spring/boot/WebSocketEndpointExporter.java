package dev.switchboard.spring.boot;

import dev.switchboard.ws.WebSocketTransport;
import jakarta.servlet.ServletContext;
import jakarta.websocket.DeploymentException;
import jakarta.websocket.server.ServerContainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.web.context.ServletContextAware;

/**
 * Adds the WebSocket endpoint to the servlet container's Jakarta {@link ServerContainer} once the
 * context's singletons exist (what Spring's {@code ServerEndpointExporter} does, without needing
 * spring-websocket). The handshake filter is registered separately, as a {@code FilterRegistrationBean}.
 */
class WebSocketEndpointExporter implements ServletContextAware, SmartInitializingSingleton {
  private static final Logger log = LoggerFactory.getLogger(WebSocketEndpointExporter.class);
  private final WebSocketTransport transport;
  private ServletContext servletContext;

  WebSocketEndpointExporter(WebSocketTransport transport) {
    this.transport = transport;
  }

  @Override
  public void setServletContext(ServletContext servletContext) {
    this.servletContext = servletContext;
  }

  @Override
  public void afterSingletonsInstantiated() {
    Object container = servletContext == null ? null
        : servletContext.getAttribute(ServerContainer.class.getName());
    if (!(container instanceof ServerContainer sc)) {
      // A mock servlet environment, or a container without WebSocket support.
      log.warn("Switchboard WebSocket endpoint not exported: the servlet container offers no Jakarta WebSocket "
          + "ServerContainer (add spring-boot-starter-websocket, or set switchboard.server.websocket.enabled=false)");
      return;
    }
    try {
      transport.register(sc);
    } catch (DeploymentException e) {
      throw new IllegalStateException("could not export the Switchboard WebSocket endpoint: " + e.getMessage(), e);
    }
  }
}
