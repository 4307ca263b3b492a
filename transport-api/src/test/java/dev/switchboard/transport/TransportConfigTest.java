package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class TransportConfigTest {
  @Test
  void properties_fillTheSameBuilder() {
    Properties p = new Properties();
    p.setProperty("switchboard.transport", "SSE");
    p.setProperty("switchboard.url", "http://hub:8080");
    p.setProperty("switchboard.connect-timeout", "2s");
    p.setProperty("switchboard.request-timeout", "PT45S");
    p.setProperty("switchboard.reconnect.initial", "50ms");
    p.setProperty("switchboard.reconnect.max", "1m");
    p.setProperty("switchboard.reconnect.max-attempts", "7");
    p.setProperty("switchboard.max-message-bytes", "2048");
    p.setProperty("switchboard.long-poll-wait", "20000");
    p.setProperty("switchboard.http2", "false");
    p.setProperty("switchboard.token", "abc");
    p.setProperty("switchboard.header.X-Tenant", "t1");
    p.setProperty("unrelated.key", "ignored");
    TransportConfig c = TransportConfig.fromProperties(p).build();
    assertEquals("sse", c.transport());
    assertEquals("http://hub:8080", c.url().toString());
    assertEquals(Duration.ofSeconds(2), c.connectTimeout());
    assertEquals(Duration.ofSeconds(45), c.requestTimeout());
    assertEquals(Duration.ofMillis(50), c.reconnectBackoff().initial());
    assertEquals(Duration.ofMinutes(1), c.reconnectBackoff().max());
    assertEquals(7, c.reconnectBackoff().maxAttempts());
    assertEquals(2048, c.maxMessageBytes());
    assertEquals(Duration.ofSeconds(20), c.longPollWait());
    assertEquals(false, c.http2());
    assertEquals(Map.of("Authorization", "Bearer abc", "X-Tenant", "t1"), c.headers());
  }

  @Test
  void environment_usesUpperCaseUnderscoreNames() {
    TransportConfig c = TransportConfig.fromEnvironment(Map.of(
        "SWITCHBOARD_TRANSPORT", "longpoll",
        "SWITCHBOARD_URL", "http://env:1",
        "SWITCHBOARD_RECONNECT_MAX_ATTEMPTS", "3",
        "PATH", "/bin")).build();
    assertEquals("longpoll", c.transport());
    assertEquals(3, c.reconnectBackoff().maxAttempts());
  }

  @Test
  void defaults_areSane() {
    TransportConfig c = TransportConfig.builder().url("http://h").build();
    assertEquals("auto", c.transport());
    assertEquals(Duration.ofSeconds(10), c.connectTimeout());
    assertEquals(1 << 20, c.maxMessageBytes());
    assertEquals(Duration.ofSeconds(30), c.longPollWait());
    assertTrue(c.http2());
  }

  @Test
  void sendBounds_haveDefaults_andPropertiesAndEnvironmentSetThem() {
    TransportConfig d = TransportConfig.builder().url("http://h").build();
    assertEquals(1024, d.maxPendingPublishes());
    assertEquals(16L << 20, d.maxSendQueueBytes());
    TransportConfig c = TransportConfig.fromProperties(Map.of("switchboard.url", "http://h",
        "switchboard.max-pending-publishes", "7", "switchboard.max-send-queue-bytes", "4096")).build();
    assertEquals(7, c.maxPendingPublishes());
    assertEquals(4096, c.maxSendQueueBytes());
    assertEquals(9, TransportConfig.fromEnvironment(Map.of("SWITCHBOARD_URL", "http://h",
        "SWITCHBOARD_MAX_PENDING_PUBLISHES", "9")).build().maxPendingPublishes());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.max-send-queue-bytes", "0")));
    assertTrue(e.getMessage().contains("max-send-queue-bytes"), e.getMessage());
  }

  @Test
  void idleTimeout_defaultsTo45s_isSetByPropertyAndEnvironment_andRefusesLessThanASecond() {
    assertEquals(Duration.ofSeconds(45), TransportConfig.builder().url("http://h").build().idleTimeout());
    TransportConfig c = TransportConfig.fromProperties(Map.of("switchboard.url", "http://h",
        "switchboard.idle-timeout", "0")).build();
    assertEquals(Duration.ZERO, c.idleTimeout());
    assertEquals(Duration.ofMinutes(2), c.toBuilder().idleTimeout(Duration.ofMinutes(2)).build().idleTimeout());
    assertEquals(Duration.ofSeconds(90), TransportConfig.fromEnvironment(Map.of("SWITCHBOARD_URL", "http://h",
        "SWITCHBOARD_IDLE_TIMEOUT", "90s")).build().idleTimeout());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.idle-timeout", "500ms")));
    assertTrue(e.getMessage().contains("idle-timeout"), e.getMessage());
  }

  @Test
  void http3AndSslContext_areKeptAndCopied() throws Exception {
    TransportConfig c = TransportConfig.fromProperties(Map.of("switchboard.url", "https://h:8443",
        "switchboard.http3", "true")).build();
    assertTrue(c.http3());
    assertEquals(null, c.sslContext());
    javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
    TransportConfig copy = c.toBuilder().sslContext(tls).build();
    assertTrue(copy.http3());
    assertEquals(tls, copy.sslContext());
    assertEquals(false, TransportConfig.builder().url("https://h").build().http3());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.http3", "yes")));
    assertTrue(e.getMessage().contains("switchboard.http3"), e.getMessage());
  }

  @Test
  void badValues_failNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.conect-timeout", "1s")));
    assertTrue(e.getMessage().contains("unknown setting switchboard.conect-timeout"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.connect-timeout", "soon")));
    assertTrue(e.getMessage().contains("switchboard.connect-timeout") && e.getMessage().contains("soon"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TransportConfig.fromProperties(Map.of("switchboard.max-message-bytes", "big")));
    assertTrue(e.getMessage().contains("whole number"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> TransportConfig.builder().longPollWait(Duration.ofSeconds(61)));
    assertThrows(IllegalArgumentException.class, () -> TransportConfig.builder().url("not a url"));
    IllegalStateException missing = assertThrows(IllegalStateException.class, () -> TransportConfig.builder().build());
    assertTrue(missing.getMessage().contains("switchboard.url"));
  }

  @Test
  void transports_namesTheArtifactToAddForAMissingProvider() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Transports.open(TransportConfig.builder().transport("grpc").url("http://h").build()));
    assertEquals("no provider for transport 'grpc': add dev.switchboard:switchboard-transport-grpc (available: [])",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Transports.provider("carrier-pigeon"));
    assertTrue(e.getMessage().contains("known transports are"), e.getMessage());
  }

  @Test
  void topics_followTheCharacterRules() {
    assertTrue(Topics.isValid("a.b_c-d:E9"));
    assertTrue(Topics.isValid("x".repeat(200)));
    for (String bad : new String[] {"", "x".repeat(201), "a b", "a/b", "ä", "a\nb", null}) {
      assertEquals(false, Topics.isValid(bad), String.valueOf(bad));
    }
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> Topics.requireValid("a\nb"));
    assertEquals("invalid_topic", e.errorCode());
    assertTrue(e.getMessage().contains("\\u000a"), "control characters are escaped: " + e.getMessage());
  }

  @Test
  void statusTable_mapsEveryStatusToHttpWebSocketAndGrpc() {
    assertEquals(413, Status.PAYLOAD_TOO_LARGE.httpStatus());
    assertEquals(1009, Status.PAYLOAD_TOO_LARGE.webSocketCloseCode());
    assertEquals(8, Status.PAYLOAD_TOO_LARGE.grpcCode());
    assertEquals(4000, Status.SLOW_CONSUMER.webSocketCloseCode());
    assertEquals(16, Status.UNAUTHENTICATED.grpcCode());
    for (Status s : Status.values()) {
      if (s != Status.SLOW_CONSUMER && s != Status.UNAVAILABLE) {
        assertEquals(s, Status.fromHttpStatus(s.httpStatus()), s.name());
      }
    }
    assertEquals(Status.UNAVAILABLE, Status.fromHttpStatus(503));
    assertEquals(Status.UNAVAILABLE, Status.fromHttpStatus(504));
  }
}
