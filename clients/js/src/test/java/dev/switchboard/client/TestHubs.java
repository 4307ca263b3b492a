package dev.switchboard.client;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.transport.Message;
import dev.switchboard.ws.WebSocketTransport;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Real hubs for the Node suite, driven over a small control API on loopback (a second Jetty):
 * {@code POST /hubs?websocket=false&history=N&token=T&wsAuth=http} starts one (with {@code token}, only
 * that bearer token is accepted; with {@code wsAuth=http} a WebSocket handshake without it gets 401
 * before the upgrade instead of a close 4401 after it) (Jetty, every transport, the client at
 * {@code /v1/client.js}) and answers {@code {"id","url"}}; {@code POST /hubs/ID/stop} and
 * {@code /start} restart it on the same port with the same broker (history survives);
 * {@code POST /hubs/ID/publish?topic=T} publishes the body as text straight to the broker (works
 * while the hub is down); {@code GET /hubs/ID/history?topic=T} lists the stored ids;
 * {@code POST /hubs/ID/faults?path=P&count=N} answers the next N requests whose path ends with P
 * with 503 and {@code Retry-After: 1}; {@code GET /hubs/ID/requests?path=P} lists the requests seen
 * on such paths as {@code "millis key"} lines; {@code DELETE /hubs/ID} stops it for good.
 */
final class TestHubs implements AutoCloseable {
  private final Server control = new Server();
  private final ServerConnector controlConnector = new ServerConnector(control);
  private final Map<Integer, TestHub> hubs = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();

  TestHubs() throws Exception {
    controlConnector.setHost("127.0.0.1");
    control.addConnector(controlConnector);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
        handle(req, res);
      }
    }), "/hubs/*");
    control.setHandler(ctx);
    control.start();
  }

  /** For running the Node suite by hand: prints the control URL to put in SWITCHBOARD_TEST_CONTROL. */
  public static void main(String[] args) throws Exception {
    TestHubs hubs = new TestHubs();
    System.out.println("SWITCHBOARD_TEST_CONTROL=" + hubs.url());
    hubs.control.join();
  }

  String url() {
    return "http://127.0.0.1:" + controlConnector.getLocalPort();
  }

  private void handle(HttpServletRequest x, HttpServletResponse res) throws IOException {
    res.setContentType("application/json");
    try {
      String[] path = x.getRequestURI().split("/");
      Map<String, String> q = query(x.getQueryString());
      String answer;
      int status = 200;
      if (path.length == 2 && x.getMethod().equals("POST")) {
        int id = ids.incrementAndGet();
        TestHub h = new TestHub(!"false".equals(q.get("websocket")), Integer.parseInt(q.getOrDefault("history", "1000")),
            q.get("token"), "http".equals(q.get("wsAuth")));
        hubs.put(id, h);
        h.start();
        answer = "{\"id\":" + id + ",\"url\":\"" + h.url() + "\"}";
      } else {
        TestHub h = hubs.get(Integer.parseInt(path[2]));
        String op = path.length > 3 ? path[3] : "";
        if (h == null) {
          status = 404;
          answer = "{\"error\":\"no such hub\"}";
        } else if (x.getMethod().equals("DELETE")) {
          hubs.values().remove(h);
          h.close();
          answer = "{}";
        } else {
          switch (op) {
            case "stop": h.stop(); answer = "{}"; break;
            case "start": h.start(); answer = "{\"url\":\"" + h.url() + "\"}"; break;
            case "publish": {
              String text = new String(x.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
              Message m = h.broker.publish(Message.text(q.get("topic"), text)).toCompletableFuture().get(10, TimeUnit.SECONDS);
              answer = "{\"id\":\"" + m.id() + "\"}";
              break;
            }
            case "history": {
              List<Message> ms = h.broker.history(q.get("topic"), null, 10_000).toCompletableFuture()
                  .get(10, TimeUnit.SECONDS).messages();
              answer = ms.stream().map(m -> "\"" + m.id() + "\"").collect(Collectors.joining(",", "[", "]"));
              break;
            }
            case "faults":
              h.faults.put(q.get("path"), new AtomicInteger(Integer.parseInt(q.get("count"))));
              answer = "{}";
              break;
            case "requests": {
              List<String> seen = h.requests.getOrDefault(q.get("path"), List.of());
              synchronized (seen) {
                answer = seen.stream().map(s -> "\"" + s + "\"").collect(Collectors.joining(",", "[", "]"));
              }
              break;
            }
            default:
              status = 404;
              answer = "{\"error\":\"unknown operation\"}";
          }
        }
      }
      res.setStatus(status);
      res.getOutputStream().write(answer.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      res.setStatus(500);
      res.getOutputStream().write(("{\"error\":\"" + e.toString().replace('"', '\'') + "\"}").getBytes(StandardCharsets.UTF_8));
    }
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> q = new ConcurrentHashMap<>();
    if (raw != null) {
      for (String p : raw.split("&")) {
        int i = p.indexOf('=');
        if (i > 0) {
          q.put(p.substring(0, i), java.net.URLDecoder.decode(p.substring(i + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return q;
  }

  @Override
  public void close() throws Exception {
    control.stop();
    hubs.values().forEach(TestHub::close);
    hubs.clear();
  }

  /** One hub on a fixed port once started: stop/start keep the port and the broker. */
  static final class TestHub {
    final boolean websocket;
    final String token;
    final boolean refuseTokenBeforeUpgrade;
    final Broker broker;
    final Map<String, AtomicInteger> faults = new ConcurrentHashMap<>();
    final Map<String, List<String>> requests = new ConcurrentHashMap<>();
    private int port;
    private Hub hub;
    private Server server;

    TestHub(boolean websocket, int history, String token, boolean refuseTokenBeforeUpgrade) {
      this.websocket = websocket;
      this.token = token;
      this.refuseTokenBeforeUpgrade = refuseTokenBeforeUpgrade;
      this.broker = InMemoryBroker.builder().maxMessagesPerTopic(history).build();
    }

    String url() {
      return "http://127.0.0.1:" + port;
    }

    synchronized void start() throws Exception {
      if (server != null) {
        return;
      }
      Hub.Builder b = Hub.builder().broker(broker);
      if (token != null) {
        b.authenticator(Authenticator.bearer(t -> t.equals(token) ? () -> "tester" : null));
      }
      hub = b.build();
      Server s = new Server();
      ServerConnector c = new ServerConnector(s);
      c.setHost("127.0.0.1");
      c.setPort(port);
      s.addConnector(c);
      ServletContextHandler ctx = new ServletContextHandler();
      ctx.setContextPath("/");
      ctx.addFilter(new FilterHolder(new Faults()), "/*", EnumSet.of(DispatcherType.REQUEST));
      // Heartbeats every 10 minutes: idle streams stay silent (for the client's idle timeout test).
      SseTransportFilter sse = SseTransportFilter.builder(hub).heartbeat(java.time.Duration.ofMinutes(10)).build();
      for (Filter f : List.of(sse, new HttpTransportFilter(hub))) {
        FilterHolder fh = new FilterHolder(f);
        fh.setAsyncSupported(true);
        ctx.addFilter(fh, "/v1/*", EnumSet.of(DispatcherType.REQUEST));
      }
      ctx.addServlet(new ServletHolder(new ClientScriptServlet()), "/v1/client.js");
      ctx.addServlet(new ServletHolder(new ClientScriptServlet()), "/v1/client.d.ts");
      if (websocket) {
        WebSocketTransport ws = WebSocketTransport.builder(hub).build();
        JakartaWebSocketServletContainerInitializer.configure(ctx, (sc, container) -> ws.register(sc, container));
      }
      s.setHandler(ctx);
      s.start();
      port = c.getLocalPort();
      server = s;
    }

    synchronized void stop() throws Exception {
      if (server != null) {
        hub.shutdown();
        server.stop();
        server = null;
      }
    }

    void close() {
      try {
        stop();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      broker.close();
    }

    /** Records requests on watched paths; answers 503 while a fault count lasts; 403 to upgrades without WebSocket. */
    private final class Faults implements Filter {
      @Override
      public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
          throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        HttpServletResponse res = (HttpServletResponse) response;
        String path = req.getRequestURI();
        if (!websocket && path.endsWith("/v1/ws")) {
          res.sendError(403, "WebSocket is blocked here");
          return;
        }
        if (refuseTokenBeforeUpgrade && path.endsWith("/v1/ws") && !token.equals(req.getParameter("access_token"))) {
          res.sendError(401, "bad token"); // as a handshake filter that authenticates before the upgrade
          return;
        }
        for (Map.Entry<String, AtomicInteger> f : faults.entrySet()) {
          if (path.endsWith(f.getKey())) {
            List<String> seen = requests.computeIfAbsent(f.getKey(), k -> new ArrayList<>());
            synchronized (seen) {
              seen.add(System.currentTimeMillis() + " " + req.getHeader("Idempotency-Key"));
            }
            if (f.getValue().getAndDecrement() > 0) {
              res.setStatus(503);
              res.setHeader("Retry-After", "1");
              res.setContentType("application/json");
              res.getWriter().write("{\"status\":503,\"error\":\"unavailable\",\"message\":\"test fault\"}");
              return;
            }
          }
        }
        chain.doFilter(request, response);
      }
    }
  }
}
