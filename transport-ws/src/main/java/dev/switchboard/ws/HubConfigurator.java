package dev.switchboard.ws;

import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerEndpointConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.Principal;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Decides each handshake: origin policy, then the hub's Authenticator. The verdict goes into the
 * session's user properties; {@link HubEndpoint#onOpen} closes refused sessions with 1008 before
 * any frame is read or written.
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
    return true; // decided in modifyHandshake, where the Host header is known
  }

  @Override
  public String getNegotiatedSubprotocol(List<String> supported, List<String> requested) {
    return requested.contains(WsProtocol.SUBPROTOCOL) ? WsProtocol.SUBPROTOCOL : "";
  }

  @Override
  public void modifyHandshake(ServerEndpointConfig sec, HandshakeRequest request, HandshakeResponse response) {
    Map<String, List<String>> headers = request.getHeaders();
    String origin = header(headers, "Origin");
    String host = header(headers, "Host");
    Map<String, Object> props = sec.getUserProperties();
    if (origin != null && !originAllowed(origin, host)) {
      props.put(REFUSED, new SwitchboardException(Status.PERMISSION_DENIED, "forbidden_origin",
          "cross-origin handshake from " + origin + " refused", null, null));
      return;
    }
    InetSocketAddress remote = props.get(JAKARTA_REMOTE) instanceof InetSocketAddress a ? a
        : HandshakeFilter.remoteAddressOfCurrentHandshake();
    try {
      Principal p = transport.hub.authenticate(new Handshake("ws", remote, headers, request.getParameterMap()));
      props.put(PRINCIPAL, p);
      if (remote != null) {
        props.put(REMOTE, remote);
      }
    } catch (SwitchboardException e) {
      props.put(REFUSED, e);
    }
  }

  @Override
  public <T> T getEndpointInstance(Class<T> endpointClass) {
    return endpointClass.cast(new HubEndpoint(transport));
  }

  private boolean originAllowed(String origin, String host) {
    if (transport.allowedOrigins.contains("*") || transport.allowedOrigins.contains(origin)) {
      return true;
    }
    if (host == null) {
      return false;
    }
    try {
      URI o = URI.create(origin);
      if (o.getHost() == null) {
        return false; // "null" origins (sandboxed frames, file://) are never same-origin
      }
      int port = o.getPort() != -1 ? o.getPort() : "https".equalsIgnoreCase(o.getScheme()) ? 443 : 80;
      String originHostPort = (o.getHost() + ":" + port).toLowerCase(Locale.ROOT);
      String h = host.toLowerCase(Locale.ROOT);
      String hostHostPort = h.contains(":") && !h.endsWith("]") ? h : h + ":" + port;
      return originHostPort.equals(hostHostPort);
    } catch (IllegalArgumentException e) {
      return false;
    }
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
