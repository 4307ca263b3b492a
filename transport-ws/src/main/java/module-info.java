/** Switchboard's WebSocket transport: Jakarta WebSocket 2.1 server endpoint and JDK WebSocket client. */
module dev.switchboard.ws {
  requires transitive dev.switchboard.transport;
  requires transitive dev.switchboard.hub;
  requires static jakarta.websocket;
  requires static jakarta.servlet;
  requires static org.eclipse.jetty.websocket.core.common; // JettyFrames, only on Jetty
  requires static org.eclipse.jetty.util;
  requires java.net.http;
  requires com.fasterxml.jackson.core;

  exports dev.switchboard.ws;

  provides dev.switchboard.transport.TransportProvider with dev.switchboard.ws.WsTransportProvider;
}
