package dev.switchboard.testkit;

import jakarta.servlet.ServletContext;
import jakarta.websocket.server.ServerContainer;

/**
 * What a test adds while the server deploys: WebSocket endpoints to the container's Jakarta
 * WebSocket {@link ServerContainer}, and filters to the {@link ServletContext} (still starting, so
 * filters can be added), e.g. {@code webSocketTransport::register} for its handshake filter and
 * endpoint; the same code for Jetty, Tomcat and Undertow.
 */
@FunctionalInterface
public interface WebSocketSetup {
  /**
   * Adds endpoints to the container and, if it wants, filters to the context.
   *
   * @throws Exception when the container refuses an endpoint (the server then fails to start)
   */
  void accept(ServletContext context, ServerContainer container) throws Exception;
}
