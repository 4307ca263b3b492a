package dev.switchboard.transport.internal;

import dev.switchboard.transport.TransportConfig;
import java.net.http.HttpClient;
import java.util.ServiceLoader;

/**
 * Internal SPI: makes the {@link HttpClient} that {@link HttpChannel} (SSE, long polling) sends through
 * when {@code switchboard.http3} is on. switchboard-http3 provides it (an HttpClient over Jetty's HTTP/3
 * client); the client it returns is {@link java.io.Closeable} and is closed with the channel.
 *
 * <p>Implementations are thread-safe.
 */
public interface Http3Clients {
  /**
   * A client for this configuration's URL over HTTP/3.
   *
   * @throws IllegalStateException when HTTP/3 cannot run here (the message says why in one line)
   */
  HttpClient create(TransportConfig config);

  /**
   * The provider on the class path.
   *
   * @throws IllegalArgumentException when switchboard-http3 is missing or the URL is not https://
   */
  static HttpClient open(TransportConfig config) {
    if (!"https".equalsIgnoreCase(config.url().getScheme())) {
      throw new IllegalArgumentException("switchboard.http3 needs an https:// URL (HTTP/3 always runs over TLS), not "
          + config.url());
    }
    for (Http3Clients p : ServiceLoader.load(Http3Clients.class, Http3Clients.class.getClassLoader())) {
      return p.create(config);
    }
    throw new IllegalArgumentException("switchboard.http3=true needs dev.switchboard:switchboard-http3 on the class path");
  }
}
