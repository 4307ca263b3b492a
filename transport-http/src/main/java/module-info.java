/** Switchboard's REST publish/history API and long polling, server (Servlet 6) and client. */
module dev.switchboard.http {
  requires transitive dev.switchboard.transport;
  requires transitive dev.switchboard.hub;
  requires static jakarta.servlet;
  requires java.net.http;
  requires com.fasterxml.jackson.core;

  exports dev.switchboard.http;

  provides dev.switchboard.transport.TransportProvider with dev.switchboard.http.LongPollTransportProvider;
}
