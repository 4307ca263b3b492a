package dev.switchboard.hub;

import dev.switchboard.transport.Printable;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Which browser origins may use the hub's transports, and which host names the hub answers to: one
 * policy for WebSocket handshakes, REST, long polling and SSE alike, set with
 * {@link Hub.Builder#originPolicy}.
 *
 * <ul>
 *   <li><b>Hosts</b> ({@link #checkHost}): every request's {@code Host} (its server name and port) must
 *       be an allowed host, else 403 {@code forbidden_host}. This closes DNS rebinding, where a page on
 *       {@code evil.example} has its name re-pointed at the server and is then same-origin with it
 *       ({@code Host} and {@code Origin} both {@code evil.example:port}). Default: any host, since a
 *       library cannot know the names it is reached by; list them on any server a browser can reach
 *       (above all one on loopback or a private network).
 *   <li><b>Origins</b> ({@link #checkOrigin}): a request that carries an {@code Origin} is allowed when
 *       that origin is the request's own (scheme, host and port all equal) or an allowed origin, else
 *       403 {@code forbidden_origin}. The transports check it on every WebSocket handshake (browsers
 *       send any page's handshake, with its cookies: Cross-Site WebSocket Hijacking) and on every
 *       request with an unsafe method ({@code POST}, {@code PUT}, {@code PATCH}, {@code DELETE}, …),
 *       which a cross-origin page can send without a CORS preflight ("simple" requests: CSRF).
 *       Requests without {@code Origin} (servers, curl) are not browsers' and pass. Allowed origins
 *       also get CORS response headers ({@link #isAllowedCrossOrigin}). Default: same origin only.
 * </ul>
 *
 * <p>Host names compare case-insensitively, without a trailing dot; IPv6 literals in brackets.
 *
 * <p>Immutable and thread-safe.
 */
public final class OriginPolicy {
  private static final OriginPolicy SAME_ORIGIN = new Builder().build();

  private final Set<String> allowedOrigins; // normalised scheme://host:port, or "*"
  private final Set<String> allowedHosts; // normalised host, host:port, *.suffix, or "*"
  private final boolean anyOrigin;
  private final boolean anyHost;

  private OriginPolicy(Builder b) {
    this.allowedOrigins = Collections.unmodifiableSet(new LinkedHashSet<>(b.origins));
    this.allowedHosts = Collections.unmodifiableSet(new LinkedHashSet<>(b.hosts));
    this.anyOrigin = allowedOrigins.contains("*");
    this.anyHost = allowedHosts.isEmpty() || allowedHosts.contains("*");
  }

  /** The default: same-origin browser requests only, any host. */
  public static OriginPolicy sameOrigin() {
    return SAME_ORIGIN;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this policy's entries, to add to them. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.origins.addAll(allowedOrigins);
    b.hosts.addAll(allowedHosts);
    return b;
  }

  /** The allowed cross-origin origins, normalised ({@code scheme://host:port}), or {@code *}. */
  public Set<String> allowedOrigins() {
    return allowedOrigins;
  }

  /** The allowed hosts, normalised; empty when any host is allowed. */
  public Set<String> allowedHosts() {
    return allowedHosts;
  }

  /**
   * Checks the host a request was sent to.
   *
   * @param host the request's server name (servlet {@code getServerName()}: the {@code Host} header's
   *     name), null when unknown
   * @param port the request's server port, or -1 when unknown
   * @throws SwitchboardException PERMISSION_DENIED ({@code forbidden_host}) when it is not allowed
   */
  public void checkHost(String host, int port) {
    if (anyHost) {
      return;
    }
    String name = host == null ? null : normaliseHost(host);
    if (name != null && (allowedHosts.contains(name) || allowedHosts.contains(name + ":" + port)
        || wildcardMatch(name, port))) {
      return;
    }
    String shown = host == null ? null : port > 0 ? host + ":" + port : host;
    throw SwitchboardException.of(Status.PERMISSION_DENIED, "forbidden_host", "requests for host "
        + Printable.quote(shown) + " are refused: it is not an allowed host of this server"
        + " (OriginPolicy.Builder.allowHost)");
  }

  private boolean wildcardMatch(String name, int port) {
    for (String h : allowedHosts) {
      if (h.startsWith("*.")) {
        int colon = h.lastIndexOf(':');
        String suffix = colon > 0 ? h.substring(1, colon) : h.substring(1);
        if (name.endsWith(suffix) && (colon < 0 || h.substring(colon + 1).equals(Integer.toString(port)))) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Checks the {@code Origin} of a request: none, the request's own origin, or an allowed one.
   *
   * @param origin the {@code Origin} header, null when absent (not a browser: allowed)
   * @param scheme the request's scheme ({@code http} or {@code https}), or null when unknown (then the
   *     origin's scheme is not compared)
   * @param host the request's server name, null when unknown
   * @param port the request's server port, or -1 for the scheme's default
   * @throws SwitchboardException PERMISSION_DENIED ({@code forbidden_origin}) when it is not allowed
   */
  public void checkOrigin(String origin, String scheme, String host, int port) {
    if (origin == null || isAllowedCrossOrigin(origin) || isSameOrigin(origin, scheme, host, port)) {
      return;
    }
    throw SwitchboardException.of(Status.PERMISSION_DENIED, "forbidden_origin", "cross-origin request from "
        + Printable.quote(origin) + " refused: it is neither this server's origin nor an allowed one"
        + " (OriginPolicy.Builder.allowOrigin)");
  }

  /**
   * Whether {@code origin} is allowed cross-origin (listed, or {@code *}): CORS response headers may
   * name it. The request's own origin is not "cross-origin" and needs no CORS headers.
   */
  public boolean isAllowedCrossOrigin(String origin) {
    if (origin == null) {
      return false;
    }
    if (anyOrigin) {
      return true;
    }
    String o = normaliseOrigin(origin);
    return o != null && allowedOrigins.contains(o);
  }

  /** Whether {@code origin} has the request's scheme, host and port. */
  static boolean isSameOrigin(String origin, String scheme, String host, int port) {
    if (host == null) {
      return false;
    }
    URI o = parseOrigin(origin);
    if (o == null) {
      return false; // "null" (sandboxed frames, file://) and malformed origins are nobody's
    }
    String oScheme = o.getScheme().toLowerCase(Locale.ROOT);
    if (scheme != null && !oScheme.equals(scheme.toLowerCase(Locale.ROOT))) {
      return false;
    }
    int oPort = o.getPort() != -1 ? o.getPort() : defaultPort(oScheme);
    int rPort = port > 0 ? port : defaultPort(scheme != null ? scheme.toLowerCase(Locale.ROOT) : oScheme);
    return oPort == rPort && normaliseHost(o.getHost()).equals(normaliseHost(host));
  }

  private static int defaultPort(String scheme) {
    return switch (scheme) {
      case "http", "ws" -> 80;
      case "https", "wss" -> 443;
      default -> -1;
    };
  }

  /** {@code scheme://host[:port]} as a URI, or null when it is not one (a path, user info, "null"). */
  private static URI parseOrigin(String origin) {
    if (origin.isEmpty() || origin.length() > 2048) {
      return null;
    }
    try {
      URI u = new URI(origin);
      String path = u.getRawPath();
      if (u.getScheme() == null || u.getHost() == null || u.getRawUserInfo() != null
          || u.getRawQuery() != null || u.getRawFragment() != null
          || (path != null && !path.isEmpty() && !path.equals("/"))) {
        return null;
      }
      return u;
    } catch (URISyntaxException e) {
      return null;
    }
  }

  /** {@code scheme://host:port} with the default port made explicit, or null when malformed. */
  private static String normaliseOrigin(String origin) {
    URI u = parseOrigin(origin);
    if (u == null) {
      return null;
    }
    String scheme = u.getScheme().toLowerCase(Locale.ROOT);
    int port = u.getPort() != -1 ? u.getPort() : defaultPort(scheme);
    return scheme + "://" + normaliseHost(u.getHost()) + (port > 0 ? ":" + port : "");
  }

  /** Lower case, no trailing dot, IPv6 literals in brackets. */
  static String normaliseHost(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.endsWith(".") && h.length() > 1) {
      h = h.substring(0, h.length() - 1);
    }
    if (h.indexOf(':') >= 0 && !h.startsWith("[")) {
      h = "[" + h + "]";
    }
    return h;
  }

  @Override
  public String toString() {
    return "OriginPolicy{origins=" + (allowedOrigins.isEmpty() ? "same-origin" : allowedOrigins)
        + ", hosts=" + (anyHost ? "any" : allowedHosts) + "}";
  }

  /** Builds an {@link OriginPolicy}. Not thread-safe; setters fail fast on malformed entries. */
  public static final class Builder {
    private final Set<String> origins = new LinkedHashSet<>();
    private final Set<String> hosts = new LinkedHashSet<>();

    private Builder() {}

    /**
     * Allows browser requests from this origin, {@code scheme://host[:port]} (e.g.
     * {@code https://app.example.com}), besides same-origin ones; {@code *} allows any origin, which
     * leaves cookie-authenticated endpoints open to CSRF and Cross-Site WebSocket Hijacking: use it
     * only with tokens that browsers do not send by themselves.
     *
     * @throws IllegalArgumentException for anything else (a path, user info, whitespace)
     */
    public Builder allowOrigin(String origin) {
      if (origin != null && origin.equals("*")) {
        origins.add("*");
        return this;
      }
      String o = origin == null || origin.chars().anyMatch(c -> c <= 0x20 || c == 0x7f) ? null
          : normaliseOrigin(origin);
      if (o == null) {
        throw new IllegalArgumentException("origin must be scheme://host[:port] or *, not "
            + Printable.quote(origin));
      }
      origins.add(o);
      return this;
    }

    /**
     * Answers requests for this host: a name or address ({@code app.example.com}, {@code 127.0.0.1},
     * {@code [::1]}), with {@code :port} to allow that port only, {@code *.example.com} for its
     * subdomains, or {@code *} for any host (the default while no host is allowed). Once one host is
     * allowed, requests for any other are refused (403 {@code forbidden_host}).
     *
     * @throws IllegalArgumentException for a malformed entry
     */
    public Builder allowHost(String host) {
      hosts.add(requireHost(host));
      return this;
    }

    public OriginPolicy build() {
      return new OriginPolicy(this);
    }

    private static String requireHost(String host) {
      if (host == null || host.isEmpty() || host.chars().anyMatch(c -> c <= 0x20 || c == 0x7f
          || c == '/' || c == '@' || c == '?' || c == '#' || c == '\\')) {
        throw new IllegalArgumentException("host must be a name or address with an optional :port, not "
            + Printable.quote(host));
      }
      if (host.equals("*")) {
        return host;
      }
      String name = host;
      String port = null;
      if (host.startsWith("[")) {
        int end = host.indexOf(']');
        if (end < 0 || (end + 1 < host.length() && host.charAt(end + 1) != ':')) {
          throw new IllegalArgumentException("IPv6 host must be [address] or [address]:port, not "
              + Printable.quote(host));
        }
        name = host.substring(0, end + 1);
        port = end + 1 < host.length() ? host.substring(end + 2) : null;
      } else if (host.indexOf(':') == host.lastIndexOf(':') && host.indexOf(':') >= 0) {
        name = host.substring(0, host.indexOf(':'));
        port = host.substring(host.indexOf(':') + 1);
      }
      if (name.isEmpty() || name.equals("[]") || name.substring(1).contains("*")
          || (name.startsWith("*") && !name.startsWith("*."))) {
        throw new IllegalArgumentException("host must be a name or address with an optional :port, not "
            + Printable.quote(host));
      }
      String normal = normaliseHost(name);
      if (port == null) {
        return normal;
      }
      try {
        int p = Integer.parseInt(port);
        if (p >= 1 && p <= 65535 && port.equals(Integer.toString(p))) {
          return normal + ":" + p;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException("port of host " + Printable.quote(host) + " must be 1 to 65535");
    }
  }
}
