package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The servlet transports' shared path, origin and handshake rules, one case each. */
class WirePathsTest {
  @Test
  void topicPath_splitsAndDecodesTheSegmentsBelowTheBasePath() {
    assertEquals(List.of("prices", "messages"), WirePaths.topicPath("/v1/topics/prices/messages", ""));
    assertEquals(List.of("a:b", "messages", "0-1"), WirePaths.topicPath("/api/v1/topics/a%3Ab/messages/0-1", "/api"));
    assertEquals(List.of("t", "events"), WirePaths.topicPath("/v1/topics/t/events", ""));
    // An encoded slash stays inside its segment: it can never smuggle a path level.
    assertEquals(List.of("a/b", "messages"), WirePaths.topicPath("/v1/topics/a%2Fb/messages", ""));
    assertEquals(List.of("t", "messages", ""), WirePaths.topicPath("/v1/topics/t/messages/", ""));
    assertNull(WirePaths.topicPath("/v1/topics/t/messages", "/api"));
    assertNull(WirePaths.topicPath("/v2/topics/t/messages", ""));
    assertNull(WirePaths.topicPath("/v1/topic/t", ""));
  }

  @Test
  void percentDecode_isUtf8_keepsPlus_andRefusesBrokenEscapes() {
    assertEquals("h\u00e9 llo+", WirePaths.percentDecode("h%C3%A9%20llo+"));
    assertEquals("no escapes", WirePaths.percentDecode("no escapes"));
    for (String bad : new String[] {"%", "%4", "%zz", "%C3", "%FF", "a%e9b"}) {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> WirePaths.percentDecode(bad), bad);
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals("invalid_path", e.errorCode());
      assertEquals("path segment is not valid percent-encoded UTF-8: '" + bad + "'", e.getMessage());
    }
  }

  @Test
  void requireBasePath_isEmptyOrStartsButDoesNotEndWithASlash() {
    assertEquals("", WirePaths.requireBasePath(""));
    assertEquals("/api/x", WirePaths.requireBasePath("/api/x"));
    for (String bad : new String[] {"api", "/api/", "/"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WirePaths.requireBasePath(bad));
      assertEquals("basePath must be empty or start, and not end, with '/': " + bad, e.getMessage());
    }
    assertThrows(NullPointerException.class, () -> WirePaths.requireBasePath(null));
  }

  @Test
  void pathInContext_dropsTheContextPathOnly() {
    assertEquals("/v1/ws", WirePaths.pathInContext("/app/v1/ws", "/app"));
    assertEquals("/v1/ws", WirePaths.pathInContext("/v1/ws", ""));
    assertEquals("/v1/ws", WirePaths.pathInContext("/v1/ws", null));
    assertEquals("/other/v1/ws", WirePaths.pathInContext("/other/v1/ws", "/app"));
  }

  @Test
  void checkOrigin_checksTheOriginOfUnsafeMethodsAndHandshakesOnly() {
    OriginPolicy same = OriginPolicy.sameOrigin();
    String evil = "https://evil.example";
    for (String safe : new String[] {"GET", "HEAD", "OPTIONS", "TRACE"}) {
      assertTrue(WirePaths.isSafeMethod(safe));
      WirePaths.checkOrigin(same, safe, false, "https", "hub.example", 443, evil);
    }
    for (String unsafe : new String[] {"POST", "PUT", "DELETE", "PATCH", "get"}) {
      assertFalse(WirePaths.isSafeMethod(unsafe));
      SwitchboardException e = assertThrows(SwitchboardException.class,
          () -> WirePaths.checkOrigin(same, unsafe, false, "https", "hub.example", 443, evil));
      assertEquals("forbidden_origin", e.errorCode());
      assertEquals(Status.PERMISSION_DENIED, e.status());
    }
    // A WebSocket handshake is a GET that browsers send from any page: its origin is checked.
    assertEquals("forbidden_origin", assertThrows(SwitchboardException.class,
        () -> WirePaths.checkOrigin(same, "GET", true, "https", "hub.example", 443, evil)).errorCode());
    WirePaths.checkOrigin(same, "POST", false, "https", "hub.example", 443, "https://hub.example");
    WirePaths.checkOrigin(same, "POST", false, "https", "hub.example", 443, null); // not a browser
  }

  @Test
  void checkOrigin_checksTheHostFirst_evenForSafeMethods() {
    OriginPolicy hosts = OriginPolicy.builder().allowHost("hub.example").build();
    WirePaths.checkOrigin(hosts, "GET", false, "https", "hub.example", 443, null);
    SwitchboardException e = assertThrows(SwitchboardException.class,
        () -> WirePaths.checkOrigin(hosts, "GET", false, "http", "rebound.attacker", 80, "http://rebound.attacker"));
    assertEquals("forbidden_host", e.errorCode());
  }

  @Test
  void withOrigins_addsToTheHubsPolicy_orKeepsItAsItIs() {
    OriginPolicy hub = OriginPolicy.sameOrigin();
    assertSame(hub, WirePaths.withOrigins(hub, List.of()));
    OriginPolicy widened = WirePaths.withOrigins(hub, List.of("https://app.example"));
    assertTrue(widened.isAllowedCrossOrigin("https://app.example"));
    assertFalse(hub.isAllowedCrossOrigin("https://app.example"));
    assertThrows(IllegalArgumentException.class, () -> WirePaths.withOrigins(hub, List.of("not an origin")));
  }

  @Test
  void handshake_keepsEveryHeaderValue_caseInsensitively_andTheQuery() {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    headers.put("Authorization", List.of("Bearer t0k"));
    headers.put("X-Multi", List.of("1", "2"));
    Map<String, String[]> params = Map.of("token", new String[] {"q", "r"});
    Handshake h = WirePaths.handshake("sse", "10.0.0.7", 5555, Collections.enumeration(headers.keySet()),
        name -> Collections.enumeration(headers.get(name)), params);
    assertEquals("sse", h.transport());
    assertEquals("t0k", h.bearerToken());
    assertEquals(List.of("1", "2"), h.headers().get("x-multi"));
    assertEquals("q", h.query("token"));
    assertEquals("10.0.0.7", h.remoteAddress().getHostString());
    assertTrue(h.remoteAddress().isUnresolved()); // a literal, never looked up
    assertNull(WirePaths.handshake("http", null, 0, Collections.emptyEnumeration(),
        name -> Collections.emptyEnumeration(), Map.of()).remoteAddress());
  }
}
