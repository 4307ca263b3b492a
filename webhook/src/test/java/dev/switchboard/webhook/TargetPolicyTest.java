package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which webhook targets are refused, in every written form; host names through a test resolver. */
class TargetPolicyTest {
  /** Hostile targets from the security review and more, each with the address it stands for. */
  static final List<String> HOSTILE = List.of(
      "http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
      "http://0/", "http://2130706433/", "http://localhost/", "http://localhost./", "http://a.b.localhost/",
      "http://10.0.0.1/", "http://10.255.255.255:8080/", "http://[fd00::1]/", "http://[64:ff9b::7f00:1]/",
      "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://127.0.1/", "http://0.0.0.0/",
      "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/", "http://100.64.0.1/", "http://100.127.255.254/",
      "http://169.254.0.1/", "http://224.0.0.1/", "http://239.255.255.250/", "http://255.255.255.255/", "http://240.0.0.1/",
      "http://192.0.0.8/", "http://192.0.2.1/", "http://198.51.100.7/", "http://203.0.113.9/", "http://198.18.0.1/",
      "http://192.88.99.1/", "http://[::]/", "http://[::ffff:a00:1]/", "http://[::ffff:169.254.169.254]/",
      "http://[::127.0.0.1]/", "http://[64:ff9b:1::a00:1]/", "http://[2002:7f00:1::]/", "http://[2001::1]/",
      "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://[2001:db8::1]/", "http://[fc00::1]/",
      "http://[fe80::1]/", "http://[febf::1]/", "http://[fec0::1]/", "http://[ff02::1]/", "http://[100::1]/",
      "http://[3fff::1]/", "https://127.0.0.1:8443/hook", "http://017700000001/", "http://0x7f.1/",
      "http://8.8.8.8.internal.localhost/", "http://0x08080808/", "http://010.010.010.010/");

  private static final Map<String, List<String>> DNS = Map.of(
      "hooks.example", List.of("93.184.216.34"),
      "v6.example", List.of("2606:4700::1111"),
      "mixed.example", List.of("93.184.216.34", "10.0.0.7"),
      "meta.example", List.of("169.254.169.254"),
      "mapped.example", List.of("::ffff:7f00:1"));

  private static TargetPolicy.Resolver dns() {
    return host -> {
      List<String> a = DNS.get(host);
      if (a == null) {
        throw new UnknownHostException(host);
      }
      List<InetAddress> out = new java.util.ArrayList<>();
      for (String s : a) {
        out.add(InetAddress.getByAddress(host, InetAddress.getByName(s).getAddress()));
      }
      return out;
    };
  }

  private static final TargetPolicy STRICT = TargetPolicy.builder().resolver(dns()).build();
  private static final TargetPolicy OPEN = TargetPolicy.builder().allowPrivate(true).resolver(dns()).build();

  private static WebhookRegistrationException refused(TargetPolicy p, String url, String code) {
    WebhookRegistrationException e = assertThrows(WebhookRegistrationException.class, () -> p.check(url), url);
    assertEquals(code, e.code(), url + ": " + e.getMessage());
    assertEquals(400, e.status());
    return e;
  }

  @Test
  void everyHostileTarget_isRefusedAsForbiddenTarget_andAllowedWhenPrivateTargetsAre() {
    for (String url : HOSTILE) {
      WebhookRegistrationException e = refused(STRICT, url, "forbidden_target");
      assertTrue(e.getMessage().startsWith("refused: "), e.getMessage());
      if (!url.contains("localhost")) {
        assertEquals(url, OPEN.check(url).toString(), "allowed with private targets: " + url);
      }
    }
    assertEquals("127.0.0.1", OPEN.addresses(URI.create("http://2130706433/")).get(0).getHostAddress());
    assertEquals("127.0.0.1", OPEN.addresses(URI.create("http://0177.0.0.1/")).get(0).getHostAddress(), "octal, as inet_aton reads it");
    assertEquals("127.0.0.1", OPEN.addresses(URI.create("http://0x7f000001/")).get(0).getHostAddress());
    assertEquals("127.0.0.1", OPEN.addresses(URI.create("http://127.1/")).get(0).getHostAddress());
    assertEquals("0.0.0.0", OPEN.addresses(URI.create("http://0/")).get(0).getHostAddress());
  }

  @Test
  void messagesNameWhatWasRefusedAndWhy() {
    assertTrue(refused(STRICT, "http://169.254.169.254/", "forbidden_target").getMessage().contains("link-local"));
    assertTrue(refused(STRICT, "http://2130706433/", "forbidden_target").getMessage().contains("ambiguous IPv4 form (it reads as 127.0.0.1)"));
    assertTrue(refused(STRICT, "http://[64:ff9b::7f00:1]/", "forbidden_target").getMessage().contains("NAT64"));
    assertTrue(refused(STRICT, "http://[2002:7f00:1::]/", "forbidden_target").getMessage().contains("6to4"));
    assertTrue(refused(STRICT, "http://[::ffff:127.0.0.1]/", "forbidden_target").getMessage().contains("IPv4-mapped"));
    assertTrue(refused(STRICT, "http://100.64.0.1/", "forbidden_target").getMessage().contains("carrier-grade NAT"));
  }

  @Test
  void hostNames_areResolved_andEveryAddressChecked() {
    assertEquals(URI.create("https://hooks.example/in"), STRICT.check("https://hooks.example/in"));
    assertEquals(URI.create("http://v6.example:8080/in"), STRICT.check("http://v6.example:8080/in"));
    assertEquals(URI.create("http://HOOKS.example./in"), STRICT.check("http://HOOKS.example./in"));
    assertTrue(refused(STRICT, "http://mixed.example/", "forbidden_target").getMessage().contains("10.0.0.7"));
    assertTrue(refused(STRICT, "http://meta.example/", "forbidden_target").getMessage().contains("169.254.169.254"));
    refused(STRICT, "http://mapped.example/", "forbidden_target");
    refused(STRICT, "http://nowhere.example/", "unresolvable_target");
    assertEquals(2, OPEN.addresses(URI.create("http://mixed.example/")).size());
  }

  @Test
  void publicAddresses_pass() {
    for (String url : List.of("http://93.184.216.34/", "https://8.8.8.8:8443/x?y=1", "http://[2606:4700::1111]/",
        "http://[2a00:1450:4001::200e]/", "http://1.1.1.1/", "http://172.32.0.1/", "http://100.128.0.1/", "http://192.169.0.1/")) {
      assertEquals(URI.create(url), STRICT.check(url));
    }
  }

  @Test
  void malformedUrls_areInvalidUrl() {
    for (String url : List.of("", "ftp://93.184.216.34/", "file:///etc/passwd", "gopher://x/", "93.184.216.34",
        "http:///path", "http://user:pw@93.184.216.34/", "http://1.2.3.4.5/", "http://256.1.1.1/", "http://1.2.3.256/",
        "http://08.1.1.1/", "http://93.184.216.34:0/", "http://[::1/", "http://a b/", "http://x/" + "a".repeat(2100),
        "javascript:alert(1)", "http://4294967296/")) {
      refused(STRICT, url, "invalid_url");
    }
    refused(STRICT, null, "invalid_url");
  }

  @Test
  void allowedRanges_admitOneInternalNetwork_only() {
    TargetPolicy p = TargetPolicy.builder().resolver(dns()).allowRange("10.20.0.0/16").allowRange("fd12:3456::/32").build();
    assertEquals(URI.create("http://10.20.3.4/"), p.check("http://10.20.3.4/"));
    assertEquals(URI.create("http://[fd12:3456::1]/"), p.check("http://[fd12:3456::1]/"));
    refused(p, "http://10.21.0.1/", "forbidden_target");
    refused(p, "http://127.0.0.1/", "forbidden_target");
    refused(p, "http://[fd12:3457::1]/", "forbidden_target");
    for (String bad : new String[] {"10.0.0.0", "10.0.0.0/33", "example.com/8", "10.0.0.0/x", "::/129"}) {
      assertThrows(IllegalArgumentException.class, () -> TargetPolicy.builder().allowRange(bad), bad);
    }
  }

  @Test
  void forbiddenReason_classifiesAddressesFromAnyResolver() throws Exception {
    assertEquals(null, TargetPolicy.forbiddenReason(InetAddress.getByName("93.184.216.34")));
    assertTrue(TargetPolicy.forbiddenReason(InetAddress.getByName("127.0.0.53")).contains("loopback"));
    // An IPv6 address object holding a mapped IPv4 address, as a resolver may return.
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = 93;
    assertTrue(TargetPolicy.forbiddenReason(java.net.Inet6Address.getByAddress(null, mapped, -1)).contains("IPv4-mapped"));
  }
}
