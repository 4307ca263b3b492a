package dev.switchboard.webhook;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * A minimal HTTP/1.1 client that POSTs to an address it is given, never one it looks up itself: the
 * TCP connection goes to the address {@link TargetPolicy} just checked, and TLS is layered on it
 * with the URL's host name for SNI and for certificate host name verification ({@code HTTPS}
 * endpoint identification by the JDK's trust manager). The {@code Host} header is the URL's. The JDK
 * {@code HttpClient} of Java 17 resolves names itself, with no hook, and refuses a caller's
 * {@code Host} header unless a JVM-wide system property is set before its first use, so it cannot
 * be pinned to a checked address.
 *
 * <p>Connections are kept alive per (URL origin, address) and reused; a reused connection that fails
 * before any response byte (the server closed it while idle) is replaced once by a fresh one.
 * Responses are read up to their end and discarded (at most {@value #MAX_DRAIN} bytes, else the
 * connection is closed); redirects are not followed; 1xx responses are skipped.
 *
 * <p>Thread-safe: each exchange uses its own connection.
 */
final class PinnedHttpClient implements AutoCloseable {
  static final int MAX_DRAIN = 1 << 20;
  private static final int MAX_HEADER_BYTES = 64 * 1024;
  private static final long MAX_IDLE_NANOS = Duration.ofSeconds(20).toNanos();

  /** What the exchange got back. */
  /** @param excerpt the start of the response body (at most {@value #EXCERPT_BYTES} bytes, printable), or "" */
  record Response(int status, String retryAfter, String excerpt) {}

  /** How much of a response body {@link Response#excerpt} keeps. */
  static final int EXCERPT_BYTES = 256;

  private record Key(boolean tls, String host, int port, InetAddress address) {}

  private static final class Conn {
    final Socket socket;
    final InputStream in;
    final OutputStream out;
    long idleSince;

    Conn(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new BufferedInputStream(socket.getInputStream(), 8192);
      this.out = socket.getOutputStream();
    }

    void closeQuietly() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }

  private final SSLContext ssl;
  private final int maxIdlePerKey;
  private final Map<Key, Deque<Conn>> idle = new ConcurrentHashMap<>();
  private volatile boolean closed;

  PinnedHttpClient(SSLContext ssl, int maxIdlePerKey) {
    this.ssl = ssl;
    this.maxIdlePerKey = maxIdlePerKey;
  }

  /**
   * POSTs {@code body} to {@code url}, connecting to the first of {@code addresses} that accepts.
   *
   * @param headers request headers (not Host, Content-Length, Connection)
   * @param timeout bounds connecting, and the whole exchange after it
   * @throws IOException for network errors, timeouts, TLS failures and malformed responses
   */
  Response post(URI url, List<InetAddress> addresses, Map<String, String> headers, byte[] body, Duration timeout)
      throws IOException {
    boolean tls = "https".equalsIgnoreCase(url.getScheme());
    String host = TargetPolicy.hostOf(url);
    int port = TargetPolicy.portOf(url);
    byte[] head = head(url, headers, body.length);
    IOException failure = null;
    for (InetAddress address : addresses) {
      Key key = new Key(tls, host, port, address);
      Conn reused = takeIdle(key);
      if (reused != null) {
        try {
          return exchange(key, reused, head, body, timeout, true);
        } catch (StaleConnection e) {
          // the server closed it while it was idle: a fresh connection below
        }
      }
      Conn fresh;
      try {
        fresh = connect(key, timeout);
      } catch (IOException e) {
        failure = e;
        continue; // the next checked address, if any
      }
      return exchange(key, fresh, head, body, timeout, false);
    }
    throw failure != null ? failure : new IOException("no address to connect to");
  }

  /** A reused connection failed before any byte of the response. */
  private static final class StaleConnection extends IOException {
    private static final long serialVersionUID = 1L;

    StaleConnection(IOException cause) {
      super(cause);
    }
  }

  private Response exchange(Key key, Conn c, byte[] head, byte[] body, Duration timeout, boolean reused)
      throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean keep = false;
    boolean started = false;
    try {
      setTimeout(c, deadline);
      c.out.write(head);
      c.out.write(body);
      c.out.flush();
      int status;
      Map<String, String> h;
      String statusLine;
      do {
        setTimeout(c, deadline);
        statusLine = readLine(c.in, true);
        started = true;
        status = parseStatus(statusLine);
        h = readHeaders(c.in, deadline, c);
      } while (status >= 100 && status < 200);
      java.io.ByteArrayOutputStream excerpt = new java.io.ByteArrayOutputStream();
      keep = drain(c, h, status, deadline, excerpt);
      String connection = h.getOrDefault("connection", "").toLowerCase(Locale.ROOT);
      // HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps unless it says close.
      keep &= statusLine.startsWith("HTTP/1.0") ? connection.contains("keep-alive") : !connection.contains("close");
      return new Response(status, h.get("retry-after"), printable(excerpt.toByteArray()));
    } catch (IOException e) {
      if (reused && !started && !(e instanceof SocketTimeoutException)) {
        throw new StaleConnection(e);
      }
      throw e;
    } finally {
      if (keep && !closed) {
        giveBack(key, c);
      } else {
        c.closeQuietly();
      }
    }
  }

  private Conn connect(Key key, Duration timeout) throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.connect(new InetSocketAddress(key.address, key.port), (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
      if (!key.tls) {
        return new Conn(s);
      }
      SSLContext context = ssl != null ? ssl : SSLContext.getDefault();
      // Layered on the socket to the checked address, named by the URL's host: SNI and certificate
      // verification use the name, the connection uses the address.
      SSLSocket t = (SSLSocket) context.getSocketFactory().createSocket(s, key.host, key.port, true);
      SSLParameters p = t.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      if (!TargetPolicy.isLiteral(key.host)) {
        p.setServerNames(List.of(new SNIHostName(key.host)));
      }
      t.setSSLParameters(p);
      t.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
      t.startHandshake();
      return new Conn(t);
    } catch (IOException | RuntimeException e) {
      s.close();
      if (e instanceof RuntimeException) {
        throw new IOException("TLS setup failed: " + e.getMessage(), e);
      }
      throw (IOException) e;
    } catch (java.security.NoSuchAlgorithmException e) {
      s.close();
      throw new IOException("no default TLS context", e);
    }
  }

  private Conn takeIdle(Key key) {
    Deque<Conn> q = idle.get(key);
    if (q == null) {
      return null;
    }
    for (Conn c; (c = q.pollFirst()) != null; ) {
      if (System.nanoTime() - c.idleSince < MAX_IDLE_NANOS && !c.socket.isClosed()) {
        return c;
      }
      c.closeQuietly();
    }
    return null;
  }

  private void giveBack(Key key, Conn c) {
    Deque<Conn> q = idle.computeIfAbsent(key, k -> new ConcurrentLinkedDeque<>());
    if (q.size() >= maxIdlePerKey) {
      c.closeQuietly();
      return;
    }
    c.idleSince = System.nanoTime();
    q.addFirst(c);
    if (closed) {
      closeIdle();
    }
  }

  private static byte[] head(URI url, Map<String, String> headers, int length) {
    String path = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
    if (url.getRawQuery() != null) {
      path += "?" + url.getRawQuery();
    }
    StringBuilder b = new StringBuilder(256);
    b.append("POST ").append(path).append(" HTTP/1.1\r\n");
    b.append("Host: ").append(url.getRawAuthority()).append("\r\n");
    b.append("Content-Length: ").append(length).append("\r\n");
    headers.forEach((k, v) -> {
      if (!token(k) || v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0) {
        throw new IllegalArgumentException("invalid header " + k);
      }
      b.append(k).append(": ").append(v).append("\r\n");
    });
    b.append("\r\n");
    return b.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  private static boolean token(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= 0x20 || c >= 0x7f || "()<>@,;:\\\"/[]?={}".indexOf(c) >= 0) {
        return false;
      }
    }
    return true;
  }

  private static void setTimeout(Conn c, long deadline) throws IOException {
    long left = (deadline - System.nanoTime()) / 1_000_000;
    if (left <= 0) {
      throw new SocketTimeoutException("timed out");
    }
    c.socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
  }

  private static int parseStatus(String line) throws IOException {
    // HTTP/1.1 200 OK
    if (!line.startsWith("HTTP/1.") || line.length() < 12 || line.charAt(8) != ' ') {
      throw new IOException("malformed status line: " + TargetPolicy.Printable.of(line));
    }
    try {
      int status = Integer.parseInt(line.substring(9, 12));
      if (status < 100 || status > 999) {
        throw new NumberFormatException();
      }
      return status;
    } catch (NumberFormatException e) {
      throw new IOException("malformed status line: " + TargetPolicy.Printable.of(line));
    }
  }

  private static Map<String, String> readHeaders(InputStream in, long deadline, Conn c) throws IOException {
    Map<String, String> h = new java.util.HashMap<>();
    int total = 0;
    for (String line; !(line = readLine(in, false)).isEmpty(); ) {
      total += line.length();
      if (total > MAX_HEADER_BYTES) {
        throw new IOException("response headers over " + MAX_HEADER_BYTES + " bytes");
      }
      int colon = line.indexOf(':');
      if (colon > 0) {
        String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = line.substring(colon + 1).trim();
        h.merge(name, value, (a, b) -> a + ", " + b);
      }
      setTimeout(c, deadline);
    }
    return h;
  }

  /** Reads a CRLF (or LF) terminated line of at most 8 KiB. */
  private static String readLine(InputStream in, boolean first) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(64);
    for (int c; ; ) {
      c = in.read();
      if (c < 0) {
        throw new EOFException(first && b.size() == 0 ? "connection closed before a response" : "connection closed mid-response");
      }
      if (c == '\n') {
        break;
      }
      if (b.size() >= 8192) {
        throw new IOException("response line over 8 KiB");
      }
      b.write(c);
    }
    byte[] line = b.toByteArray();
    int n = line.length > 0 && line[line.length - 1] == '\r' ? line.length - 1 : line.length;
    return new String(line, 0, n, StandardCharsets.ISO_8859_1);
  }

  /**
   * Reads the body to its end and discards it.
   *
   * @return whether the connection can carry another request
   */
  private static boolean drain(Conn c, Map<String, String> h, int status, long deadline,
      java.io.ByteArrayOutputStream excerpt) throws IOException {
    if (status == 204 || status == 304) {
      return true;
    }
    String te = h.get("transfer-encoding");
    if (te != null) {
      if (!te.toLowerCase(Locale.ROOT).endsWith("chunked")) {
        return false; // delimited by close: not worth reading
      }
      long total = 0;
      while (true) {
        setTimeout(c, deadline);
        String size = readLine(c.in, false);
        int semi = size.indexOf(';');
        long n;
        try {
          n = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
        } catch (NumberFormatException e) {
          throw new IOException("malformed chunk size");
        }
        if (n < 0) {
          throw new IOException("malformed chunk size");
        }
        if (n == 0) {
          while (!readLine(c.in, false).isEmpty()) {
            setTimeout(c, deadline); // trailers
          }
          return true;
        }
        total += n;
        if (total > MAX_DRAIN) {
          return false;
        }
        skip(c, n, deadline, excerpt);
        skip(c, 2, deadline, null); // the chunk's CRLF
      }
    }
    String cl = h.get("content-length");
    if (cl == null) {
      return false; // delimited by close
    }
    long n;
    try {
      n = Long.parseLong(cl.trim());
    } catch (NumberFormatException e) {
      return false;
    }
    if (n < 0 || n > MAX_DRAIN) {
      return false;
    }
    skip(c, n, deadline, excerpt);
    return true;
  }

  /** Reads and discards {@code n} bytes, keeping the first ones in {@code excerpt} (if not null) up to its bound. */
  private static void skip(Conn c, long n, long deadline, java.io.ByteArrayOutputStream excerpt) throws IOException {
    byte[] buf = new byte[(int) Math.min(8192, Math.max(1, n))];
    while (n > 0) {
      setTimeout(c, deadline);
      int r = c.in.read(buf, 0, (int) Math.min(buf.length, n));
      if (r < 0) {
        throw new EOFException("connection closed mid-body");
      }
      if (excerpt != null && excerpt.size() < EXCERPT_BYTES) {
        excerpt.write(buf, 0, Math.min(r, EXCERPT_BYTES - excerpt.size()));
      }
      n -= r;
    }
  }

  /** UTF-8 text with control characters (but tab) as '?': safe to log and show. */
  private static String printable(byte[] bytes) {
    if (bytes.length == 0) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    new String(bytes, StandardCharsets.UTF_8).codePoints()
        .forEach(cp -> sb.appendCodePoint(Character.isISOControl(cp) && cp != '\t' ? '?' : cp));
    return sb.toString();
  }

  private void closeIdle() {
    for (Deque<Conn> q : idle.values()) {
      for (Conn c; (c = q.pollFirst()) != null; ) {
        c.closeQuietly();
      }
    }
  }

  /** Closes idle connections; exchanges in flight finish and close theirs. */
  @Override
  public void close() {
    closed = true;
    closeIdle();
  }
}
