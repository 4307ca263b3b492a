package dev.switchboard.testkit;

import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.server.DefaultByteBufferPool;
import io.undertow.servlet.Servlets;
import io.undertow.servlet.api.DeploymentInfo;
import io.undertow.servlet.api.DeploymentManager;
import io.undertow.servlet.api.ServletContainer;
import io.undertow.servlet.api.ServletContainerInitializerInfo;
import io.undertow.servlet.util.ImmediateInstanceFactory;
import io.undertow.websockets.jsr.WebSocketDeploymentInfo;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletContainerInitializer;
import jakarta.servlet.ServletException;
import jakarta.websocket.server.ServerContainer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.xnio.OptionMap;
import org.xnio.Options;
import org.xnio.Xnio;
import org.xnio.XnioWorker;

/**
 * An embedded Undertow 2.3 server (undertow-servlet) on 127.0.0.1 serving HTTP/1.1 and cleartext
 * HTTP/2 (h2c by upgrade) on one port, with the given filters mapped to {@code /*} (async
 * supported) and, optionally, Undertow's Jakarta WebSocket container. For tests and examples.
 *
 * <p>WebSocket needs a {@link WebSocketDeploymentInfo} in the deployment's servlet context
 * attributes (with a worker and a buffer pool); endpoints (and filters) are added by a servlet
 * container initializer, which runs once the container is in the context. Each server has its own servlet container and XNIO worker, so servers started by one test
 * are independent.
 *
 * <p>Not thread-safe: start and stop from one thread.
 */
public final class EmbeddedUndertow implements TransportContractTest.Server {
  private final Undertow undertow;
  private final XnioWorker worker;
  private final ServletContainer container;
  private final DeploymentInfo info;
  private final DeploymentManager deployment;
  private final int port;
  private boolean closed;

  private EmbeddedUndertow(Undertow undertow, XnioWorker worker, ServletContainer container,
      DeploymentInfo info, DeploymentManager deployment, int port) {
    this.undertow = undertow;
    this.worker = worker;
    this.container = container;
    this.info = info;
    this.deployment = deployment;
    this.port = port;
  }

  /**
   * Starts a server with the filters only.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Undertow cannot start (port taken, …)
   */
  public static EmbeddedUndertow start(int port, List<? extends Filter> filters) throws Exception {
    return start(port, filters, null);
  }

  /**
   * Starts a server with the filters and, if {@code webSocket} is not null, a WebSocket container
   * that it adds endpoints to.
   *
   * @param port the port, 0 for any free one
   * @throws Exception when Undertow cannot start (port taken, an endpoint refused, …)
   */
  public static EmbeddedUndertow start(int port, List<? extends Filter> filters, WebSocketSetup webSocket)
      throws Exception {
    XnioWorker worker = Xnio.getInstance(Undertow.class.getClassLoader()).createWorker(OptionMap.builder()
        .set(Options.WORKER_IO_THREADS, 2)
        .set(Options.WORKER_TASK_CORE_THREADS, 16)
        .set(Options.WORKER_TASK_MAX_THREADS, 16)
        .set(Options.TCP_NODELAY, true)
        .getMap());
    DeploymentInfo info = Servlets.deployment()
        .setClassLoader(EmbeddedUndertow.class.getClassLoader())
        .setContextPath("/")
        .setDeploymentName("switchboard");
    // No servlet needed: Undertow's default servlet answers what no filter took, and whether a
    // filter may start async depends on the filters only (unlike Tomcat).
    int i = 0;
    for (Filter f : filters) {
      String name = "filter" + i++;
      info.addFilter(Servlets.filter(name, f.getClass(), new ImmediateInstanceFactory<>(f)).setAsyncSupported(true));
      info.addFilterUrlMapping(name, "/*", DispatcherType.REQUEST);
    }
    if (webSocket != null) {
      info.addServletContextAttribute(WebSocketDeploymentInfo.ATTRIBUTE_NAME, new WebSocketDeploymentInfo()
          .setWorker(worker)
          .setBuffers(new DefaultByteBufferPool(false, 16 * 1024)));
      // Undertow's WebSocket extension puts the ServerContainer into the context before initializers
      // run, and an initializer may still add filters (such as a handshake filter, ahead of Undertow's
      // WebSocket filter, which is added after them).
      ServletContainerInitializer setup = (classes, servletContext) -> {
        try {
          webSocket.accept(servletContext,
              (ServerContainer) servletContext.getAttribute(ServerContainer.class.getName()));
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new ServletException("WebSocket setup failed", e);
        }
      };
      info.addServletContainerInitializer(new ServletContainerInitializerInfo(setup.getClass(),
          new ImmediateInstanceFactory<>(setup), Set.of()));
    }
    ServletContainer container = ServletContainer.Factory.newInstance();
    DeploymentManager deployment = container.addDeployment(info);
    Undertow undertow = null;
    try {
      deployment.deploy();
      undertow = Undertow.builder()
          .setWorker(worker)
          .setServerOption(UndertowOptions.ENABLE_HTTP2, true)
          .addHttpListener(port, "127.0.0.1")
          .setHandler(deployment.start())
          .build();
      undertow.start();
    } catch (Exception | Error e) {
      new EmbeddedUndertow(undertow, worker, container, info, deployment, -1).close();
      throw e;
    }
    int bound = ((InetSocketAddress) undertow.getListenerInfo().get(0).getAddress()).getPort();
    return new EmbeddedUndertow(undertow, worker, container, info, deployment, bound);
  }

  /** The bound port. */
  @Override
  public int port() {
    return port;
  }

  /** {@code http://127.0.0.1:<port>} */
  @Override
  public URI url() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Stops the server, closing every connection, and its worker threads. */
  @Override
  public void close() throws Exception {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (undertow != null) {
        undertow.stop();
      }
      if (deployment.getState() == DeploymentManager.State.STARTED) {
        deployment.stop();
      }
      if (deployment.getState() == DeploymentManager.State.DEPLOYED) {
        deployment.undeploy();
      }
      container.removeDeployment(info);
    } finally {
      worker.shutdownNow();
      worker.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
