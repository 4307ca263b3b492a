package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sender checks targets before each attempt and connects to the address it checked (no DNS
 * rebinding window), verifies TLS against the URL's host name, and reports endpoint state changes
 * once. Host names go through a test resolver; every receiver is on loopback.
 */
@Timeout(60)
class WebhookTargetsTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final byte[] BODY = "{\"type\":\"x\"}".getBytes(StandardCharsets.UTF_8);

  private final List<Server> servers = new ArrayList<>();

  /** One request as a receiver saw it. */
  record Seen(String receiver, String host, String path) {}

  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
  private final List<Integer> remotePorts = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (Server s : servers) {
      s.stop();
    }
  }

  private HttpServlet recorder(String name) {
    return new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        req.getInputStream().readAllBytes();
        seen.add(new Seen(name, req.getHeader("Host"), req.getRequestURI()));
        remotePorts.add(req.getRemotePort());
        Integer status = statuses.poll();
        res.setStatus(status == null ? 204 : status);
        String shape = req.getParameter("reply");
        if ("chunked".equals(shape)) {
          res.setStatus(200);
          res.getOutputStream().write(new byte[5000]);
          res.flushBuffer(); // no Content-Length: chunked
          res.getOutputStream().write(new byte[20000]);
        } else if ("sized".equals(shape)) {
          res.setStatus(200);
          res.setContentLength(3000);
          res.getOutputStream().write(new byte[3000]);
        } else if ("close".equals(shape)) {
          res.setStatus(202);
          res.setHeader("Connection", "close");
          res.getOutputStream().write("bye".getBytes(StandardCharsets.UTF_8));
        }
      }
    };
  }

  private ServerConnector start(String name, String host, int port, SslContextFactory.Server tls) throws Exception {
    Server server = new Server();
    ServerConnector c;
    if (tls == null) {
      c = new ServerConnector(server);
    } else {
      HttpConfiguration https = new HttpConfiguration();
      https.addCustomizer(new SecureRequestCustomizer(true)); // SNI required
      c = new ServerConnector(server, new SslConnectionFactory(tls, "http/1.1"), new HttpConnectionFactory(https));
    }
    c.setHost(host);
    c.setPort(port);
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addServlet(new ServletHolder(recorder(name)), "/*");
    server.setHandler(ctx);
    servers.add(server);
    server.start();
    return c;
  }

  private static void run(WebhookSender s) throws Exception {
    s.runDue().get(30, TimeUnit.SECONDS);
  }

  @Test
  void aNameThatRebindsToLoopback_isRefusedAtSendTime_andEachAttemptConnectsToTheAddressItChecked() throws Exception {
    // Two receivers on one port: 127.0.0.2 stands for a public address, 127.0.0.1 for the loopback target.
    ServerConnector loopback = start("loopback", "127.0.0.1", 0, null);
    int port = loopback.getLocalPort();
    start("allowed", "127.0.0.2", port, null);
    AtomicInteger lookups = new AtomicInteger();
    // Rebinding DNS with no TTL: the allowed address, then loopback, then the allowed one again, …
    TargetPolicy.Resolver rebinding = host -> List.of(InetAddress.getByName(
        lookups.getAndIncrement() % 2 == 0 ? "127.0.0.2" : "127.0.0.1"));
    TargetPolicy policy = TargetPolicy.builder().resolver(rebinding).allowRange("127.0.0.2/32").build();
    try (WebhookSender s = WebhookSender.builder().targets(policy).schedule(List.of(Duration.ZERO)).build()) {
      URI url = policy.check("http://hooks.test:" + port + "/in"); // lookup 0: 127.0.0.2, accepted
      s.register("ep", url, WebhookSigner.standardWebhooks(SECRET));

      s.send("ep", BODY, null);
      run(s); // lookup 1: 127.0.0.1 → refused, nothing sent
      assertEquals(List.of(), seen);
      assertEquals(1, s.deadLetters().size());
      assertTrue(s.deadLetters().get(0).lastError().startsWith("refused: hooks.test resolves to 127.0.0.1, a loopback address"),
          s.deadLetters().get(0).lastError());

      s.send("ep", BODY, null);
      run(s); // lookup 2: 127.0.0.2 → checked, and connected to: no second lookup that could say 127.0.0.1
      assertEquals(List.of(new Seen("allowed", "hooks.test:" + port, "/in")), seen);
      assertEquals(3, lookups.get(), "one lookup at registration and one per attempt");
    }
  }

  @Test
  void https_connectsToTheCheckedAddress_andVerifiesTheCertificateAgainstTheUrlsHostName(@TempDir Path dir) throws Exception {
    Path keystore = dir.resolve("hooks.p12");
    Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-alias", "hooks", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=hooks.test",
        "-ext", "SAN=dns:hooks.test", "-validity", "2", "-keystore", keystore.toString(), "-storetype", "PKCS12",
        "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
    String keytoolOutput = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(keytool.waitFor(30, TimeUnit.SECONDS) && keytool.exitValue() == 0, keytoolOutput);
    SslContextFactory.Server tls = new SslContextFactory.Server();
    tls.setKeyStorePath(keystore.toString());
    tls.setKeyStorePassword("changeit");
    tls.setSniRequired(true);
    int port = start("tls", "127.0.0.1", 0, tls).getLocalPort();

    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(keystore.toFile())) {
      ks.load(in, "changeit".toCharArray());
    }
    Certificate cert = ks.getCertificate("hooks");
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("hooks", cert);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);

    AtomicInteger lookups = new AtomicInteger();
    TargetPolicy policy = TargetPolicy.builder().allowPrivate(true).resolver(host -> {
      lookups.incrementAndGet();
      return List.of(InetAddress.getByName("127.0.0.1"));
    }).build();
    try (WebhookSender s = WebhookSender.builder().targets(policy).sslContext(ssl).schedule(List.of(Duration.ZERO))
        .build()) {
      s.register("good", URI.create("https://hooks.test:" + port + "/in"), WebhookSigner.standardWebhooks(SECRET));
      s.register("wrong-name", URI.create("https://other.test:" + port + "/in"), WebhookSigner.standardWebhooks(SECRET));
      s.register("by-address", URI.create("https://127.0.0.1:" + port + "/in"), WebhookSigner.standardWebhooks(SECRET));
      s.send("good", BODY, null);
      s.send("wrong-name", BODY, null);
      s.send("by-address", BODY, null);
      run(s);
      assertEquals(List.of(new Seen("tls", "hooks.test:" + port, "/in")), seen, "only the name on the certificate verifies");
      assertEquals(2, s.deadLetters().size());
      for (Delivery d : s.deadLetters()) {
        assertTrue(d.lastError().startsWith("network: "), d.lastError());
      }
      assertEquals(2, lookups.get(), "the IP literal is not looked up");
    }
  }

  @Test
  void endpointState_changesAreReportedAndLoggedOnce_notPerAttempt() throws Exception {
    int port = start("flaky", "127.0.0.1", 0, null).getLocalPort();
    List<WebhookSender.EndpointStatus> changes = new CopyOnWriteArrayList<>();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldErr = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8)); // slf4j-simple writes to the current System.err
    try (WebhookSender s = WebhookSender.builder().allowPrivateTargets(true).jitter(0)
        .schedule(List.of(Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO))
        .listener(new WebhookSender.Listener() {
          @Override
          public void onEndpointStatus(WebhookSender.EndpointStatus status) {
            changes.add(status);
          }
        }).build()) {
      s.register("flaky", URI.create("http://127.0.0.1:" + port + "/in"), WebhookSigner.standardWebhooks(SECRET));
      assertEquals(WebhookSender.EndpointState.HEALTHY, s.status("flaky").state());
      statuses.addAll(List.of(500, 503, 500));
      s.send("flaky", BODY, null);
      for (int i = 0; i < 3; i++) {
        run(s);
        assertEquals(WebhookSender.EndpointState.FAILING, s.status("flaky").state());
        assertEquals(i + 1, s.status("flaky").consecutiveFailures());
      }
      assertEquals("HTTP 500", s.status("flaky").lastError());
      run(s); // 204
      WebhookSender.EndpointStatus healthy = s.status("flaky");
      assertEquals(WebhookSender.EndpointState.HEALTHY, healthy.state());
      assertEquals(0, healthy.consecutiveFailures());
      assertTrue(healthy.lastSuccess() != null && healthy.lastFailure() != null);
      statuses.add(410);
      s.send("flaky", BODY, null);
      run(s);
      assertEquals(WebhookSender.EndpointState.DISABLED, s.status("flaky").state());
      assertTrue(s.status("flaky").disabledReason().startsWith("410 Gone"), s.status("flaky").disabledReason());
      assertNull(s.status("unknown"));
    } finally {
      System.setErr(oldErr);
    }
    List<String> states = changes.stream().map(c -> c.state().name()).toList();
    assertEquals(List.of("FAILING", "HEALTHY", "FAILING", "DISABLED"), states);
    String log = err.toString(StandardCharsets.UTF_8);
    assertEquals(2, count(log, "WARN dev.switchboard.webhook.WebhookSender - webhook endpoint flaky is failing"), log);
    assertEquals(1, count(log, "webhook endpoint flaky recovered after 3 failed attempts"), log);
    assertEquals(1, count(log, "webhook endpoint flaky disabled: 410 Gone"), log);
    assertEquals(4, count(log, "webhook endpoint flaky"), log);
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void responseBodies_chunkedSizedOrClosing_areReadToTheirEnd_andTheConnectionReusedWhenItCanBe() throws Exception {
    int port = start("shapes", "127.0.0.1", 0, null).getLocalPort();
    try (WebhookSender s = WebhookSender.builder().allowPrivateTargets(true).schedule(List.of(Duration.ZERO)).build()) {
      for (String shape : List.of("chunked", "sized", "close")) {
        s.register(shape, URI.create("http://127.0.0.1:" + port + "/in?reply=" + shape), WebhookSigner.standardWebhooks(SECRET));
        for (int i = 0; i < 2; i++) {
          s.send(shape, BODY, null);
          run(s);
        }
      }
      assertEquals(List.of(), s.deadLetters());
      assertEquals(6, seen.size());
      // One connection carried both chunked replies and both sized ones; "close" needed one each.
      assertEquals(remotePorts.get(0), remotePorts.get(1), remotePorts.toString());
      assertEquals(remotePorts.get(2), remotePorts.get(3), remotePorts.toString());
      assertTrue(!remotePorts.get(4).equals(remotePorts.get(5)), remotePorts.toString());
    }
  }

  @Test
  void keptAliveConnections_areReused_andAStaleOneIsReplaced() throws Exception {
    int port = start("plain", "127.0.0.1", 0, null).getLocalPort();
    try (WebhookSender s = WebhookSender.builder().allowPrivateTargets(true).schedule(List.of(Duration.ZERO)).build()) {
      s.register("ep", URI.create("http://127.0.0.1:" + port + "/in?x=1"), WebhookSigner.standardWebhooks(SECRET));
      for (int i = 0; i < 3; i++) {
        s.send("ep", BODY, null);
        run(s);
      }
      assertEquals(1, remotePorts.stream().distinct().count(), "one kept-alive connection: " + remotePorts);
      servers.get(0).stop(); // closes the idle connection under the sender
      ((ServerConnector) servers.get(0).getConnectors()[0]).setPort(port);
      servers.get(0).start();
      s.send("ep", BODY, null);
      run(s);
      assertEquals(4, seen.size(), seen.toString());
      assertEquals("/in", seen.get(3).path());
      assertEquals(List.of(), s.deadLetters());
    }
  }
}
