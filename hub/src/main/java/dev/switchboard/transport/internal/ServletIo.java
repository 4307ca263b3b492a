package dev.switchboard.transport.internal;

import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.Printable;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Servlet plumbing of the HTTP and SSE filters: query strings, handshakes from requests, JSON
 * responses and errors. Only for Switchboard's own modules (the Servlet API is an optional
 * dependency: nothing here loads unless a filter runs). Stateless and thread-safe.
 */
public final class ServletIo {
  private ServletIo() {}

  /**
   * The request's query string parameters, decoded (UTF-8, {@code +} as a space), in order. Never
   * the servlet's {@code getParameter*}: those also read a form-encoded body, which would empty a
   * published payload and let body fields pose as query parameters.
   *
   * @throws SwitchboardException INVALID_ARGUMENT ({@code invalid_query}) for a broken escape or
   *     invalid UTF-8
   */
  public static Map<String, List<String>> query(HttpServletRequest req) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    String q = req.getQueryString();
    if (q == null || q.isEmpty()) {
      return out;
    }
    for (String pair : q.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq));
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
      out.computeIfAbsent(name, k -> new ArrayList<>(1)).add(value);
    }
    return out;
  }

  /**
   * The one value of query parameter {@code name}, or null when absent.
   *
   * @throws SwitchboardException INVALID_ARGUMENT ({@code invalid_<name>}) when it is given twice
   */
  public static String single(Map<String, List<String>> query, String name) {
    List<String> values = query.get(name);
    if (values == null) {
      return null;
    }
    if (values.size() > 1) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_" + name,
          "query parameter " + name + " is given " + values.size() + " times; give it once");
    }
    return values.get(0);
  }

  private static String decode(String s) {
    try {
      return WirePaths.percentDecode(s.replace("+", "%20"));
    } catch (SwitchboardException e) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_query",
          "query string is not valid percent-encoded UTF-8 near " + Printable.quote(s));
    }
  }

  public static Handshake handshake(String transport, HttpServletRequest req, Map<String, List<String>> query) {
    Map<String, String[]> parameters = new LinkedHashMap<>();
    query.forEach((k, v) -> parameters.put(k, v.toArray(String[]::new)));
    return WirePaths.handshake(transport, req.getRemoteAddr(), req.getRemotePort(), req.getHeaderNames(),
        req::getHeaders, parameters);
  }

  /** The client's address as the container reports it (a literal, never looked up). */
  public static InetSocketAddress remoteAddress(HttpServletRequest req) {
    String addr = req.getRemoteAddr();
    return addr == null ? null : InetSocketAddress.createUnresolved(addr, req.getRemotePort());
  }

  /** The request path inside the context, still percent-encoded. */
  public static String rawPath(HttpServletRequest req) {
    return WirePaths.pathInContext(req.getRequestURI(), req.getContextPath());
  }

  /** A response to send: status, headers, and a JSON body (empty for none). Immutable. */
  public record Reply(int status, byte[] body, Map<String, String> headers) {
    public static Reply json(int status, byte[] body) {
      return new Reply(status, body, Map.of("Content-Type", "application/json"));
    }

    public static Reply empty(int status) {
      return new Reply(status, new byte[0], Map.of());
    }

    /** The JSON error body with its status (and {@code Retry-After} on 429/503). */
    public static Reply error(SwitchboardException e) {
      Reply r = json(e.status().httpStatus(), MessageJson.error(e));
      int status = e.status().httpStatus();
      return status == 429 || status == 503 ? r.with("Retry-After", Long.toString(MessageJson.retryAfterSeconds(e))) : r;
    }

    public Reply with(String name, String value) {
      Map<String, String> h = new LinkedHashMap<>(headers);
      h.put(name, value);
      return new Reply(status, body, h);
    }

    /** Sets the status, the headers and the content length; the body is the caller's to write. */
    public void head(HttpServletResponse res) {
      res.setStatus(status);
      headers.forEach(res::setHeader);
      if (body.length > 0) {
        res.setContentLength(body.length);
      }
    }
  }

  /** Sends {@code reply} with a blocking write (for a container thread). */
  public static void send(HttpServletResponse res, Reply reply) throws IOException {
    reply.head(res);
    if (reply.body().length > 0) {
      res.getOutputStream().write(reply.body());
    }
  }

  /** Writes the JSON error body with its status (and {@code Retry-After} on 429/503), unless committed. */
  public static void error(HttpServletResponse res, SwitchboardException e) throws IOException {
    if (res.isCommitted()) {
      return;
    }
    res.resetBuffer();
    send(res, Reply.error(e));
  }
}
