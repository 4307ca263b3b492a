package dev.switchboard.hub;

import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a transport knows about a client when it connects or sends a request: the transport name,
 * the remote address, the request headers (case-insensitive names) and query parameters. Passed to
 * {@link Authenticator}.
 *
 * <p>Immutable and thread-safe.
 */
public final class Handshake {
  private final String transport;
  private final InetSocketAddress remoteAddress;
  private final Map<String, List<String>> headers;
  private final Map<String, List<String>> query;

  /**
   * @param remoteAddress may be null when unknown
   */
  public Handshake(String transport, InetSocketAddress remoteAddress,
      Map<String, List<String>> headers, Map<String, List<String>> query) {
    this.transport = Objects.requireNonNull(transport, "transport");
    this.remoteAddress = remoteAddress;
    TreeMap<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    headers.forEach((k, v) -> h.put(k, List.copyOf(v)));
    this.headers = Collections.unmodifiableMap(h);
    this.query = Collections.unmodifiableMap(new TreeMap<>(query));
  }

  public String transport() {
    return transport;
  }

  public InetSocketAddress remoteAddress() {
    return remoteAddress;
  }

  /** All headers; names compare case-insensitively. */
  public Map<String, List<String>> headers() {
    return headers;
  }

  /** The first value of a header, or null. */
  public String header(String name) {
    List<String> v = headers.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** The first value of a query parameter, or null. */
  public String query(String name) {
    List<String> v = query.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** The token of an {@code Authorization: Bearer} header, or null. */
  public String bearerToken() {
    String auth = header("Authorization");
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String token = auth.substring(7).trim();
      return token.isEmpty() ? null : token;
    }
    return null;
  }

  @Override
  public String toString() {
    return "Handshake{transport=" + transport + ", remote=" + remoteAddress + "}";
  }
}
