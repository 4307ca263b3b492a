package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import io.grpc.TlsServerCredentials;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The {@code grpc} client beyond the contract suite: URLs, TLS, keepalive, publish deadlines. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcChannelTest {

  @Test
  void badUrlsAndSettings_areRefusedWithTheirNames() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Transports.open(
        TransportConfig.builder().transport("grpc").url("ftp://127.0.0.1:1").build()));
    assertTrue(e.getMessage().contains("ftp://127.0.0.1:1"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> TransportConfig.fromProperties(
        Map.of("switchboard.url", "grpc://127.0.0.1:1", "switchboard.keep-alive", "2s")));
    assertTrue(e.getMessage().contains("keep-alive"), e.getMessage());
  }

  @Test
  void keepAliveFromProperties_isAcceptedByGrpcHubServer() throws Exception {
    Hub hub = Hub.builder().broker(new InMemoryBroker(100)).build();
    try (GrpcHubServer server = GrpcHubServer.builder(hub).port(0).start();
        Channel c = Transports.open(TransportConfig.fromProperties(Map.of(
            "switchboard.transport", "grpc",
            "switchboard.url", "grpc://127.0.0.1:" + server.port(),
            "switchboard.keep-alive", "10s")).build())) {
      assertEquals(Duration.ofSeconds(10), TransportConfig.fromProperties(Map.of("switchboard.url", "grpc://h:1",
          "switchboard.keep-alive", "10s")).build().keepAlive());
      Message stored = c.send(Message.text("k", "alive")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertTrue(stored.id() != null);
    } finally {
      hub.shutdown();
    }
  }

  @Test
  void publishWithoutAnAnswer_failsAfterTheRequestTimeout() throws Exception {
    // A broker that never finishes storing (forces the fault); everything else is real.
    InMemoryBroker real = new InMemoryBroker(100);
    Broker stuck = new dev.switchboard.testkit.ForwardingBroker(real) {
      @Override
      public CompletionStage<Message> publish(Message draft) {
        return new CompletableFuture<>();
      }
    };
    Hub hub = Hub.builder().broker(stuck).build();
    try (GrpcHubServer server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ZERO).start();
        Channel c = Transports.open(TransportConfig.builder().transport("grpc")
            .url("grpc://127.0.0.1:" + server.port()).requestTimeout(Duration.ofMillis(500)).build())) {
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> c.send(Message.text("t", "x")).toCompletableFuture().get(30, TimeUnit.SECONDS));
      SwitchboardException se = SwitchboardException.from(e.getCause());
      assertEquals(Status.UNAVAILABLE, se.status());
      assertEquals("deadline_exceeded", se.errorCode());
      assertEquals(Channel.State.OPEN, c.state(), "the session goes on");
    } finally {
      hub.shutdown();
    }
  }

  @Test
  void grpcsUrl_usesTls_andTrustsOnlyWhatTheJdkTrusts(@TempDir Path dir) throws Exception {
    Path keystore = dir.resolve("server.p12");
    char[] password = "changeit".toCharArray();
    Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-alias", "hub", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
        "-ext", "san=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12",
        "-keystore", keystore.toString(), "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true).start();
    String out = new String(keytool.getInputStream().readAllBytes());
    assertEquals(0, keytool.waitFor(), out);
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(keystore.toFile())) {
      ks.load(in, password);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, password);

    Hub hub = Hub.builder().broker(new InMemoryBroker(100)).build();
    String trustStore = System.getProperty("javax.net.ssl.trustStore");
    try (GrpcHubServer server = GrpcHubServer.builder(hub).port(0)
        .credentials(TlsServerCredentials.newBuilder().keyManager(kmf.getKeyManagers()).build()).start()) {
      TransportConfig.Builder config = TransportConfig.builder().transport("grpc")
          .url("grpcs://127.0.0.1:" + server.port())
          .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(50)).withMaxAttempts(2));

      // A self-signed certificate the JDK does not trust: refused, the channel gives up.
      try (Channel untrusted = Transports.open(config.build())) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> untrusted.send(Message.text("tls", "x")).toCompletableFuture().get(30, TimeUnit.SECONDS));
        assertEquals(Status.UNAVAILABLE, SwitchboardException.from(e.getCause()).status());
      }

      // Trusted through the JDK's own setting: works end to end.
      Files.copy(keystore, dir.resolve("trust.p12"));
      System.setProperty("javax.net.ssl.trustStore", dir.resolve("trust.p12").toString());
      System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
      System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");
      try (Channel c = Transports.open(config.build())) {
        LinkedBlockingQueue<Message> got = new LinkedBlockingQueue<>();
        Message marker = hub.publish("tls", "marker").toCompletableFuture().get();
        c.subscribe("tls", marker.id(), (MessageListener) got::add);
        c.send(Message.text("tls", "over tls")).toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals("over tls", got.poll(30, TimeUnit.SECONDS).text());
      }
    } finally {
      if (trustStore == null) {
        System.clearProperty("javax.net.ssl.trustStore");
      } else {
        System.setProperty("javax.net.ssl.trustStore", trustStore);
      }
      System.clearProperty("javax.net.ssl.trustStorePassword");
      System.clearProperty("javax.net.ssl.trustStoreType");
      hub.shutdown();
    }
  }
}
