package dev.switchboard.ws;

import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.ServletIo;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides a handshake before the container upgrades it, so a refusal is a plain HTTP answer (status,
 * JSON error body, {@code Retry-After} on 503) rather than a 101 followed by a close. Servlet filters
 * mapped ahead of the container's own WebSocket filter see the upgrade request first on Jetty, Tomcat
 * and Undertow. In order: the origin policy's host (403 {@code forbidden_host}) and origin (403
 * {@code forbidden_origin}), the hub's {@code Authenticator} (401), then the hub's admission (503 at
 * the connection limit or while shutting down). Requests for other paths pass through untouched.
 *
 * <p>The principal it authenticated is handed to {@link HubConfigurator} through a thread-local for
 * the duration of the chain (Jetty, Tomcat and Undertow upgrade on the filter's thread), so the
 * {@code Authenticator} runs once per handshake; a configurator that finds none decides alone.
 *
 * <p>Thread-safe.
 */
final class HandshakeFilter implements Filter {
  private static final Logger log = LoggerFactory.getLogger(HandshakeFilter.class);

  /**
   * The address of the client whose handshake this thread is passing on to the container: the
   * containers call {@link HubConfigurator#modifyHandshake} on this thread inside
   * {@code chain.doFilter}, and Jakarta WebSocket does not tell the configurator the address.
   */
  private static final ThreadLocal<InetSocketAddress> REMOTE = new ThreadLocal<>();

  private final WebSocketTransport transport;
  private final ThreadLocal<Principal> decided = new ThreadLocal<>();

  HandshakeFilter(WebSocketTransport transport) {
    this.transport = transport;
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (request instanceof HttpServletRequest req && response instanceof HttpServletResponse res
        && ServletIo.rawPath(req).equals(transport.path)) {
      Principal principal;
      try {
        principal = check(req);
      } catch (SwitchboardException e) {
        log.debug("handshake from {} refused: {} {}", req.getRemoteAddr(), e.errorCode(), e.getMessage());
        refuse(req, res, e);
        return;
      }
      decided.set(principal);
      REMOTE.set(ServletIo.remoteAddress(req));
      try {
        chain.doFilter(request, response);
      } finally {
        decided.remove();
        REMOTE.remove();
      }
      return;
    }
    chain.doFilter(request, response);
  }

  /** The address of the client whose handshake is being upgraded on this thread, or null. */
  static InetSocketAddress remoteAddressOfCurrentHandshake() {
    return REMOTE.get();
  }

  /**
   * The principal this filter authenticated for the handshake now being upgraded on this thread,
   * or null when the filter did not see it.
   */
  Principal decidedPrincipal() {
    return decided.get();
  }

  /**
   * Everything decided before the upgrade.
   *
   * @return the authenticated principal
   * @throws SwitchboardException the refusal to answer with
   */
  private Principal check(HttpServletRequest req) {
    WirePaths.checkOrigin(transport.originPolicy, req.getMethod(), true, req.getScheme(), req.getServerName(),
        req.getServerPort(), req.getHeader("Origin"));
    Principal principal = transport.hub.authenticate(ServletIo.handshake("ws", req, ServletIo.query(req)));
    transport.hub.checkAdmission("ws");
    return principal;
  }

  private static void refuse(HttpServletRequest req, HttpServletResponse res, SwitchboardException e)
      throws IOException {
    if (res.isCommitted()) {
      return;
    }
    if (e.status().httpStatus() == 503 && req.getProtocol().startsWith("HTTP/1")) {
      // A client turned away while the server is full should not keep a descriptor on an idle
      // keep-alive connection.
      res.setHeader("Connection", "close");
    }
    ServletIo.error(res, e);
  }
}
