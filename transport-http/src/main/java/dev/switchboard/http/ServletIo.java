package dev.switchboard.http;

import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.MessageJson;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** Servlet plumbing of this module: handshakes from requests, JSON responses and errors. */
final class ServletIo {
  private ServletIo() {}

  static Handshake handshake(String transport, HttpServletRequest req) {
    return WirePaths.handshake(transport, req.getRemoteAddr(), req.getRemotePort(), req.getHeaderNames(),
        req::getHeaders, req.getParameterMap());
  }

  /** The request path inside the context, still percent-encoded. */
  static String rawPath(HttpServletRequest req) {
    return WirePaths.pathInContext(req.getRequestURI(), req.getContextPath());
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
      res.setHeader("Retry-After", Long.toString(MessageJson.retryAfterSeconds(e)));
    }
    json(res, status, MessageJson.error(e));
  }
}
