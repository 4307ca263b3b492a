package dev.switchboard.webhook.subscriptions;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** A webhook receiver on 127.0.0.1 (embedded Jetty) that records what it gets and answers {@link #status}. */
final class Receiver implements AutoCloseable {
  /** One request as received. */
  record Request(String query, Map<String, List<String>> headers, byte[] body) {
    String header(String name) {
      List<String> v = headers.get(name.toLowerCase(java.util.Locale.ROOT));
      return v == null ? null : v.get(0);
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  final AtomicInteger status = new AtomicInteger(204);
  final java.util.concurrent.atomic.AtomicReference<String> answer = new java.util.concurrent.atomic.AtomicReference<>();
  final LinkedBlockingQueue<Request> received = new LinkedBlockingQueue<>();
  private final Server server = new Server();
  final String url;

  Receiver() throws Exception {
    ServerConnector c = new ServerConnector(server);
    c.setHost("127.0.0.1");
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
        Map<String, List<String>> h = new LinkedHashMap<>();
        for (String n : Collections.list(req.getHeaderNames())) {
          h.put(n.toLowerCase(java.util.Locale.ROOT), Collections.list(req.getHeaders(n)));
        }
        byte[] body = req.getInputStream().readAllBytes();
        received.add(new Request(req.getQueryString(), h, body));
        res.setStatus(status.get());
        String a = answer.get();
        if (a != null) {
          res.getOutputStream().write(a.getBytes(StandardCharsets.UTF_8));
        }
      }
    }), "/hook");
    server.setHandler(ctx);
    server.start();
    url = "http://127.0.0.1:" + c.getLocalPort() + "/hook";
  }

  /** The next request, failing after 10 s. */
  Request take() throws InterruptedException {
    Request r = received.poll(10, TimeUnit.SECONDS);
    if (r == null) {
      throw new AssertionError("no webhook within 10 s");
    }
    return r;
  }

  /** The next {@code n} requests. */
  List<Request> take(int n) throws InterruptedException {
    List<Request> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(take());
    }
    return out;
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
