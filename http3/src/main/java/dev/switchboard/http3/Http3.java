package dev.switchboard.http3;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http3.server.HTTP3ServerConnectionFactory;
import org.eclipse.jetty.http3.server.HTTP3ServerQuicConfiguration;
import org.eclipse.jetty.quic.quiche.QuicheBinding;
import org.eclipse.jetty.quic.quiche.server.QuicheServerConnector;
import org.eclipse.jetty.quic.quiche.server.QuicheServerQuicConfiguration;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.component.LifeCycle;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * Serves a hub hosted on embedded Jetty over HTTP/3 too: {@link #addConnector} adds a QUIC connector
 * (UDP) to the server, serving the same handlers as its other connectors, and {@link #advertise} makes
 * the TLS connectors answer with {@code Alt-Svc: h3=":port"} so clients learn about it.
 *
 * <pre>{@code
 * SslContextFactory.Server ssl = ...;                  // the HTTPS connector's key store
 * HttpConfiguration config = new HttpConfiguration();  // shared by the HTTPS and QUIC connectors
 * QuicheServerConnector h3 = Http3.addConnector(server, ssl, config, "0.0.0.0", 8443);
 * Http3.advertise(config, h3);
 * }</pre>
 *
 * <p>It runs on Jetty's quiche binding: a native library (inside the jar for Linux x86-64 and
 * aarch64, macOS and Windows; glibc 2.34 or newer on Linux) loaded with JNA. Where it cannot load,
 * {@link #unavailableReason()} says why in one line and {@link #addConnector} fails with it.
 *
 * <p>Thread-safe (stateless).
 */
public final class Http3 {
  private static volatile String unavailable;
  private static volatile boolean probed;

  private Http3() {}

  /**
   * Why HTTP/3 cannot run here, in one line, or null when the native quiche library loads. Probed once
   * per JVM.
   */
  public static String unavailableReason() {
    if (!probed) {
      synchronized (Http3.class) {
        if (!probed) {
          unavailable = probe();
          probed = true;
        }
      }
    }
    return unavailable;
  }

  private static String probe() {
    Throwable failure = new IllegalStateException("no quiche binding on the class path (add jetty-quic-quiche-jna)");
    try {
      for (QuicheBinding binding : ServiceLoader.load(QuicheBinding.class, QuicheBinding.class.getClassLoader())) {
        Throwable f = binding.initialize();
        if (f == null) {
          return null;
        }
        failure = f;
      }
    } catch (LinkageError | RuntimeException | java.util.ServiceConfigurationError e) {
      failure = e;
    }
    Throwable root = failure;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return "HTTP/3 is unavailable: Jetty's native quiche library did not load on " + System.getProperty("os.name")
        + " " + System.getProperty("os.arch") + " (it needs glibc 2.34+ on Linux and a writable JNA temp "
        + "directory, -Djna.tmpdir): " + String.valueOf(root).replace('\n', ' ');
  }

  /**
   * Throws when HTTP/3 cannot run here.
   *
   * @throws IllegalStateException with {@link #unavailableReason()} as its message
   */
  public static void requireAvailable() {
    String reason = unavailableReason();
    if (reason != null) {
      throw new IllegalStateException(reason);
    }
  }

  /**
   * Adds an HTTP/3 connector (QUIC over UDP) to {@code server}, serving the same handlers as the
   * server's other connectors. It uses the key store of {@code ssl} (Jetty writes the private key as a
   * PEM file into a private temporary directory for quiche, removed when the connector stops). The UDP
   * port may equal a TCP connector's port.
   *
   * @param config the HTTP settings (may be the TLS connector's)
   * @param host the address to bind, or null for all
   * @param port the UDP port, 0 for any free one (read it with {@code getLocalPort()} once started)
   * @throws IllegalStateException when the native library cannot load ({@link #unavailableReason()})
   * @throws UncheckedIOException when the temporary directory cannot be made
   */
  public static QuicheServerConnector addConnector(Server server, SslContextFactory.Server ssl, HttpConfiguration config,
      String host, int port) {
    requireAvailable();
    Path pemDir;
    try {
      pemDir = privateTempDir();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the PEM directory for QUIC: " + e.getMessage(), e);
    }
    QuicheServerQuicConfiguration quic = HTTP3ServerQuicConfiguration.configure(new QuicheServerQuicConfiguration(pemDir));
    QuicheServerConnector connector = new QuicheServerConnector(server, ssl, quic, new HTTP3ServerConnectionFactory(config));
    connector.setHost(host);
    connector.setPort(port);
    connector.addEventListener(new LifeCycle.Listener() {
      @Override
      public void lifeCycleStopped(LifeCycle event) {
        deleteTree(pemDir);
      }

      @Override
      public void lifeCycleFailure(LifeCycle event, Throwable cause) {
        deleteTree(pemDir);
      }
    });
    server.addConnector(connector);
    return connector;
  }

  /**
   * Adds a customizer to {@code tlsConfig} that answers every request over TLS (HTTP/1.1 and HTTP/2)
   * with {@code Alt-Svc: h3=":port"; ma=86400}, the port read from {@code connector} when the header is
   * written (so it is right for port 0 too). Requests over HTTP/3 and over cleartext get no header.
   */
  public static void advertise(HttpConfiguration tlsConfig, QuicheServerConnector connector) {
    tlsConfig.addCustomizer(new AltSvc(connector));
  }

  /** The {@code Alt-Svc} value for an HTTP/3 port. */
  static String altSvcValue(int port) {
    return "h3=\":" + port + "\"; ma=86400";
  }

  private static final class AltSvc implements HttpConfiguration.Customizer {
    private final QuicheServerConnector connector;

    AltSvc(QuicheServerConnector connector) {
      this.connector = connector;
    }

    @Override
    public Request customize(Request request, org.eclipse.jetty.http.HttpFields.Mutable responseHeaders) {
      int port = connector.getLocalPort();
      if (port > 0 && request.isSecure()
          && request.getConnectionMetaData().getHttpVersion() != HttpVersion.HTTP_3) {
        responseHeaders.put(new HttpField(HttpHeader.ALT_SVC, altSvcValue(port)));
      }
      return request;
    }
  }

  static Path privateTempDir() throws IOException {
    try {
      return Files.createTempDirectory("switchboard-quic",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (UnsupportedOperationException e) {
      return Files.createTempDirectory("switchboard-quic"); // not POSIX (Windows): the user's temp dir
    }
  }

  static void deleteTree(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // already gone
    }
  }
}
