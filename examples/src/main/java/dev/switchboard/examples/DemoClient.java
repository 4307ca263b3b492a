package dev.switchboard.examples;

import dev.switchboard.client.ClientScriptServlet;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;

/**
 * What the demo adds for browsers: the JavaScript client at {@code /v1/client.js} (and its
 * declarations at {@code /v1/client.d.ts}), and with {@code --no-websocket} a refusal of every
 * request to {@code /v1/ws} with 403 before any upgrade, as a proxy that blocks WebSocket would
 * answer; clients on {@code auto} then fall back to SSE.
 */
final class DemoClient {
  private DemoClient() {}

  static void serve(ServletContextHandler context) {
    context.addServlet(ClientScriptServlet.class, "/v1/client.js");
    context.addServlet(ClientScriptServlet.class, "/v1/client.d.ts");
  }

  static void refuseWebSocket(ServletContextHandler context) {
    Filter refuse = (ServletRequest req, ServletResponse response, FilterChain chain) -> refuse((HttpServletResponse) response);
    context.addFilter(new FilterHolder(refuse), "/v1/ws", EnumSet.of(DispatcherType.REQUEST));
  }

  private static void refuse(HttpServletResponse res) throws IOException {
    res.setStatus(403);
    res.setContentType("application/json");
    res.setHeader("Connection", "close");
    res.getOutputStream().write(("{\"status\":403,\"error\":\"websocket_disabled\","
        + "\"message\":\"WebSocket is off on this hub (--no-websocket): use SSE or long polling\"}")
        .getBytes(StandardCharsets.UTF_8));
  }
}
