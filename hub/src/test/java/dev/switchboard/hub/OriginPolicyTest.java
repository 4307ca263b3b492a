package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OriginPolicyTest {
  private static void refusedOrigin(OriginPolicy p, String origin, String scheme, String host, int port) {
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> p.checkOrigin(origin, scheme, host, port),
        origin + " → " + scheme + "://" + host + ":" + port);
    assertEquals(Status.PERMISSION_DENIED, e.status());
    assertEquals("forbidden_origin", e.errorCode());
  }

  private static void refusedHost(OriginPolicy p, String host, int port) {
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> p.checkHost(host, port), host + ":" + port);
    assertEquals(Status.PERMISSION_DENIED, e.status());
    assertEquals("forbidden_host", e.errorCode());
  }

  @Test
  void sameOrigin_needsSchemeHostAndPortEqual() {
    OriginPolicy p = OriginPolicy.sameOrigin();
    assertDoesNotThrow(() -> p.checkOrigin("http://127.0.0.1:8080", "http", "127.0.0.1", 8080));
    assertDoesNotThrow(() -> p.checkOrigin("HTTP://Example.COM", "http", "example.com", 80));
    assertDoesNotThrow(() -> p.checkOrigin("https://example.com", "https", "example.com", 443));
    assertDoesNotThrow(() -> p.checkOrigin("https://example.com:443", "https", "example.com.", 443));
    assertDoesNotThrow(() -> p.checkOrigin("http://[::1]:8080", "http", "[::1]", 8080));
    assertDoesNotThrow(() -> p.checkOrigin(null, "http", "example.com", 80)); // not a browser
    refusedOrigin(p, "https://127.0.0.1:8080", "http", "127.0.0.1", 8080); // scheme
    refusedOrigin(p, "http://127.0.0.1:8081", "http", "127.0.0.1", 8080); // port
    refusedOrigin(p, "http://example.com", "https", "example.com", 443);
    refusedOrigin(p, "http://evil.example:8080", "http", "127.0.0.1", 8080); // host
    refusedOrigin(p, "null", "http", "127.0.0.1", 8080); // sandboxed frames, file://
    refusedOrigin(p, "http://127.0.0.1:8080/path", "http", "127.0.0.1", 8080);
    refusedOrigin(p, "http://user@127.0.0.1:8080", "http", "127.0.0.1", 8080);
    refusedOrigin(p, "", "http", "127.0.0.1", 8080);
    refusedOrigin(p, "http://127.0.0.1:8080", "http", null, 8080); // the server's host unknown
  }

  @Test
  void allowedOrigins_areNormalised_andOnlyThoseGetCors() {
    OriginPolicy p = OriginPolicy.builder().allowOrigin("https://App.Example:443").allowOrigin("http://localhost:3000/")
        .build();
    assertEquals(Set.of("https://app.example:443", "http://localhost:3000"), p.allowedOrigins());
    assertTrue(p.isAllowedCrossOrigin("https://app.example"));
    assertTrue(p.isAllowedCrossOrigin("http://localhost:3000"));
    assertFalse(p.isAllowedCrossOrigin("http://app.example"));
    assertFalse(p.isAllowedCrossOrigin("http://127.0.0.1:8080"), "the own origin is not cross-origin");
    assertFalse(p.isAllowedCrossOrigin(null));
    assertDoesNotThrow(() -> p.checkOrigin("https://app.example", "http", "127.0.0.1", 8080));
    refusedOrigin(p, "https://evil.example", "http", "127.0.0.1", 8080);

    OriginPolicy any = OriginPolicy.builder().allowOrigin("*").build();
    assertTrue(any.isAllowedCrossOrigin("https://anything.example"));
    assertDoesNotThrow(() -> any.checkOrigin("null", "http", "127.0.0.1", 8080));
  }

  @Test
  void malformedOriginEntries_areRefusedAtOnce() {
    for (String bad : new String[] {null, "", " ", "app.example", "https://app.example/path", "https://a b",
        "https://u@app.example", "https://app.example?x", "null"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> OriginPolicy.builder().allowOrigin(bad), String.valueOf(bad));
      assertTrue(e.getMessage().contains("scheme://host[:port]"), e.getMessage());
    }
  }

  @Test
  void anyHost_untilOneIsAllowed_thenOnlyTheAllowedOnes() {
    assertDoesNotThrow(() -> OriginPolicy.sameOrigin().checkHost("evil.example", 80));
    OriginPolicy p = OriginPolicy.builder().allowHost("LocalHost").allowHost("127.0.0.1:8080").allowHost("[::1]")
        .allowHost("*.example.com").build();
    assertDoesNotThrow(() -> p.checkHost("localhost", 8080));
    assertDoesNotThrow(() -> p.checkHost("localhost.", 9999));
    assertDoesNotThrow(() -> p.checkHost("127.0.0.1", 8080));
    assertDoesNotThrow(() -> p.checkHost("[::1]", 8080));
    assertDoesNotThrow(() -> p.checkHost("::1", 8080));
    assertDoesNotThrow(() -> p.checkHost("api.example.com", 443));
    refusedHost(p, "127.0.0.1", 9090); // another port
    refusedHost(p, "example.com", 443); // the wildcard covers subdomains only
    refusedHost(p, "evil.example", 8080); // DNS rebinding
    refusedHost(p, "localhost.evil.example", 8080);
    refusedHost(p, null, 8080);
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> p.checkHost("evil\r\nx", 80));
    assertFalse(e.getMessage().contains("\n"), "untrusted input is quoted: " + e.getMessage());
  }

  @Test
  void malformedHostEntries_areRefusedAtOnce() {
    for (String bad : new String[] {null, "", "a b", "http://x", "x:0", "x:65536", "x:port", "[::1", "[::1]x",
        "a*.example", "*example.com", "user@host"}) {
      assertThrows(IllegalArgumentException.class, () -> OriginPolicy.builder().allowHost(bad), String.valueOf(bad));
    }
  }

  @Test
  void toBuilder_keepsTheEntries() {
    OriginPolicy p = OriginPolicy.builder().allowOrigin("https://a.example").allowHost("a.example").build();
    OriginPolicy q = p.toBuilder().allowOrigin("https://b.example").build();
    assertEquals(Set.of("https://a.example:443", "https://b.example:443"), q.allowedOrigins());
    assertEquals(Set.of("a.example"), q.allowedHosts());
    assertEquals(Set.of("https://a.example:443"), p.allowedOrigins(), "the original is unchanged");
  }
}
