package dev.switchboard.ws;

import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.WirePaths;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerEndpointConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.Principal;
import java.util.List;
import java.util.Map;

/**
 * The second line of the handshake checks, after {@link HandshakeFilter}: when the filter decided
 * the handshake (the usual case), its principal is taken as it is; when the filter is not mounted
 * (only {@link WebSocketTransport#register(jakarta.websocket.server.ServerContainer)} was called),
 * the origin policy and the hub's Authenticator are applied here, from the handshake's headers. The
 * verdict goes into the session's user properties; {@link HubEndpoint#onOpen} closes refused
 * sessions with 4403 or 4401 before any frame is read or written (after the upgrade: only the filter can
 * answer with an HTTP status).
 */
final class HubConfigurator extends ServerEndpointConfig.Configurator {
  static final String PRINCIPAL = "switchboard.principal";
  static final String REFUSED = "switchboard.refused";
  static final String REMOTE = "switchboard.remote";
  /** Where Jetty puts the client's address in the handshake's user properties. */
  private static final String JAKARTA_REMOTE = "jakarta.websocket.endpoint.remoteAddress";

  private final WebSocketTransport transport;

  HubConfigurator(WebSocketTransport transport) {
    this.transport = transport;
  }

  @Override
  public boolean checkOrigin(String originHeaderValue) {
    return true; // decided by the handshake filter, or in modifyHandshake where the Host header is known
  }

  @Override
  public String getNegotiatedSubprotocol(List<String> supported, List<String> requested) {
    return requested.contains(WsProtocol.SUBPROTOCOL) ? WsProtocol.SUBPROTOCOL : "";
  }

  @Override
  public void modifyHandshake(ServerEndpointConfig sec, HandshakeRequest request, HandshakeResponse response) {
    Map<String, Object> props = sec.getUserProperties();
    InetSocketAddress remote = props.get(JAKARTA_REMOTE) instanceof InetSocketAddress a ? a
        : HandshakeFilter.remoteAddressOfCurrentHandshake();
    if (remote != null) {
      props.put(REMOTE, remote);
    }
    Principal decided = transport.handshakeFilter.decidedPrincipal();
    if (decided != null) {
      props.put(PRINCIPAL, decided);
      return;
    }
    Map<String, List<String>> headers = request.getHeaders();
    try {
      checkOrigin(request, headers);
      Principal p = transport.hub.authenticate(new Handshake("ws", remote, headers, request.getParameterMap()));
      props.put(PRINCIPAL, p);
    } catch (SwitchboardException e) {
      props.put(REFUSED, e);
    }
  }

  /**
   * The origin policy from the headers alone. The scheme comes from the request URI where the
   * container gives an absolute one ({@code ws://…}: Jetty, Tomcat); where it does not (Undertow) the
   * origin's scheme is not compared, one more reason to mount the filter.
   */
  private void checkOrigin(HandshakeRequest request, Map<String, List<String>> headers) {
    String host = header(headers, "Host");
    URI uri = request.getRequestURI();
    String scheme = uri == null || uri.getScheme() == null ? null
        : uri.getScheme().equalsIgnoreCase("wss") || uri.getScheme().equalsIgnoreCase("https") ? "https" : "http";
    String name = host;
    int port = -1;
    if (host != null) {
      int colon = host.startsWith("[") ? host.indexOf(':', Math.max(0, host.indexOf(']')))
          : host.indexOf(':') == host.lastIndexOf(':') ? host.indexOf(':') : -1;
      if (colon > 0) {
        name = host.substring(0, colon);
        try {
          port = Integer.parseInt(host.substring(colon + 1));
        } catch (NumberFormatException e) {
          name = null; // a malformed Host is nobody's
        }
      }
    }
    if (port == -1 && scheme != null) {
      port = scheme.equals("https") ? 443 : 80;
    }
    WirePaths.checkOrigin(transport.originPolicy, "GET", true, scheme, name, port, header(headers, "Origin"));
  }

  @Override
  public <T> T getEndpointInstance(Class<T> endpointClass) {
    return endpointClass.cast(new HubEndpoint(transport));
  }

  private static String header(Map<String, List<String>> headers, String name) {
    for (Map.Entry<String, List<String>> e : headers.entrySet()) {
      if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
        return e.getValue().get(0);
      }
    }
    return null;
  }
}
