package dev.switchboard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.atmosphere.cpr.ApplicationConfig;
import org.atmosphere.cpr.AtmosphereFramework;
import org.atmosphere.cpr.AtmosphereResource;
import org.atmosphere.cpr.AtmosphereResponse;
import org.atmosphere.cpr.AtmosphereServlet;
import org.atmosphere.cpr.Broadcaster;
import org.atmosphere.handler.OnMessage;
import org.atmosphere.interceptor.AtmosphereResourceLifecycleInterceptor;
import jakarta.servlet.ServletConfig;
import jakarta.servlet.ServletException;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;

/**
 * The Atmosphere peer: one {@link Broadcaster} and an {@link OnMessage} handler suspended by
 * {@link AtmosphereResourceLifecycleInterceptor}, as Atmosphere's own samples do, on the same Jetty
 * through its JSR 356 WebSocket support and Servlet async for SSE. Clients pick the transport the way
 * atmosphere.js does, with {@code X-Atmosphere-Transport=websocket|sse} in the query string. SSE
 * subscribers get the payload as {@code data:}; WebSocket subscribers get the same frame bytes as
 * the raw baseline.
 */
final class AtmospherePeer {
  static final String PATH = "/atmo/bench";

  private final AtomicLong seq = new AtomicLong();
  private volatile Broadcaster broadcaster;

  /** Mounts the servlet at {@link #PATH}; the context must already have Jakarta WebSocket configured. */
  void mount(ServletContextHandler context) {
    AtmosphereServlet servlet = new AtmosphereServlet(false, false) {
      private static final long serialVersionUID = 1L;

      @Override
      public void init(ServletConfig config) throws ServletException {
        super.init(config);
        // Handlers and broadcasters need the initialised framework (its BroadcasterFactory).
        AtmosphereFramework framework = framework();
        Broadcaster b = framework.getBroadcasterFactory().lookup("bench", true);
        framework.addAtmosphereHandler(PATH, new Handler(), b, List.of(new AtmosphereResourceLifecycleInterceptor()));
        broadcaster = b;
      }
    };
    ServletHolder holder = new ServletHolder(servlet);
    holder.setAsyncSupported(true);
    holder.setInitOrder(1);
    holder.setInitParameter(ApplicationConfig.ANALYTICS, "false");
    holder.setInitParameter(ApplicationConfig.SCAN_CLASSPATH, "false");
    holder.setInitParameter(ApplicationConfig.AUTODETECT_BROADCASTER, "false");
    holder.setInitParameter(ApplicationConfig.WEBSOCKET_SUPPORT, "true");
    // Tuning experiments: any -Dorg.atmosphere.…=… given to the server JVM becomes an init parameter.
    System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("org.atmosphere."))
        .forEach(k -> holder.setInitParameter(k, System.getProperty(k)));
    context.addServlet(holder, PATH);
  }

  private Broadcaster broadcaster() {
    Broadcaster b = broadcaster;
    if (b == null) {
      throw new IllegalStateException("Atmosphere is not initialised yet");
    }
    return b;
  }

  int count() {
    return broadcaster().getAtmosphereResources().size();
  }

  /** Broadcasts one message; the handler decides per resource how it is framed. */
  void broadcast(byte[] payload) {
    // Encoded once per broadcast, as for every other peer; the handler picks the form per resource.
    broadcaster().broadcast(new Msg(new String(payload, StandardCharsets.US_ASCII),
        BenchServer.wsFrame(payload, "atmo-" + seq.incrementAndGet())));
  }

  record Msg(String sseData, String wsFrame) {}

  private static final class Handler extends OnMessage<Object> {
    @Override
    public void onMessage(AtmosphereResponse response, Object message) throws IOException {
      if (!(message instanceof Msg m)) {
        return;
      }
      AtmosphereResource r = response.resource();
      if (r != null && r.transport() == AtmosphereResource.TRANSPORT.WEBSOCKET) {
        response.write(m.wsFrame());
      } else {
        response.write(m.sseData()); // SSEAtmosphereInterceptor adds data: and the blank line
      }
    }
  }
}
