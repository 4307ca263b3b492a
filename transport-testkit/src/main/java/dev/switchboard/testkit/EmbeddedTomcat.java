package dev.switchboard.testkit;

import jakarta.servlet.Filter;
import jakarta.websocket.server.ServerContainer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.http2.Http2Protocol;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.apache.tomcat.websocket.server.WsSci;

/**
 * An embedded Tomcat 11 server on 127.0.0.1 serving HTTP/1.1 and cleartext HTTP/2 (h2c, by upgrade
 * or prior knowledge) on one port, with the given filters mapped to {@code /*} (async supported)
 * and, optionally, Tomcat's Jakarta WebSocket container. For tests and examples.
 *
 * <p>Two things an embedded Tomcat needs that Jetty does not: a servlet mapped to {@code /} (a
 * context made with {@code addContext} has none, and Tomcat runs no filter for a request that maps
 * to no servlet), marked async-supported like the filters (an async request must be async all
 * along its chain); and {@link WsSci} as a container initializer for WebSocket, which puts the
 * {@link ServerContainer} into the servlet context before the endpoints are added (by a second
 * initializer, where filters such as a handshake filter can still be added too).
 *
 * <p>Not thread-safe: start and stop from one thread.
 */
public final class EmbeddedTomcat implements TransportContractTest.Server {
  /**
   * Quieter Tomcat logs (JUL): no INFO per start and stop, and no thread-leak warnings from the
   * web application class loader, which blames the hub's threads (started lazily on a request
   * thread, stopped by the test's {@code hub.shutdown()} after the server). Held, because JUL keeps
   * loggers weakly.
   */
  private static final List<Logger> QUIET = List.of(
      quiet("org.apache.catalina", Level.WARNING),
      quiet("org.apache.coyote", Level.WARNING),
      quiet("org.apache.tomcat", Level.WARNING),
      quiet("org.apache.catalina.loader.WebappClassLoaderBase", Level.SEVERE));

  private final Tomcat tomcat;
  private final Connector connector;
  private final Path baseDir;
  private boolean closed;

  private EmbeddedTomcat(Tomcat tomcat, Connector connector, Path baseDir) {
    this.tomcat = tomcat;
    this.connector = connector;
    this.baseDir = baseDir;
  }

  /**
   * Starts a server with the filters only.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Tomcat cannot start (port taken, …)
   */
  public static EmbeddedTomcat start(int port, List<? extends Filter> filters) throws Exception {
    return start(port, filters, null);
  }

  /**
   * Starts a server with the filters and, if {@code webSocket} is not null, a WebSocket container
   * that it adds endpoints to.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Tomcat cannot start (port taken, an endpoint refused, …)
   */
  public static EmbeddedTomcat start(int port, List<? extends Filter> filters, WebSocketSetup webSocket)
      throws Exception {
    Path baseDir = Files.createTempDirectory("switchboard-tomcat");
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    Connector connector = new Connector(); // HTTP/1.1 NIO
    connector.setPort(port);
    connector.setProperty("address", "127.0.0.1");
    connector.addUpgradeProtocol(new Http2Protocol());
    tomcat.setConnector(connector);

    StandardContext context = (StandardContext) tomcat.addContext("", null);
    context.setClearReferencesThreadLocals(false); // needs --add-opens; a test server has no leaks to clear
    context.setClearReferencesRmiTargets(false);
    // Without a mapped servlet Tomcat answers 404 before any filter runs.
    Wrapper notFound = Tomcat.addServlet(context, "notFound", new NotFoundServlet());
    notFound.setAsyncSupported(true);
    context.addServletMappingDecoded("/", "notFound");
    int i = 0;
    for (Filter f : filters) {
      String name = "filter" + i++;
      FilterDef def = new FilterDef();
      def.setFilterName(name);
      def.setFilter(f);
      def.setAsyncSupported("true");
      context.addFilterDef(def);
      FilterMap map = new FilterMap();
      map.setFilterName(name);
      map.addURLPatternDecoded("/*");
      map.setDispatcher("REQUEST");
      context.addFilterMap(map);
    }
    if (webSocket != null) {
      // WsSci creates the ServerContainer; the next initializer (run in the order added) adds to it.
      context.addServletContainerInitializer(new WsSci(), null);
      context.addServletContainerInitializer((classes, servletContext) -> {
        try {
          webSocket.accept(servletContext,
              (ServerContainer) servletContext.getAttribute(ServerContainer.class.getName()));
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new jakarta.servlet.ServletException(e);
        }
      }, null);
    }
    try {
      tomcat.start();
      if (connector.getLocalPort() <= 0 || !context.getState().isAvailable()) {
        throw new IllegalStateException("Tomcat did not start: connector " + connector.getStateName()
            + ", context " + context.getStateName());
      }
    } catch (Exception e) {
      new EmbeddedTomcat(tomcat, connector, baseDir).close();
      throw e;
    }
    return new EmbeddedTomcat(tomcat, connector, baseDir);
  }

  private static Logger quiet(String name, Level level) {
    Logger logger = Logger.getLogger(name);
    logger.setLevel(level);
    return logger;
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

  /** Stops the server, closing every connection, and deletes its work directory. */
  @Override
  public void close() throws Exception {
    if (closed) {
      return;
    }
    closed = true;
    try {
      tomcat.stop();
      tomcat.destroy();
    } finally {
      if (Files.exists(baseDir)) {
        try (Stream<Path> files = Files.walk(baseDir)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }
}
