package dev.switchboard.http;

import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.MessageJson;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Servlet plumbing of this module: handshakes from requests, JSON responses and errors. */
final class ServletIo {
  private ServletIo() {}

  static Handshake handshake(String transport, HttpServletRequest req) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String name : Collections.list(req.getHeaderNames())) {
      headers.put(name, Collections.list(req.getHeaders(name)));
    }
    Map<String, List<String>> query = new LinkedHashMap<>();
    req.getParameterMap().forEach((k, v) -> query.put(k, new ArrayList<>(List.of(v))));
    InetSocketAddress remote = req.getRemoteAddr() == null ? null
        : InetSocketAddress.createUnresolved(req.getRemoteAddr(), req.getRemotePort());
    return new Handshake(transport, remote, headers, query);
  }

  /** The request path inside the context, still percent-encoded. */
  static String rawPath(HttpServletRequest req) {
    String uri = req.getRequestURI();
    String ctx = req.getContextPath();
    return ctx != null && !ctx.isEmpty() && uri.startsWith(ctx) ? uri.substring(ctx.length()) : uri;
  }

  static void json(HttpServletResponse res, int status, byte[] body) throws IOException {
    res.setStatus(status);
    res.setContentType("application/json");
    res.setContentLength(body.length);
    res.getOutputStream().write(body);
  }

  /** Writes the JSON error body with its status (and {@code Retry-After} on 429/503). */
  static void error(HttpServletResponse res, SwitchboardException e) throws IOException {
    if (res.isCommitted()) {
      return;
    }
    res.resetBuffer();
    int status = e.status().httpStatus();
    if (status == 429 || status == 503) {
      long secs = e.retryAfter().map(d -> Math.max(1, (d.toMillis() + 999) / 1000)).orElse(1L);
      res.setHeader("Retry-After", Long.toString(secs));
    }
    json(res, status, MessageJson.error(e));
  }
}
