package dev.switchboard.testkit;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import java.net.URI;
import java.util.EnumSet;
import java.util.List;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * An embedded Jetty 12 (ee10) server on 127.0.0.1 serving HTTP/1.1 and cleartext HTTP/2 (h2c, by
 * upgrade or prior knowledge) on one port, with the given filters mapped to {@code /*} (async
 * supported). For tests and examples.
 *
 * <p>Not thread-safe: start and stop from one thread.
 */
public final class EmbeddedJetty implements TransportContractTest.Server {
  private final Server server;
  private final ServerConnector connector;

  private EmbeddedJetty(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  /**
   * Starts a server.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Jetty cannot start (port taken, …)
   */
  public static EmbeddedJetty start(int port, List<? extends Filter> filters) throws Exception {
    return start(port, filters, context -> { });
  }

  /** What a test adds to the servlet context before the server starts (e.g. a WebSocket endpoint). */
  @FunctionalInterface
  public interface ContextSetup {
    void accept(ServletContextHandler context) throws Exception;
  }

  /**
   * Starts a server, letting {@code setup} add to the context (a WebSocket container, servlets).
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Jetty cannot start (port taken, …)
   */
  public static EmbeddedJetty start(int port, List<? extends Filter> filters, ContextSetup setup) throws Exception {
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    ServerConnector connector = new ServerConnector(server,
        new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    connector.setReuseAddress(true);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    for (Filter f : filters) {
      FilterHolder holder = new FilterHolder(f);
      holder.setAsyncSupported(true);
      context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    setup.accept(context);
    server.setHandler(context);
    server.start();
    return new EmbeddedJetty(server, connector);
  }

  /** The bound port. */
  @Override
  public int port() {
    return connector.getLocalPort();
  }

  /** {@code http://127.0.0.1:<port>} */
  @Override
  public URI url() {
    return URI.create("http://127.0.0.1:" + port());
  }

  /** Open TCP connections to the server right now. */
  public int openConnections() {
    return connector.getConnectedEndPoints().size();
  }

  /** Stops the server, closing every connection. */
  @Override
  public void close() throws Exception {
    server.stop();
  }
}
