package dev.switchboard.http3;

import org.eclipse.jetty.client.Connection;
import org.eclipse.jetty.client.Destination;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http3.client.HTTP3Client;
import org.eclipse.jetty.http3.client.HTTP3SessionClient;
import org.eclipse.jetty.http3.client.transport.HttpClientTransportOverHTTP3;
import org.eclipse.jetty.http3.client.transport.internal.HttpConnectionOverHTTP3;
import org.eclipse.jetty.io.Transport;

/**
 * Jetty's HTTP/3 client transport (12.1.5) on core Jetty's client (12.1.14): the newer
 * {@code HttpConnection} declares two abstract methods the older HTTP/3 connection lacks
 * ({@code getHttpVersion}, {@code requiresHostHeader}; calling them threw {@link AbstractMethodError}),
 * which this subclass supplies as Jetty's own HTTP/3 connection does in later releases. Remove it once
 * HTTP/3 and core Jetty share a version.
 *
 * <p>Thread-safe, as its superclass.
 */
final class Http3Transport extends HttpClientTransportOverHTTP3 {
  Http3Transport(HTTP3Client client, Transport transport) {
    super(client, transport);
  }

  @Override
  protected Connection newConnection(Destination destination, HTTP3SessionClient session) {
    return new Compat(destination, session);
  }

  /** The HTTP/3 connection with the two methods core Jetty 12.1.14 calls. */
  static final class Compat extends HttpConnectionOverHTTP3 {
    Compat(Destination destination, HTTP3SessionClient session) {
      super(destination, session);
    }

    @Override
    protected HttpVersion getHttpVersion() {
      return HttpVersion.HTTP_3;
    }

    @Override
    protected boolean requiresHostHeader() {
      return false; // HTTP/3 carries :authority
    }
  }
}
