package dev.switchboard.testkit;

import jakarta.servlet.Filter;
import java.util.List;

/**
 * The Servlet 6 containers the testkit embeds, so one test runs on each by naming it: a contract
 * test's subclass for Tomcat overrides one method to return {@link #TOMCAT}. Every server listens on
 * 127.0.0.1 with HTTP/1.1 and h2c, the filters mapped to {@code /*} with async support.
 *
 * <p>Thread-safe (stateless); each server it starts is not.
 */
public enum EmbeddedContainer {
  /** Jetty 12.1 (ee10), {@link EmbeddedJetty}. */
  JETTY {
    @Override
    public TransportContractTest.Server start(int port, List<? extends Filter> filters, WebSocketSetup webSocket)
        throws Exception {
      if (webSocket == null) {
        return EmbeddedJetty.start(port, filters);
      }
      return EmbeddedJetty.start(port, filters, EmbeddedJetty.webSocket(webSocket));
    }
  },
  /** Tomcat 11 (tomcat-embed-core, tomcat-embed-websocket), {@link EmbeddedTomcat}. */
  TOMCAT {
    @Override
    public TransportContractTest.Server start(int port, List<? extends Filter> filters, WebSocketSetup webSocket)
        throws Exception {
      return EmbeddedTomcat.start(port, filters, webSocket);
    }
  },
  /** Undertow 2.3 (undertow-servlet, undertow-websockets-jsr), {@link EmbeddedUndertow}. */
  UNDERTOW {
    @Override
    public TransportContractTest.Server start(int port, List<? extends Filter> filters, WebSocketSetup webSocket)
        throws Exception {
      return EmbeddedUndertow.start(port, filters, webSocket);
    }
  };

  /**
   * Starts a server with the filters and, if {@code webSocket} is not null, the container's Jakarta
   * WebSocket support with what it adds.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when the server cannot start (port taken, an endpoint refused, …)
   */
  public abstract TransportContractTest.Server start(int port, List<? extends Filter> filters,
      WebSocketSetup webSocket) throws Exception;

  /**
   * Starts a server with the filters only.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when the server cannot start
   */
  public TransportContractTest.Server start(int port, List<? extends Filter> filters) throws Exception {
    return start(port, filters, null);
  }
}
