package dev.switchboard.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/1.1 exchange written by hand on a socket to 127.0.0.1, for what the JDK clients will not
 * send (a forged {@code Host}, a WebSocket upgrade read as plain HTTP). Reads the head and then the
 * body by {@code Content-Length} or chunks; after a {@code 101} it reads no body.
 *
 * <p>Stateless and thread-safe; every read is bounded by a 30 s socket timeout.
 */
public final class RawHttp {
  private RawHttp() {}

  /** A response: the status line, the headers (names in lower case, first value) and the body. */
  public record Response(String statusLine, int status, Map<String, String> headers, String body) {
    /** The first value of a header (any case), or null. */
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  /**
   * Sends {@code head} (request line and headers, lines ended with CRLF, without the empty line that
   * ends the head) and {@code body}, then reads one response.
   *
   * @throws IOException when the connection fails or closes before a whole head arrives
   */
  public static Response exchange(int port, String head, String body) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
      String h = head + (b.length > 0 ? "Content-Length: " + b.length + "\r\n" : "") + "\r\n";
      out.write(h.getBytes(StandardCharsets.US_ASCII));
      out.write(b);
      out.flush();
      InputStream in = s.getInputStream();
      String statusLine = line(in);
      if (statusLine == null) {
        throw new IOException("connection closed before a status line");
      }
      Map<String, String> headers = new LinkedHashMap<>();
      for (String l; (l = line(in)) != null && !l.isEmpty(); ) {
        int colon = l.indexOf(':');
        if (colon > 0) {
          headers.putIfAbsent(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
        }
      }
      String[] parts = statusLine.split(" ", 3);
      int status = Integer.parseInt(parts[1]);
      String responseBody;
      if (status == 101 || status == 204 || status == 304) {
        responseBody = "";
      } else if (headers.containsKey("content-length")) {
        responseBody = new String(in.readNBytes(Integer.parseInt(headers.get("content-length"))), StandardCharsets.UTF_8);
      } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (String size; (size = line(in)) != null; ) {
          int n = Integer.parseInt(size.split(";")[0].trim(), 16);
          if (n == 0) {
            break;
          }
          all.write(in.readNBytes(n));
          line(in);
        }
        responseBody = all.toString(StandardCharsets.UTF_8);
      } else {
        responseBody = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      return new Response(statusLine, status, headers, responseBody);
    }
  }

  /**
   * A WebSocket upgrade request's head for {@code path} with these extra header lines (each ended
   * with CRLF), {@code Host} first.
   */
  public static String upgradeHead(String path, String host, String extraHeaders) {
    return "GET " + path + " HTTP/1.1\r\n"
        + "Host: " + host + "\r\n"
        + "Upgrade: websocket\r\n"
        + "Connection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "Sec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Protocol: switchboard.v1.json\r\n"
        + extraHeaders;
  }

  /** One CRLF-ended line (ISO-8859-1), or null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int c; (c = in.read()) != -1; ) {
      if (c == '\n') {
        int n = sb.length();
        return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
      }
      sb.append((char) c);
    }
    return sb.length() == 0 ? null : sb.toString();
  }
}
