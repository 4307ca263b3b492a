package dev.switchboard.client;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Serves the browser client: {@code client.js} (an ES module) for any request path that does not
 * end in {@code .d.ts}, and {@code client.d.ts} (its TypeScript declarations) for one that does.
 * Map it to {@code /v1/client.js} and {@code /v1/client.d.ts}; the hub's filters on {@code /v1/*}
 * pass these paths through. Answers {@code GET} and {@code HEAD} with an {@code ETag} (a strong
 * hash of the file) and {@code Cache-Control: no-cache}, so browsers revalidate and get a
 * {@code 304} until the file changes.
 *
 * <p>Thread-safe; the files are read from the class path once, when the class is first used, which
 * fails with an {@link java.io.UncheckedIOException} if they are missing from the class path.
 */
public final class ClientScriptServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  /** The ES module as bytes, for servers that serve it their own way. */
  public static byte[] script() {
    return File.JS.bytes.clone();
  }

  /** The TypeScript declarations as bytes. */
  public static byte[] declarations() {
    return File.DTS.bytes.clone();
  }

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
    File f = req.getRequestURI().endsWith(".d.ts") ? File.DTS : File.JS;
    res.setHeader("ETag", f.etag);
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Content-Type-Options", "nosniff");
    String match = req.getHeader("If-None-Match");
    if (match != null && (match.equals(f.etag) || match.equals("*"))) {
      res.setStatus(HttpServletResponse.SC_NOT_MODIFIED);
      return;
    }
    res.setContentType(f.contentType);
    res.setContentLength(f.bytes.length);
    res.getOutputStream().write(f.bytes);
  }

  /** The two files, read from the class path when the class is first used. */
  private enum File {
    JS("client.js", "text/javascript; charset=utf-8"),
    DTS("client.d.ts", "application/typescript; charset=utf-8");

    final byte[] bytes;
    final String contentType;
    final String etag;

    File(String name, String contentType) {
      try (InputStream in = ClientScriptServlet.class.getResourceAsStream(name)) {
        if (in == null) {
          throw new UncheckedIOException(new IOException(name + " is missing from the class path (dev/switchboard/client/)"));
        }
        this.bytes = in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      this.contentType = contentType;
      try {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(bytes);
        this.etag = "\"" + HexFormat.of().formatHex(d, 0, 12) + "\"";
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
