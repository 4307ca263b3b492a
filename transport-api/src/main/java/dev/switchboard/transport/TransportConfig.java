package dev.switchboard.transport;

import java.net.URI;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Client configuration for {@link Transports#open(TransportConfig)}: which transport, where, and the
 * timeouts, reconnect backoff and limits. Built with {@link #builder()}, or from {@code switchboard.*}
 * properties ({@link #fromProperties}) or environment variables ({@link #fromEnvironment}), which fill
 * the same builder.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>environment</th><th>default</th></tr>
 *   <tr><td>switchboard.transport</td><td>SWITCHBOARD_TRANSPORT</td><td>auto</td></tr>
 *   <tr><td>switchboard.url</td><td>SWITCHBOARD_URL</td><td>(required)</td></tr>
 *   <tr><td>switchboard.token</td><td>SWITCHBOARD_TOKEN</td><td>none (sent as {@code Authorization: Bearer})</td></tr>
 *   <tr><td>switchboard.connect-timeout</td><td>SWITCHBOARD_CONNECT_TIMEOUT</td><td>10s</td></tr>
 *   <tr><td>switchboard.request-timeout</td><td>SWITCHBOARD_REQUEST_TIMEOUT</td><td>30s</td></tr>
 *   <tr><td>switchboard.reconnect.initial</td><td>SWITCHBOARD_RECONNECT_INITIAL</td><td>250ms</td></tr>
 *   <tr><td>switchboard.reconnect.max</td><td>SWITCHBOARD_RECONNECT_MAX</td><td>30s</td></tr>
 *   <tr><td>switchboard.reconnect.max-attempts</td><td>SWITCHBOARD_RECONNECT_MAX_ATTEMPTS</td><td>0 (forever)</td></tr>
 *   <tr><td>switchboard.publish.max-attempts</td><td>SWITCHBOARD_PUBLISH_MAX_ATTEMPTS</td><td>4 retries</td></tr>
 *   <tr><td>switchboard.max-message-bytes</td><td>SWITCHBOARD_MAX_MESSAGE_BYTES</td><td>1048576</td></tr>
 *   <tr><td>switchboard.max-pending-publishes</td><td>SWITCHBOARD_MAX_PENDING_PUBLISHES</td><td>1024 (publishes awaiting an answer)</td></tr>
 *   <tr><td>switchboard.max-send-queue-bytes</td><td>SWITCHBOARD_MAX_SEND_QUEUE_BYTES</td><td>16777216 (WebSocket, gRPC: frames not yet written)</td></tr>
 *   <tr><td>switchboard.long-poll-wait</td><td>SWITCHBOARD_LONG_POLL_WAIT</td><td>30s (max 60s)</td></tr>
 *   <tr><td>switchboard.http2</td><td>SWITCHBOARD_HTTP2</td><td>true</td></tr>
 *   <tr><td>switchboard.http3</td><td>SWITCHBOARD_HTTP3</td><td>false: SSE and long polling over HTTP/3 (QUIC),
 *       needs {@code dev.switchboard:switchboard-http3} and an https:// URL</td></tr>
 *   <tr><td>switchboard.keep-alive</td><td>SWITCHBOARD_KEEP_ALIVE</td><td>0 (off): gRPC client keepalive ping interval</td></tr>
 *   <tr><td>switchboard.idle-timeout</td><td>SWITCHBOARD_IDLE_TIMEOUT</td><td>45s (0: off): an SSE stream silent
 *       (or unanswered) this long is taken for dead and reconnected</td></tr>
 *   <tr><td>switchboard.header.NAME</td><td>—</td><td>extra request header NAME</td></tr>
 * </table>
 *
 * <p>The {@link SSLContext} for https:// and wss:// URLs ({@link Builder#sslContext}), or the
 * certificates to trust ({@link Builder#trustStore}, which the HTTP/3 transport needs), are set in
 * code only; without them the JDK's default (its trusted CAs) is used.
 *
 * <p>Durations accept {@code 250ms}, {@code 10s}, {@code 5m}, {@code 1h}, ISO-8601 ({@code PT10S})
 * or a plain number of milliseconds. Immutable and thread-safe.
 */
public final class TransportConfig {
  /** The property prefix. */
  public static final String PREFIX = "switchboard.";

  private static final List<String> KEYS = List.of("transport", "url", "token", "connect-timeout",
      "request-timeout", "reconnect.initial", "reconnect.max", "reconnect.max-attempts",
      "publish.max-attempts", "max-message-bytes", "max-pending-publishes", "max-send-queue-bytes",
      "long-poll-wait", "http2", "http3", "keep-alive", "idle-timeout");

  private final String transport;
  private final URI url;
  private final Duration connectTimeout;
  private final Duration requestTimeout;
  private final Backoff reconnectBackoff;
  private final Backoff publishBackoff;
  private final int maxMessageBytes;
  private final int maxPendingPublishes;
  private final long maxSendQueueBytes;
  private final Duration longPollWait;
  private final boolean http2;
  private final boolean http3;
  private final SSLContext sslContext;
  private final SSLContext givenSslContext;
  private final KeyStore trustStore;
  private final Duration keepAlive;
  private final Duration idleTimeout;
  private final Map<String, String> headers;

  private TransportConfig(Builder b) {
    this.transport = b.transport;
    this.url = b.url;
    this.connectTimeout = b.connectTimeout;
    this.requestTimeout = b.requestTimeout;
    this.reconnectBackoff = b.reconnectBackoff;
    this.publishBackoff = b.publishBackoff;
    this.maxMessageBytes = b.maxMessageBytes;
    this.maxPendingPublishes = b.maxPendingPublishes;
    this.maxSendQueueBytes = b.maxSendQueueBytes;
    this.longPollWait = b.longPollWait;
    this.http2 = b.http2;
    this.http3 = b.http3;
    this.trustStore = b.trustStore;
    this.givenSslContext = b.sslContext;
    this.sslContext = b.sslContext != null || b.trustStore == null ? b.sslContext : trusting(b.trustStore);
    this.keepAlive = b.keepAlive;
    this.idleTimeout = b.idleTimeout;
    this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads {@code switchboard.*} keys; other keys are ignored.
   *
   * @throws IllegalArgumentException for an unknown {@code switchboard.} key or a bad value, naming it
   */
  public static Builder fromProperties(Map<?, ?> properties) {
    Builder b = new Builder();
    for (Map.Entry<?, ?> e : new TreeMap<>(stringKeys(properties)).entrySet()) {
      String key = (String) e.getKey();
      if (key.startsWith(PREFIX)) {
        b.set(key.substring(PREFIX.length()), String.valueOf(e.getValue()));
      }
    }
    return b;
  }

  /** Same as {@link #fromProperties(Map)} for {@link Properties}. */
  public static Builder fromProperties(Properties properties) {
    return fromProperties((Map<?, ?>) properties);
  }

  /**
   * Reads environment variables: each key's upper-cased form with {@code .} and {@code -} as
   * {@code _}, e.g. {@code SWITCHBOARD_RECONNECT_MAX_ATTEMPTS}.
   *
   * @param env usually {@link System#getenv()}
   */
  public static Builder fromEnvironment(Map<String, String> env) {
    Builder b = new Builder();
    for (String key : KEYS) {
      String name = envName(key);
      String v = env.get(name);
      if (v != null) {
        b.set(key, v);
      }
    }
    return b;
  }

  /** The environment variable name for a key, e.g. {@code connect-timeout} → SWITCHBOARD_CONNECT_TIMEOUT. */
  static String envName(String key) {
    return ("SWITCHBOARD_" + key.replace('.', '_').replace('-', '_')).toUpperCase(Locale.ROOT);
  }

  private static Map<String, Object> stringKeys(Map<?, ?> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((k, v) -> out.put(String.valueOf(k), v));
    return out;
  }

  public String transport() {
    return transport;
  }

  public URI url() {
    return url;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  public Duration requestTimeout() {
    return requestTimeout;
  }

  public Backoff reconnectBackoff() {
    return reconnectBackoff;
  }

  /** Backoff for publish retries; its max attempts bound the retries. */
  public Backoff publishBackoff() {
    return publishBackoff;
  }

  public int maxMessageBytes() {
    return maxMessageBytes;
  }

  /** How many publishes may await an answer at once; see {@link Builder#maxPendingPublishes}. */
  public int maxPendingPublishes() {
    return maxPendingPublishes;
  }

  /** The bound on frames queued for sending, in bytes; see {@link Builder#maxSendQueueBytes}. */
  public long maxSendQueueBytes() {
    return maxSendQueueBytes;
  }

  public Duration longPollWait() {
    return longPollWait;
  }

  public boolean http2() {
    return http2;
  }

  /** Whether SSE and long polling run over HTTP/3 (QUIC); see {@link Builder#http3(boolean)}. */
  public boolean http3() {
    return http3;
  }

  /**
   * The TLS context for https:// and wss:// URLs: the one given, else one trusting
   * {@link #trustStore()} if given, else null for the JDK's default.
   */
  public SSLContext sslContext() {
    return sslContext;
  }

  /** The certificates to trust, or null; see {@link Builder#trustStore}. */
  public KeyStore trustStore() {
    return trustStore;
  }

  private static SSLContext trusting(KeyStore trust) {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("trust-store cannot make a TLS context: " + e.getMessage(), e);
    }
  }

  /** Interval between the client's keepalive pings (gRPC); {@link Duration#ZERO} when off. */
  public Duration keepAlive() {
    return keepAlive;
  }

  /**
   * How long an SSE stream may stay silent, or its request unanswered, before the client takes its
   * connection for dead and reconnects (resuming after the last id); {@link Duration#ZERO} when off.
   */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  /** Extra headers sent on every request and handshake (e.g. {@code Authorization}). */
  public Map<String, String> headers() {
    return headers;
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.transport = transport;
    b.url = url;
    b.connectTimeout = connectTimeout;
    b.requestTimeout = requestTimeout;
    b.reconnectBackoff = reconnectBackoff;
    b.publishBackoff = publishBackoff;
    b.maxMessageBytes = maxMessageBytes;
    b.maxPendingPublishes = maxPendingPublishes;
    b.maxSendQueueBytes = maxSendQueueBytes;
    b.longPollWait = longPollWait;
    b.http2 = http2;
    b.http3 = http3;
    b.sslContext = givenSslContext;
    b.trustStore = trustStore;
    b.keepAlive = keepAlive;
    b.idleTimeout = idleTimeout;
    b.headers.putAll(headers);
    return b;
  }

  @Override
  public String toString() {
    return "TransportConfig{transport=" + transport + ", url=" + url + ", connectTimeout="
        + connectTimeout + ", requestTimeout=" + requestTimeout + ", reconnect=" + reconnectBackoff
        + ", maxMessageBytes=" + maxMessageBytes + ", maxPendingPublishes=" + maxPendingPublishes
        + ", maxSendQueueBytes=" + maxSendQueueBytes + ", longPollWait=" + longPollWait + ", http2="
        + http2 + ", http3=" + http3 + ", keepAlive=" + keepAlive + ", idleTimeout="
        + idleTimeout + ", headers=" + headers.keySet() + "}";
  }

  /**
   * Builds a {@link TransportConfig}. Not thread-safe. Setters throw {@link IllegalArgumentException}
   * on bad values; {@link #build()} throws {@link IllegalStateException} when the URL is missing.
   */
  public static final class Builder {
    private String transport = "auto";
    private URI url;
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(30);
    private Backoff reconnectBackoff = Backoff.exponential(Duration.ofMillis(250), Duration.ofSeconds(30));
    private Backoff publishBackoff =
        Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(5)).withMaxAttempts(4);
    private int maxMessageBytes = 1 << 20;
    private int maxPendingPublishes = 1024;
    private long maxSendQueueBytes = 16L << 20;
    private Duration longPollWait = Duration.ofSeconds(30);
    private boolean http2 = true;
    private boolean http3;
    private SSLContext sslContext;
    private KeyStore trustStore;
    private Duration keepAlive = Duration.ZERO;
    private Duration idleTimeout = Duration.ofSeconds(45);
    private final Map<String, String> headers = new LinkedHashMap<>();

    private Builder() {}

    /** {@code ws}, {@code sse}, {@code longpoll}, {@code grpc} or {@code auto}. */
    public Builder transport(String transport) {
      if (transport == null || transport.isBlank()) {
        throw new IllegalArgumentException("transport must not be empty");
      }
      this.transport = transport.trim().toLowerCase(Locale.ROOT);
      return this;
    }

    /** The hub's base URL, e.g. {@code http://host:8080} (the {@code /v1} paths are added). */
    public Builder url(String url) {
      try {
        return url(URI.create(Objects.requireNonNull(url, "url").trim()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("switchboard.url is not a valid URL: " + url, e);
      }
    }

    public Builder url(URI url) {
      if (url.getScheme() == null || url.getHost() == null) {
        throw new IllegalArgumentException("switchboard.url needs a scheme and a host: " + url);
      }
      this.url = url;
      return this;
    }

    public Builder connectTimeout(Duration d) {
      this.connectTimeout = positive(d, "connect-timeout");
      return this;
    }

    public Builder requestTimeout(Duration d) {
      this.requestTimeout = positive(d, "request-timeout");
      return this;
    }

    public Builder reconnectBackoff(Backoff backoff) {
      this.reconnectBackoff = Objects.requireNonNull(backoff, "reconnectBackoff");
      return this;
    }

    public Builder publishBackoff(Backoff backoff) {
      this.publishBackoff = Objects.requireNonNull(backoff, "publishBackoff");
      return this;
    }

    /** Client-side payload limit checked before sending (the server enforces its own). */
    public Builder maxMessageBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("max-message-bytes must be >= 1: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    /**
     * How many publishes may await the server's answer at once (default 1024); past it
     * {@link Channel#send} fails at once with {@link Status#TOO_MANY_REQUESTS}
     * ({@code too_many_pending}) instead of buffering without bound.
     */
    public Builder maxPendingPublishes(int count) {
      if (count < 1) {
        throw new IllegalArgumentException("max-pending-publishes must be >= 1: " + count);
      }
      this.maxPendingPublishes = count;
      return this;
    }

    /**
     * How many bytes of frames a WebSocket or gRPC channel may hold written but not yet sent
     * (default 16 MiB, as OkHttp's {@code WebSocket}); a publish past it fails at once with
     * {@link Status#TOO_MANY_REQUESTS} ({@code send_queue_full}).
     */
    public Builder maxSendQueueBytes(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("max-send-queue-bytes must be >= 1: " + bytes);
      }
      this.maxSendQueueBytes = bytes;
      return this;
    }

    /** How long each long poll waits on the server (1s to 60s). */
    public Builder longPollWait(Duration d) {
      positive(d, "long-poll-wait");
      if (d.compareTo(Duration.ofSeconds(60)) > 0 || d.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("long-poll-wait must be between 1s and 60s: " + d);
      }
      this.longPollWait = d;
      return this;
    }

    /** Prefer HTTP/2 (h2c upgrade on http://, ALPN on https://); default true. */
    public Builder http2(boolean http2) {
      this.http2 = http2;
      return this;
    }

    /**
     * Runs SSE and long polling over HTTP/3 (QUIC over UDP) with Jetty's HTTP/3 client; default
     * false. Needs {@code dev.switchboard:switchboard-http3} on the class path and an https:// URL
     * (opening a channel fails naming what is missing). WebSocket and gRPC ignore it.
     */
    public Builder http3(boolean http3) {
      this.http3 = http3;
      return this;
    }

    /**
     * The TLS context for https:// and wss:// URLs (e.g. one trusting a private CA or a test
     * certificate); null (default) uses the JDK's default context.
     */
    public Builder sslContext(SSLContext sslContext) {
      this.sslContext = sslContext;
      return this;
    }

    /**
     * The certificates to trust for https:// and wss:// URLs (e.g. a private CA or a test certificate),
     * as a key store of trusted certificate entries; null (default) trusts the JDK's CAs. The HTTP/3
     * transport needs this form: its TLS runs in native code (quiche), which reads certificates, not an
     * {@link SSLContext}. The WebSocket, SSE and long-polling clients use it too when no {@link #sslContext}
     * is set; the gRPC client does not (it trusts the JDK's CAs).
     */
    public Builder trustStore(KeyStore trustStore) {
      this.trustStore = trustStore;
      return this;
    }

    /**
     * Sends a keepalive ping after this long without traffic (gRPC; at least 10s), so a dead
     * connection is noticed and a NAT keeps its mapping; {@link Duration#ZERO} (default) turns it
     * off. The server must permit pings this often (Switchboard's {@code GrpcHubServer} permits 10s).
     */
    public Builder keepAlive(Duration d) {
      if (d == null || d.isNegative() || (!d.isZero() && d.compareTo(Duration.ofSeconds(10)) < 0)) {
        throw new IllegalArgumentException("keep-alive must be 0 (off) or at least 10s: " + d);
      }
      this.keepAlive = d;
      return this;
    }

    /**
     * How long an SSE stream may stay silent, or its request unanswered, before it is taken for dead
     * and reconnected, resuming after the last id (default 45 s: three of the hub's default 15 s
     * heartbeats; keep it above the server's heartbeat interval). It catches connections that died
     * without a close (a NAT or proxy that dropped them, a network that went away). {@link Duration#ZERO}
     * turns it off; otherwise at least 1 s.
     */
    public Builder idleTimeout(Duration d) {
      if (d == null || d.isNegative() || (!d.isZero() && d.compareTo(Duration.ofSeconds(1)) < 0)) {
        throw new IllegalArgumentException("idle-timeout must be 0 (off) or at least 1s: " + d);
      }
      this.idleTimeout = d;
      return this;
    }

    /** Sends {@code Authorization: Bearer <token>} on every request and handshake. */
    public Builder token(String token) {
      return header("Authorization", "Bearer " + Objects.requireNonNull(token, "token"));
    }

    /** Adds a request header; CR and LF are refused (header injection). */
    public Builder header(String name, String value) {
      if (name == null || name.isBlank() || value == null
          || (name + value).chars().anyMatch(c -> c == '\r' || c == '\n')) {
        throw new IllegalArgumentException("header name and value must be non-empty and carry no CR/LF: "
            + name);
      }
      headers.put(name, value);
      return this;
    }

    /** Sets one setting by its key without the prefix (as in properties). */
    public Builder set(String key, String value) {
      String v = value == null ? "" : value.trim();
      try {
        switch (key) {
          case "transport": return transport(v);
          case "url": return url(v);
          case "token": return token(v);
          case "connect-timeout": return connectTimeout(parseDuration(v));
          case "request-timeout": return requestTimeout(parseDuration(v));
          case "reconnect.initial":
            return reconnectBackoff(rebuild(reconnectBackoff, parseDuration(v), null));
          case "reconnect.max":
            return reconnectBackoff(rebuild(reconnectBackoff, null, parseDuration(v)));
          case "reconnect.max-attempts":
            return reconnectBackoff(reconnectBackoff.withMaxAttempts(Integer.parseInt(v)));
          case "publish.max-attempts":
            return publishBackoff(publishBackoff.withMaxAttempts(Integer.parseInt(v)));
          case "max-message-bytes": return maxMessageBytes(Integer.parseInt(v));
          case "max-pending-publishes": return maxPendingPublishes(Integer.parseInt(v));
          case "max-send-queue-bytes": return maxSendQueueBytes(Long.parseLong(v));
          case "long-poll-wait": return longPollWait(parseDuration(v));
          case "http2": return http2(parseBoolean(v));
          case "http3": return http3(parseBoolean(v));
          case "keep-alive": return keepAlive(parseDuration(v));
          case "idle-timeout": return idleTimeout(parseDuration(v));
          default:
            if (key.startsWith("header.") && key.length() > "header.".length()) {
              return header(key.substring("header.".length()), v);
            }
            throw new IllegalArgumentException("unknown setting " + PREFIX + key + "; known: " + KEYS
                + " and header.NAME");
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(PREFIX + key + " must be a whole number: '" + v + "'", e);
      } catch (IllegalArgumentException e) {
        if (e.getMessage() != null && e.getMessage().contains(key)) {
          throw e;
        }
        throw new IllegalArgumentException(PREFIX + key + ": " + e.getMessage(), e);
      }
    }

    /** @throws IllegalStateException if no URL was set */
    public TransportConfig build() {
      if (url == null) {
        throw new IllegalStateException("switchboard.url is required (e.g. http://localhost:8080)");
      }
      return new TransportConfig(this);
    }

    private static Backoff rebuild(Backoff b, Duration initial, Duration max) {
      Duration i = initial != null ? initial : b.initial();
      Duration m = max != null ? max : b.max();
      if (m.compareTo(i) < 0) {
        m = i;
      }
      return Backoff.exponential(i, m).withMaxAttempts(b.maxAttempts());
    }

    private static boolean parseBoolean(String v) {
      if (v.equalsIgnoreCase("true")) {
        return true;
      }
      if (v.equalsIgnoreCase("false")) {
        return false;
      }
      throw new IllegalArgumentException("expected true or false: '" + v + "'");
    }

    private static Duration positive(Duration d, String name) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be a positive duration: " + d);
      }
      return d;
    }
  }

  /**
   * Parses {@code 250ms}, {@code 10s}, {@code 5m}, {@code 1h}, ISO-8601 ({@code PT10S}) or plain
   * milliseconds.
   *
   * @throws IllegalArgumentException naming the value when it is none of these
   */
  public static Duration parseDuration(String text) {
    String v = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
    try {
      if (v.startsWith("pt") || v.startsWith("p")) {
        return Duration.parse(v.toUpperCase(Locale.ROOT));
      }
      if (v.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2).trim()));
      }
      if (v.endsWith("s")) {
        return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1).trim()));
      }
      if (v.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1).trim()));
      }
      if (v.endsWith("h")) {
        return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1).trim()));
      }
      return Duration.ofMillis(Long.parseLong(v));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a duration: '" + text
          + "' (use e.g. 250ms, 10s, 5m, 1h or PT10S)", e);
    }
  }
}
