package dev.switchboard.http3;

import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.Http3Clients;
import java.net.http.HttpClient;

/**
 * Makes the HTTP/3 client of the SSE and long-polling channels when {@code switchboard.http3=true}.
 * Public for {@link java.util.ServiceLoader} only. Thread-safe.
 */
public final class Http3ClientsProvider implements Http3Clients {
  @Override
  public HttpClient create(TransportConfig config) {
    return new Http3HttpClient(config);
  }
}
