package dev.switchboard.testkit;

import jakarta.websocket.server.ServerContainer;

/**
 * What a test adds to a container's Jakarta WebSocket {@link ServerContainer} while the server
 * deploys, e.g. {@code container -> webSocketTransport.register(container)}; the same code for
 * Jetty, Tomcat and Undertow.
 */
@FunctionalInterface
public interface WebSocketSetup {
  /**
   * Adds endpoints to the container.
   *
   * @throws Exception when the container refuses an endpoint (the server then fails to start)
   */
  void accept(ServerContainer container) throws Exception;
}
