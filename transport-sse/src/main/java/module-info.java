/** Switchboard's Server-Sent Events transport: server (Servlet 6 async) and client (JDK HttpClient). */
module dev.switchboard.sse {
  requires transitive dev.switchboard.transport;
  requires transitive dev.switchboard.hub;
  requires static jakarta.servlet;
  requires java.net.http;

  exports dev.switchboard.sse;

  provides dev.switchboard.transport.TransportProvider with dev.switchboard.sse.SseTransportProvider;
}
