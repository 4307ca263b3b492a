package dev.switchboard.transport.internal;

import dev.switchboard.transport.Printable;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.OriginPolicy;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Parsing of the {@code /v1/topics/{topic}/…} paths shared by the servlet transports. Internal.
 *
 * <p>Thread-safe (stateless).
 */
public final class WirePaths {
  private static final String TOPICS = "/v1/topics/";

  private WirePaths() {}

  /**
   * Splits a raw (still percent-encoded) request path below the base path into decoded segments
   * after {@code /v1/topics/}: {@code [topic, "messages", id?]} or {@code [topic, "events"]}.
   *
   * @return the segments, or null when the path is not under {@code <basePath>/v1/topics/}
   * @throws SwitchboardException INVALID_ARGUMENT when a segment is not valid percent-encoded UTF-8
   */
  public static List<String> topicPath(String rawPathInContext, String basePath) {
    if (!rawPathInContext.startsWith(basePath + TOPICS)) {
      return null;
    }
    String rest = rawPathInContext.substring(basePath.length() + TOPICS.length());
    String[] parts = rest.split("/", -1);
    String[] decoded = new String[parts.length];
    for (int i = 0; i < parts.length; i++) {
      decoded[i] = percentDecode(parts[i]);
    }
    return List.of(decoded);
  }

  /**
   * Decodes {@code %XX} escapes as UTF-8 ({@code +} stays a plus: this is a path, not a form).
   *
   * @throws SwitchboardException INVALID_ARGUMENT for a broken escape or invalid UTF-8
   */
  public static String percentDecode(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%') {
        if (i + 2 >= s.length()) {
          throw bad(s);
        }
        int hi = Character.digit(s.charAt(i + 1), 16);
        int lo = Character.digit(s.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw bad(s);
        }
        out.write((hi << 4) | lo);
        i += 2;
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        out.write(b, 0, b.length);
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(out.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw bad(s);
    }
  }

  /**
   * Returns {@code basePath} if it is empty or starts, and does not end, with {@code /}.
   *
   * @throws IllegalArgumentException otherwise
   */
  public static String requireBasePath(String basePath) {
    String p = Objects.requireNonNull(basePath, "basePath");
    if (!p.isEmpty() && (!p.startsWith("/") || p.endsWith("/"))) {
      throw new IllegalArgumentException("basePath must be empty or start, and not end, with '/': " + p);
    }
    return p;
  }

  /**
   * Whether {@code method} is safe (RFC 9110 §9.2.1: GET, HEAD, OPTIONS, TRACE). Browsers send any
   * other method cross-origin as well (some without a CORS preflight), so the origin policy decides
   * those before they act.
   */
  public static boolean isSafeMethod(String method) {
    return method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS") || method.equals("TRACE");
  }

  /**
   * The origin policy's checks for one request of a servlet transport, before anything else: the
   * host always, the {@code Origin} on an unsafe method (and on every WebSocket handshake, which
   * browsers send from any page).
   *
   * @param scheme the request's scheme ({@code getScheme()})
   * @param serverName the host it was sent to ({@code getServerName()}, from {@code Host})
   * @param serverPort the port it was sent to ({@code getServerPort()})
   * @throws SwitchboardException PERMISSION_DENIED ({@code forbidden_host} or {@code forbidden_origin})
   */
  public static void checkOrigin(OriginPolicy policy, String method, boolean handshake, String scheme,
      String serverName, int serverPort, String origin) {
    policy.checkHost(serverName, serverPort);
    if (handshake || !isSafeMethod(method)) {
      policy.checkOrigin(origin, scheme, serverName, serverPort);
    }
  }

  /**
   * The policy of a transport whose builder was given origins of its own (the deprecated
   * {@code allowOrigin} of the filter builders): the hub's, with those origins added.
   *
   * @throws IllegalArgumentException for a malformed origin
   */
  public static OriginPolicy withOrigins(OriginPolicy policy, List<String> origins) {
    if (origins.isEmpty()) {
      return policy;
    }
    OriginPolicy.Builder b = policy.toBuilder();
    origins.forEach(b::allowOrigin);
    return b.build();
  }

  /**
   * A {@link Handshake} from a request's parts, so servlet modules need not repeat this.
   *
   * @param headers the values of one header name (a servlet request's {@code getHeaders})
   */
  public static Handshake handshake(String transport, String remoteAddr, int remotePort,
      Enumeration<String> headerNames, Function<String, Enumeration<String>> headers,
      Map<String, String[]> parameters) {
    Map<String, List<String>> h = new LinkedHashMap<>();
    for (String name : Collections.list(headerNames)) {
      h.put(name, Collections.list(headers.apply(name)));
    }
    Map<String, List<String>> query = new LinkedHashMap<>();
    parameters.forEach((k, v) -> query.put(k, new ArrayList<>(List.of(v))));
    InetSocketAddress remote = remoteAddr == null ? null : InetSocketAddress.createUnresolved(remoteAddr, remotePort);
    return new Handshake(transport, remote, h, query);
  }

  /** The request path inside the context, still percent-encoded. */
  public static String pathInContext(String requestUri, String contextPath) {
    return contextPath != null && !contextPath.isEmpty() && requestUri.startsWith(contextPath)
        ? requestUri.substring(contextPath.length()) : requestUri;
  }

  private static SwitchboardException bad(String s) {
    // Quoted: the segment is the client's, and a raw control character would forge a log line.
    return SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_path",
        "path segment is not valid percent-encoded UTF-8: " + Printable.quote(s));
  }
}
