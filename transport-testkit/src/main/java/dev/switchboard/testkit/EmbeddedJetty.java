package dev.switchboard.testkit;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import java.net.URI;
import java.util.EnumSet;
import java.util.List;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import jakarta.websocket.DeploymentException;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * An embedded Jetty 12 (ee10) server on 127.0.0.1 serving HTTP/1.1 and cleartext HTTP/2 (h2c, by
 * upgrade or prior knowledge) on one port, with the given filters mapped to {@code /*} (async
 * supported). For tests and examples. {@link #startTls} serves HTTPS instead: TLS with ALPN choosing
 * HTTP/2 ({@code h2}) or HTTP/1.1.
 *
 * <p>Not thread-safe: start and stop from one thread.
 */
public final class EmbeddedJetty implements TransportContractTest.Server {
  private final Server server;
  private final ServerConnector connector;
  private final boolean tls;

  private EmbeddedJetty(Server server, ServerConnector connector, boolean tls) {
    this.server = server;
    this.connector = connector;
    this.tls = tls;
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
    return start(port, filters, setup, null);
  }

  /**
   * Starts an HTTPS server (TLS, ALPN {@code h2} and {@code http/1.1}) with this certificate.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Jetty cannot start (port taken, key store unreadable, …)
   */
  public static EmbeddedJetty startTls(int port, List<? extends Filter> filters, ContextSetup setup,
      SelfSignedCertificate certificate) throws Exception {
    return start(port, filters, setup, certificate);
  }

  /** A context setup adding Jetty's Jakarta WebSocket container with what {@code webSocket} adds. */
  public static ContextSetup webSocket(WebSocketSetup webSocket) {
    return context -> JakartaWebSocketServletContainerInitializer.configure(context, (servletContext, container) -> {
      try {
        webSocket.accept(servletContext, container);
      } catch (DeploymentException | RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new DeploymentException("WebSocket setup failed", e);
      }
    });
  }

  /** A servlet context at {@code /} with the filters mapped to {@code /*}, async supported. */
  public static ServletContextHandler context(List<? extends Filter> filters) {
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    for (Filter f : filters) {
      FilterHolder holder = new FilterHolder(f);
      holder.setAsyncSupported(true);
      context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    return context;
  }

  /** Jetty's server-side TLS settings for a certificate's key store. */
  public static SslContextFactory.Server sslContextFactory(SelfSignedCertificate certificate) {
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setKeyStorePath(certificate.keyStore().toString());
    ssl.setKeyStorePassword(certificate.password());
    return ssl;
  }

  /**
   * An HTTPS connector on {@code server} (the caller sets host and port and adds it): TLS, then ALPN
   * choosing HTTP/2 or HTTP/1.1 (the default for clients without ALPN). The request customizer
   * accepts clients that connect by IP address or send no SNI (no SNI host check).
   *
   * @param config the HTTP settings, to which a {@link SecureRequestCustomizer} is added
   */
  public static ServerConnector httpsConnector(Server server, SslContextFactory.Server ssl, HttpConfiguration config) {
    SecureRequestCustomizer secure = new SecureRequestCustomizer();
    secure.setSniHostCheck(false);
    config.addCustomizer(secure);
    HttpConnectionFactory http1 = new HttpConnectionFactory(config);
    HTTP2ServerConnectionFactory h2 = new HTTP2ServerConnectionFactory(config);
    ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
    alpn.setDefaultProtocol(http1.getProtocol());
    return new ServerConnector(server, new SslConnectionFactory(ssl, alpn.getProtocol()), alpn, h2, http1);
  }

  private static EmbeddedJetty start(int port, List<? extends Filter> filters, ContextSetup setup,
      SelfSignedCertificate certificate) throws Exception {
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    ServerConnector connector = certificate == null
        ? new ServerConnector(server, new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config))
        : httpsConnector(server, sslContextFactory(certificate), config);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    connector.setReuseAddress(true);
    server.addConnector(connector);
    ServletContextHandler context = context(filters);
    setup.accept(context);
    server.setHandler(context);
    server.start();
    return new EmbeddedJetty(server, connector, certificate != null);
  }

  /** The bound port. */
  @Override
  public int port() {
    return connector.getLocalPort();
  }

  /** {@code http://127.0.0.1:<port>}, or {@code https://…} for {@link #startTls}. */
  @Override
  public URI url() {
    return URI.create((tls ? "https" : "http") + "://127.0.0.1:" + port());
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
