package dev.switchboard.webhook;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Which webhook URLs may be delivered to (server-side request forgery guard). A URL must be
 * {@code http} or {@code https} with a host, no user info, at most 2,048 characters. Unless private
 * targets are allowed, every address the host stands for must be public or in a range allowed with
 * {@link Builder#allowRange(String)}: refused are loopback
 * (127/8, ::1), "this network" 0/8 and the unspecified {@code ::}, private 10/8, 172.16/12,
 * 192.168/16, CGNAT 100.64/10, link-local 169.254/16 (cloud metadata 169.254.169.254) and fe80::/10,
 * IETF protocol assignments 192.0.0/24, documentation 192.0.2/24, 198.51.100/24, 203.0.113/24,
 * 2001:db8::/32, 3fff::/20, benchmarking 198.18/15, the 6to4 relay 192.88.99/24, multicast 224/4 and
 * ff00::/8, reserved 240/4 with broadcast 255.255.255.255, every IPv6 address outside global unicast
 * 2000::/3 (so IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96 and
 * 64:ff9b:1::/48, discard 100::/64, unique local fc00::/7, site-local fec0::/10), and inside it
 * 2001::/23 (Teredo 2001::/32, benchmarking, ORCHID) and 6to4 2002::/16, which embed or reach IPv4
 * addresses that cannot be checked. The names {@code localhost} and {@code *.localhost} are refused
 * without asking DNS. IPv4 written other than as four decimal numbers ({@code 2130706433},
 * {@code 0x7f000001}, {@code 0177.0.0.1}, {@code 127.1}, {@code 0}) is refused as ambiguous; with
 * private targets allowed it is read as {@code inet_aton} and browsers read it.
 *
 * <p>Host names are resolved with the {@link Resolver} (the JVM's by default) and every address
 * they resolve to is checked. {@link WebhookSender} checks again before each attempt and connects to
 * an address it just checked, so a name that resolves to a public address at registration and to a
 * private one later (DNS rebinding) is refused at send time.
 *
 * <p>Immutable and thread-safe.
 */
public final class TargetPolicy {
  /** The longest URL accepted. */
  public static final int MAX_URL_LENGTH = 2048;

  /** Resolves a host name to its addresses, like {@link InetAddress#getAllByName(String)}. */
  @FunctionalInterface
  public interface Resolver {
    /**
     * @return the addresses, at least one
     * @throws UnknownHostException when the name does not resolve
     */
    List<InetAddress> resolve(String host) throws UnknownHostException;

    /** The JVM's resolver ({@link InetAddress#getAllByName(String)}, with its cache). */
    static Resolver system() {
      return host -> List.of(InetAddress.getAllByName(host));
    }
  }

  private static final TargetPolicy PUBLIC_ONLY = builder().build();

  private final boolean allowPrivate;
  private final List<byte[]> allowedRanges; // address bytes followed by one byte of prefix length
  private final Resolver resolver;

  private TargetPolicy(Builder b) {
    this.allowPrivate = b.allowPrivate;
    this.allowedRanges = List.copyOf(b.allowedRanges);
    this.resolver = b.resolver;
  }

  /** Public targets only, the JVM's resolver. */
  public static TargetPolicy publicOnly() {
    return PUBLIC_ONLY;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Whether private, loopback and other non-public targets are allowed. */
  public boolean allowsPrivate() {
    return allowPrivate;
  }

  /**
   * Checks a URL at registration: its form, then every address its host resolves to.
   *
   * @return the parsed URL
   * @throws WebhookRegistrationException {@code invalid_url}, {@code forbidden_target} or
   *     {@code unresolvable_target}, status 400
   */
  public URI check(String url) {
    URI uri = parse(url);
    addresses(uri);
    return uri;
  }

  /**
   * Resolves the URL's host and checks every address: what a sender connects to. An IP literal is
   * not looked up.
   *
   * @return the checked addresses, in the resolver's order, at least one
   * @throws WebhookRegistrationException {@code invalid_url}, {@code forbidden_target} or
   *     {@code unresolvable_target}, status 400
   */
  public List<InetAddress> addresses(URI url) {
    String host = hostOf(url);
    InetAddress literal = literal(host);
    if (literal != null) {
      return List.of(literal);
    }
    if (!allowPrivate && (host.equals("localhost") || host.endsWith(".localhost"))) {
      throw forbidden(host + " is a loopback name");
    }
    List<InetAddress> resolved;
    try {
      resolved = resolver.resolve(host);
    } catch (UnknownHostException e) {
      resolved = List.of();
    }
    if (resolved == null || resolved.isEmpty()) {
      throw new WebhookRegistrationException(400, WebhookRegistrationException.UNRESOLVABLE_TARGET,
          "the host name " + host + " does not resolve; register a URL whose host resolves to a public address");
    }
    if (!allowPrivate) {
      for (InetAddress a : resolved) {
        String why = allowedRange(a) ? null : forbiddenReason(a);
        if (why != null) {
          throw forbidden(host + " resolves to " + a.getHostAddress() + ", " + why);
        }
      }
    }
    return List.copyOf(resolved);
  }

  /**
   * Why an address is not a public unicast address (e.g. "a loopback address"), or null when it is.
   */
  public static String forbiddenReason(InetAddress address) {
    byte[] b = address.getAddress();
    return b.length == 4 ? forbiddenV4(b) : forbiddenV6(b);
  }

  /** Parses and checks the form of a URL (not its addresses). */
  static URI parse(String url) {
    if (url == null || url.isEmpty()) {
      throw invalid("the URL is missing");
    }
    if (url.length() > MAX_URL_LENGTH) {
      throw invalid("the URL is longer than " + MAX_URL_LENGTH + " characters");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw invalid("'" + Printable.of(url) + "' is not a valid URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw invalid("the URL must be http:// or https://, not '" + Printable.of(url) + "'");
    }
    if (uri.getRawUserInfo() != null || uri.getRawAuthority() != null && uri.getRawAuthority().contains("@")) {
      throw invalid("the URL must not carry user info (user:password@); put credentials in the endpoint's signature secret");
    }
    hostPort(uri);
    return uri;
  }

  /** A URL's host (lower case, no brackets, no trailing dot) and port (-1 when absent). */
  private record HostPort(String host, int port) {}

  private static HostPort hostPort(URI uri) {
    String host = uri.getHost();
    int port = uri.getPort();
    String authority = uri.getRawAuthority();
    if (host == null && authority != null) {
      // java.net.URI leaves the host of e.g. "127.1" unset (its last label starts with a digit):
      // such a host is a short IPv4 form, to be checked as one.
      int colon = authority.lastIndexOf(':');
      host = colon >= 0 ? authority.substring(0, colon) : authority;
      port = -1;
      if (colon >= 0) {
        String p = authority.substring(colon + 1);
        if (!p.matches("\\d{1,5}")) {
          throw invalid("the URL's port must be 1-65535: '" + Printable.of(uri.toString()) + "'");
        }
        port = Integer.parseInt(p);
      }
      if (ipv4Parts(host) == null) {
        throw invalid("the host '" + Printable.of(host) + "' is neither a valid IPv4 address nor a DNS name");
      }
    }
    if (host == null || host.isEmpty()) {
      throw invalid("the URL needs a host name or address: '" + Printable.of(uri.toString()) + "'");
    }
    if (port == 0 || port > 65535) {
      throw invalid("the URL's port must be 1-65535: '" + Printable.of(uri.toString()) + "'");
    }
    host = host.toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.endsWith(".")) {
      host = host.substring(0, host.length() - 1);
    }
    return new HostPort(host, port);
  }

  /** The host, lower case, without brackets or a trailing dot. */
  static String hostOf(URI url) {
    return hostPort(url).host;
  }

  /** The port, or the scheme's default. */
  static int portOf(URI url) {
    int port = hostPort(url).port;
    return port > 0 ? port : "https".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
  }

  /** Whether a host (as {@link #hostOf}) is an IP address literal, in any IPv4 form. */
  static boolean isLiteral(String host) {
    return host.contains(":") || ipv4Parts(host) != null;
  }

  /** The address of an IP literal host (checked), or null for a name. */
  private InetAddress literal(String host) {
    if (host.contains(":")) {
      if (host.contains("%")) {
        if (!allowPrivate) {
          throw forbidden("[" + host + "] names a zone: a link-local address");
        }
      }
      InetAddress a;
      try {
        a = InetAddress.getByName(host); // an IPv6 literal: never looked up
      } catch (UnknownHostException | SecurityException e) {
        throw invalid("[" + Printable.of(host) + "] is not a valid IPv6 address");
      }
      if (!allowPrivate) {
        // The JDK turns ::ffff:a.b.c.d into an IPv4 address: refuse the mapped form as such.
        String why = allowedRange(a) ? null
            : a instanceof Inet4Address ? "an IPv4-mapped IPv6 address (::ffff:0:0/96)" : forbiddenReason(a);
        if (why != null) {
          throw forbidden("[" + host + "] is " + why);
        }
      }
      return a;
    }
    long[] parts = ipv4Parts(host);
    if (parts == null) {
      String last = host.substring(host.lastIndexOf('.') + 1);
      if (!last.isEmpty() && Character.isDigit(last.charAt(0))) {
        // WHATWG URL: a host whose last label is a number is an IPv4 address or invalid.
        throw invalid("the host '" + Printable.of(host) + "' is neither a valid IPv4 address nor a DNS name");
      }
      return null;
    }
    byte[] bytes = ipv4Bytes(host, parts);
    InetAddress a;
    try {
      a = InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e); // four bytes are always an address
    }
    if (!allowPrivate) {
      if (!isCanonical(host, parts)) {
        throw forbidden("'" + host + "' is an ambiguous IPv4 form (it reads as " + a.getHostAddress()
            + "); write the address as four decimal numbers");
      }
      String why = allowedRange(a) ? null : forbiddenReason(a);
      if (why != null) {
        throw forbidden(host + " is " + why);
      }
    }
    return a;
  }

  private boolean allowedRange(InetAddress a) {
    byte[] b = a.getAddress();
    for (byte[] r : allowedRanges) {
      if (r.length - 1 == b.length && inPrefix(b, r, r[r.length - 1] & 0xff)) {
        return true;
      }
    }
    return false;
  }

  private static boolean inPrefix(byte[] address, byte[] network, int bits) {
    for (int i = 0; i < bits; i++) {
      int mask = 0x80 >>> (i % 8);
      if ((address[i / 8] & mask) != (network[i / 8] & mask)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The numbers of an IPv4 literal as {@code inet_aton} reads it (1 to 4 parts; decimal, {@code 0x}
   * hex or {@code 0}-prefixed octal), or null when the host is not all numbers.
   */
  private static long[] ipv4Parts(String host) {
    String[] labels = host.split("\\.", -1);
    if (labels.length > 4) {
      return null;
    }
    long[] parts = new long[labels.length];
    for (int i = 0; i < labels.length; i++) {
      String s = labels[i];
      int radix = 10;
      if (s.startsWith("0x") || s.startsWith("0X")) {
        radix = 16;
        s = s.substring(2);
        if (s.isEmpty()) {
          parts[i] = 0;
          continue;
        }
      } else if (s.length() > 1 && s.startsWith("0")) {
        radix = 8;
        s = s.substring(1);
      }
      if (s.isEmpty() || s.length() > 12 || s.charAt(0) == '-' || s.charAt(0) == '+') {
        return null;
      }
      try {
        parts[i] = Long.parseLong(s, radix);
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return parts;
  }

  private static byte[] ipv4Bytes(String host, long[] p) {
    long value;
    int n = p.length;
    long lastMax = n == 1 ? 0xffffffffL : n == 2 ? 0xffffffL : n == 3 ? 0xffffL : 0xffL;
    for (int i = 0; i < n - 1; i++) {
      if (p[i] > 255) {
        throw invalid("'" + Printable.of(host) + "' is not a valid IPv4 address (a part is over 255)");
      }
    }
    if (p[n - 1] > lastMax) {
      throw invalid("'" + Printable.of(host) + "' is not a valid IPv4 address (out of range)");
    }
    value = p[n - 1];
    for (int i = 0; i < n - 1; i++) {
      value |= p[i] << (24 - 8 * i);
    }
    return new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
  }

  private static boolean isCanonical(String host, long[] parts) {
    if (parts.length != 4) {
      return false;
    }
    for (String label : host.split("\\.")) {
      if (label.length() > 1 && label.startsWith("0") || label.length() > 3) {
        return false;
      }
    }
    return true;
  }

  private static String forbiddenV4(byte[] b) {
    int a0 = b[0] & 0xff;
    int a1 = b[1] & 0xff;
    int a2 = b[2] & 0xff;
    if (a0 == 0) {
      return "a \"this network\" address (0.0.0.0/8)";
    } else if (a0 == 127) {
      return "a loopback address (127.0.0.0/8)";
    } else if (a0 == 10 || a0 == 172 && (a1 & 0xf0) == 16 || a0 == 192 && a1 == 168) {
      return "a private address (RFC 1918)";
    } else if (a0 == 100 && (a1 & 0xc0) == 64) {
      return "a carrier-grade NAT address (100.64.0.0/10)";
    } else if (a0 == 169 && a1 == 254) {
      return "a link-local address (169.254.0.0/16, incl. cloud metadata)";
    } else if (a0 == 192 && a1 == 0 && a2 == 0) {
      return "an IETF protocol assignment (192.0.0.0/24)";
    } else if (a0 == 192 && a1 == 0 && a2 == 2 || a0 == 198 && a1 == 51 && a2 == 100 || a0 == 203 && a1 == 0 && a2 == 113) {
      return "a documentation address (TEST-NET)";
    } else if (a0 == 192 && a1 == 88 && a2 == 99) {
      return "a 6to4 relay address (192.88.99.0/24)";
    } else if (a0 == 198 && (a1 & 0xfe) == 18) {
      return "a benchmarking address (198.18.0.0/15)";
    } else if (a0 >= 224 && a0 < 240) {
      return "a multicast address (224.0.0.0/4)";
    } else if (a0 >= 240) {
      return "a reserved or broadcast address (240.0.0.0/4)";
    }
    return null;
  }

  private static String forbiddenV6(byte[] b) {
    int w0 = (b[0] & 0xff) << 8 | b[1] & 0xff;
    int w1 = (b[2] & 0xff) << 8 | b[3] & 0xff;
    boolean first80Zero = true;
    for (int i = 0; i < 10; i++) {
      first80Zero &= b[i] == 0;
    }
    if (first80Zero && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
      return "an IPv4-mapped IPv6 address (::ffff:0:0/96)";
    }
    if (first80Zero && b[10] == 0 && b[11] == 0) {
      boolean loopback = b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] == 1;
      boolean any = b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] == 0;
      return loopback ? "the loopback address (::1)" : any ? "the unspecified address (::)"
          : "an IPv4-compatible IPv6 address (::/96)";
    }
    if (w0 == 0x64 && w1 == 0xff9b) {
      return "a NAT64 address (64:ff9b::/96, 64:ff9b:1::/48)";
    }
    if ((w0 & 0xff00) == 0xff00) {
      return "a multicast address (ff00::/8)";
    }
    if ((w0 & 0xffc0) == 0xfe80) {
      return "a link-local address (fe80::/10)";
    }
    if ((w0 & 0xffc0) == 0xfec0) {
      return "a site-local address (fec0::/10)";
    }
    if ((w0 & 0xfe00) == 0xfc00) {
      return "a unique local address (fc00::/7)";
    }
    if ((w0 & 0xe000) != 0x2000) {
      return "not a global unicast address (outside 2000::/3)";
    }
    if (w0 == 0x2001 && w1 == 0x0db8) {
      return "a documentation address (2001:db8::/32)";
    }
    if (w0 == 0x2001 && (w1 & 0xfe00) == 0) {
      return "an IETF protocol assignment (2001::/23, incl. Teredo 2001::/32)";
    }
    if (w0 == 0x2002) {
      return "a 6to4 address (2002::/16)";
    }
    if ((w0 & 0xfff0) == 0x3ff0) {
      return "a documentation address (3fff::/20)";
    }
    return null;
  }

  private static WebhookRegistrationException invalid(String message) {
    return new WebhookRegistrationException(400, WebhookRegistrationException.INVALID_URL, message);
  }

  private static WebhookRegistrationException forbidden(String message) {
    return new WebhookRegistrationException(400, WebhookRegistrationException.FORBIDDEN_TARGET,
        "refused: " + Printable.of(message) + " (only public addresses are allowed unless private targets are)");
  }

  @Override
  public String toString() {
    return "TargetPolicy{allowPrivate=" + allowPrivate + ", allowedRanges=" + allowedRanges.size() + "}";
  }

  /** Builds a {@link TargetPolicy}. Not thread-safe. */
  public static final class Builder {
    private boolean allowPrivate;
    private final List<byte[]> allowedRanges = new ArrayList<>();
    private Resolver resolver = Resolver.system();

    private Builder() {}

    /** Allow loopback, private and other non-public targets (tests, internal networks). Default false. */
    public Builder allowPrivate(boolean allow) {
      this.allowPrivate = allow;
      return this;
    }

    /**
     * Allows one non-public range, e.g. {@code 10.20.0.0/16} for receivers on an internal network,
     * while every other non-public address stays refused. Call once per range.
     *
     * @param cidr an IPv4 or IPv6 address literal, {@code /} and a prefix length
     * @throws IllegalArgumentException if it is not such a range
     */
    public Builder allowRange(String cidr) {
      int slash = cidr == null ? -1 : cidr.indexOf('/');
      if (slash < 0) {
        throw new IllegalArgumentException("a range is address/prefix, e.g. 10.20.0.0/16, not " + cidr);
      }
      String address = cidr.substring(0, slash);
      if (!address.contains(":") && !address.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
        throw new IllegalArgumentException("a range starts with an IP address literal, not " + cidr);
      }
      byte[] bytes;
      int bits;
      try {
        bytes = InetAddress.getByName(address).getAddress(); // a literal: never looked up
        bits = Integer.parseInt(cidr.substring(slash + 1));
      } catch (UnknownHostException | NumberFormatException e) {
        throw new IllegalArgumentException("not a valid range: " + cidr);
      }
      if (bits < 0 || bits > bytes.length * 8) {
        throw new IllegalArgumentException("prefix length out of range in " + cidr);
      }
      byte[] r = java.util.Arrays.copyOf(bytes, bytes.length + 1);
      r[bytes.length] = (byte) bits;
      allowedRanges.add(r);
      return this;
    }

    /** How host names are resolved (default {@link Resolver#system()}); tests inject their own. */
    public Builder resolver(Resolver resolver) {
      this.resolver = Objects.requireNonNull(resolver, "resolver");
      return this;
    }

    public TargetPolicy build() {
      return new TargetPolicy(this);
    }
  }

  /** Untrusted text made safe for a message: control characters escaped, length bounded. */
  static final class Printable {
    private Printable() {}

    static String of(String s) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < s.length() && b.length() < 200; i++) {
        char c = s.charAt(i);
        if (c < 0x20 || c == 0x7f) {
          b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
        } else {
          b.append(c);
        }
      }
      return s.length() > 200 ? b + "..." : b.toString();
    }
  }
}
