/**
 * Switchboard over HTTP/3 (QUIC): a connector for a hub hosted on embedded Jetty ({@link
 * dev.switchboard.http3.Http3}), and an HTTP/3 client transport for SSE and long polling. Carries
 * Jetty's quiche binding (native library, JNA).
 */
module dev.switchboard.http3 {
  requires transitive dev.switchboard.transport;
  requires dev.switchboard.hub; // the internal Http3Clients SPI
  requires transitive org.eclipse.jetty.server;
  requires org.eclipse.jetty.http3.server;
  requires org.eclipse.jetty.quic.quiche.server;
  requires org.eclipse.jetty.quic.quiche.common;
  requires org.eclipse.jetty.quic.quiche.jna;
  requires org.eclipse.jetty.quic.server;
  requires org.eclipse.jetty.quic.common;
  requires org.eclipse.jetty.client;
  requires org.eclipse.jetty.http3.client;
  requires org.eclipse.jetty.http3.client.transport;
  requires org.eclipse.jetty.quic.quiche.client;
  requires org.eclipse.jetty.quic.client;
  requires java.net.http;

  exports dev.switchboard.http3;

  uses org.eclipse.jetty.quic.quiche.QuicheBinding;

  provides dev.switchboard.transport.internal.Http3Clients with dev.switchboard.http3.Http3ClientsProvider;
}
