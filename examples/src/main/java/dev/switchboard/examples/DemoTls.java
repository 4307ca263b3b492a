package dev.switchboard.examples;

import dev.switchboard.http3.Http3;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.SelfSignedCertificate;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.quic.quiche.server.QuicheServerConnector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The demo's HTTPS (TLS over TCP: h2 and http/1.1) and HTTP/3 (QUIC over UDP) connectors, with a
 * self-signed certificate for localhost and 127.0.0.1 generated at start unless a key store is given.
 * The HTTPS connector advertises HTTP/3 with {@code Alt-Svc}.
 *
 * <p>Not thread-safe: built and started from the demo's main thread.
 */
final class DemoTls {
  static final List<String> USAGE = List.of(
      "  --https-port N  also serve HTTPS (TLS: h2 and http/1.1) on port N (0 picks a free port)",
      "  --http3-port N  also serve HTTP/3 (QUIC over UDP) on port N; may equal the HTTPS port",
      "  --keystore FILE --keystore-password P  the TLS key store (PKCS12 or JKS); without it a",
      "                  self-signed certificate for localhost and 127.0.0.1 is generated at start");

  /** The TLS options; ports are -1 when off. */
  record Settings(int httpsPort, int http3Port, Path keystore, String keystorePassword) {
    static final Settings OFF = new Settings(-1, -1, null, null);

    boolean enabled() {
      return httpsPort >= 0 || http3Port >= 0;
    }
  }

  /** Collects the TLS options from the command line. Not thread-safe. */
  static final class Parser {
    private int httpsPort = -1;
    private int http3Port = -1;
    private Path keystore;
    private String password;

    /**
     * Parses the option at {@code args[i]} if it is one of these.
     *
     * @return how many arguments it took, 0 when the option is not a TLS one
     * @throws IllegalArgumentException naming the bad value
     */
    int parse(String[] args, int i) {
      String a = args[i];
      String inline = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        inline = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      if (!List.of("--https-port", "--http3-port", "--keystore", "--keystore-password").contains(a)) {
        return 0;
      }
      String v = inline;
      if (v == null) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(a + " needs a value");
        }
        v = args[i + 1];
      }
      switch (a) {
        case "--https-port": httpsPort = DemoHub.portValue(a, v); break;
        case "--http3-port": http3Port = DemoHub.portValue(a, v); break;
        case "--keystore": keystore = Path.of(v); break;
        default: password = v; break;
      }
      return inline == null ? 2 : 1;
    }

    Settings build() {
      if ((keystore == null) != (password == null)) {
        throw new IllegalArgumentException("--keystore and --keystore-password go together");
      }
      if (keystore != null && !Files.isReadable(keystore)) {
        throw new IllegalArgumentException("--keystore " + keystore + " is not a readable file");
      }
      if (keystore != null && httpsPort < 0 && http3Port < 0) {
        throw new IllegalArgumentException("--keystore needs --https-port or --http3-port");
      }
      return new Settings(httpsPort, http3Port, keystore, password);
    }
  }

  private final Settings settings;
  private final SelfSignedCertificate certificate;
  private final ServerConnector https;
  private final QuicheServerConnector h3;
  private final Path generatedDir;

  private DemoTls(Settings settings, SelfSignedCertificate certificate, ServerConnector https, QuicheServerConnector h3,
      Path generatedDir) {
    this.settings = settings;
    this.certificate = certificate;
    this.https = https;
    this.h3 = h3;
    this.generatedDir = generatedDir;
  }

  /**
   * Adds the connectors to {@code server} and binds them (TCP now, UDP when the server starts), so
   * their ports are known before the hub is built.
   *
   * @throws IllegalStateException when HTTP/3 is asked for but cannot run here (one line saying why)
   */
  static DemoTls add(Server server, HttpConfiguration plain, Settings s, String host) throws IOException {
    if (s.http3Port() >= 0) {
      Http3.requireAvailable();
    }
    Path dir = null;
    SelfSignedCertificate cert;
    if (s.keystore() != null) {
      cert = SelfSignedCertificate.load(s.keystore(), s.keystorePassword());
    } else {
      dir = Files.createTempDirectory("switchboard-demo-tls");
      List<String> ips = new ArrayList<>(List.of("127.0.0.1"));
      if (!host.equals("127.0.0.1") && host.matches("[0-9.]+")) {
        ips.add(host);
      }
      cert = SelfSignedCertificate.generate(dir.resolve("demo.p12"), Long.toHexString(System.nanoTime()),
          List.of("localhost"), ips, 30);
    }
    SslContextFactory.Server ssl = EmbeddedJetty.sslContextFactory(cert);
    HttpConfiguration config = new HttpConfiguration(plain);
    ServerConnector https = null;
    if (s.httpsPort() >= 0) {
      https = EmbeddedJetty.httpsConnector(server, ssl, config);
      https.setHost(host);
      https.setPort(s.httpsPort());
      server.addConnector(https);
      https.open();
    }
    QuicheServerConnector h3 = null;
    if (s.http3Port() >= 0) {
      int port = s.http3Port() == 0 && https != null && s.httpsPort() == 0 ? https.getLocalPort() : s.http3Port();
      h3 = Http3.addConnector(server, ssl, config, host, port);
      h3.open();
      if (https != null) {
        Http3.advertise(config, h3);
      }
    }
    return new DemoTls(s, cert, https, h3, dir);
  }

  /** The bound TLS ports (HTTPS, HTTP/3), for the origin policy. */
  List<Integer> ports() {
    List<Integer> ports = new ArrayList<>();
    if (https != null) {
      ports.add(https.getLocalPort());
    }
    if (h3 != null) {
      ports.add(h3.getLocalPort());
    }
    return ports;
  }

  /** {@code https://host:port} of the HTTPS connector, or null. */
  String httpsUrl(String host) {
    return https == null ? null : "https://" + host + ":" + https.getLocalPort();
  }

  /** {@code https://host:port} of the HTTP/3 connector, or null. */
  String http3Url(String host) {
    return h3 == null ? null : "https://" + host + ":" + h3.getLocalPort();
  }

  SelfSignedCertificate certificate() {
    return certificate;
  }

  void print(PrintStream out, String host) {
    String h = host.contains(":") ? "[" + host + "]" : host;
    if (https != null) {
      out.println("switchboard demo: https=" + httpsUrl(h) + " (TLS: h2, http/1.1"
          + (h3 != null ? "; Alt-Svc advertises h3" : "") + ")");
    }
    if (h3 != null) {
      out.println("switchboard demo: http3=" + http3Url(h) + " (QUIC over UDP)");
    }
    out.println("switchboard demo: certificate SPKI sha256 (base64) " + certificate.spkiSha256()
        + (settings.keystore() == null ? " (self-signed, generated at start)" : ""));
    if (h3 != null) {
      out.println("switchboard demo: chromium --origin-to-force-quic-on=" + h + ":" + h3.getLocalPort()
          + " --ignore-certificate-errors-spki-list=" + certificate.spkiSha256() + " " + http3Url(h) + "/");
    }
  }

  /** Removes the generated key store (the connectors stop with the server). */
  void close() {
    if (generatedDir != null) {
      try (var files = Files.walk(generatedDir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // best effort
      }
    }
  }
}
