package dev.switchboard.webhook;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * A Servlet {@link Filter} for webhook endpoints in an existing app: reads the raw body (bounded),
 * verifies it with a {@link WebhookVerifier} (401 with a JSON error body naming what failed), and —
 * when the scheme carries a delivery id and an {@link IdempotencyStore} is set — acknowledges a
 * redelivery of a processed id with 200 without calling the handler, answers a copy that arrives
 * while the first is still processing with 503 and {@code Retry-After} (the sender retries later),
 * and forgets the id again when the handler fails (non-2xx or exception) so the next retry runs it.
 * The handler downstream can read the body again; the {@link WebhookVerifier.Verified} result is the
 * request attribute {@link #VERIFIED}.
 *
 * <p>Thread-safe.
 */
public final class WebhookFilter implements Filter {
  /** Request attribute holding the {@link WebhookVerifier.Verified} delivery. */
  public static final String VERIFIED = "dev.switchboard.webhook.verified";

  private final WebhookVerifier verifier;
  private final IdempotencyStore store;
  private final Duration ttl;
  private final int maxBodyBytes;
  private final Duration retryAfter;

  private WebhookFilter(Builder b) {
    this.verifier = b.verifier;
    this.store = b.store;
    this.ttl = b.ttl;
    this.maxBodyBytes = b.maxBodyBytes;
    this.retryAfter = b.retryAfter;
  }

  public static Builder builder(WebhookVerifier verifier) {
    return new Builder(verifier);
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest req = (HttpServletRequest) request;
    HttpServletResponse res = (HttpServletResponse) response;
    if (!req.getMethod().equals("POST")) {
      res.setHeader("Allow", "POST");
      error(res, 405, "method_not_allowed", "webhooks are delivered with POST");
      return;
    }
    byte[] body = readBody(req);
    if (body == null) {
      error(res, 413, "payload_too_large", "body is over the limit of " + maxBodyBytes + " bytes");
      return;
    }
    WebhookVerifier.Verified verified;
    try {
      verified = verifier.verify(req::getHeader, body);
    } catch (WebhookVerificationException e) {
      error(res, 401, e.code(), e.getMessage());
      return;
    }
    req.setAttribute(VERIFIED, verified);
    String key = store == null || verified.id() == null ? null : verified.scheme() + ":" + verified.id();
    if (key != null) {
      IdempotencyStore.Claim claim = store.claim(key, ttl);
      if (claim == IdempotencyStore.Claim.DONE) {
        json(res, 200, "{\"status\":200,\"duplicate\":true,\"message\":\"already processed\"}");
        return;
      }
      if (claim == IdempotencyStore.Claim.IN_PROGRESS) {
        res.setHeader("Retry-After", Long.toString(Math.max(1, retryAfter.toSeconds())));
        error(res, 503, "in_progress", "delivery " + verified.id() + " is being processed; retry later");
        return;
      }
    }
    boolean ok = false;
    try {
      chain.doFilter(new BodyRequest(req, body), res);
      ok = res.getStatus() >= 200 && res.getStatus() < 300;
    } finally {
      if (key != null) {
        if (ok) {
          store.complete(key);
        } else {
          store.release(key);
        }
      }
    }
  }

  private byte[] readBody(HttpServletRequest req) throws IOException {
    if (req.getContentLengthLong() > maxBodyBytes) {
      return null;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    try (InputStream in = req.getInputStream()) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
        if (out.size() > maxBodyBytes) {
          return null;
        }
      }
    }
    return out.toByteArray();
  }

  private static void error(HttpServletResponse res, int status, String code, String message) throws IOException {
    json(res, status, "{\"status\":" + status + ",\"error\":\"" + code + "\",\"message\":\""
        + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}");
  }

  private static void json(HttpServletResponse res, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    res.setStatus(status);
    res.setContentType("application/json");
    res.setContentLength(b.length);
    res.getOutputStream().write(b);
  }

  /** The request with its body readable again by the handler. */
  private static final class BodyRequest extends HttpServletRequestWrapper {
    private final byte[] body;

    BodyRequest(HttpServletRequest req, byte[] body) {
      super(req);
      this.body = body;
    }

    @Override
    public ServletInputStream getInputStream() {
      ByteArrayInputStream in = new ByteArrayInputStream(body);
      return new ServletInputStream() {
        @Override
        public int read() {
          return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) {
          return in.read(b, off, len);
        }

        @Override
        public boolean isFinished() {
          return in.available() == 0;
        }

        @Override
        public boolean isReady() {
          return true;
        }

        @Override
        public void setReadListener(ReadListener listener) {
          throw new IllegalStateException("the webhook body is already in memory; read it directly");
        }
      };
    }

    @Override
    public BufferedReader getReader() {
      return new BufferedReader(new InputStreamReader(new ByteArrayInputStream(body), StandardCharsets.UTF_8));
    }

    @Override
    public int getContentLength() {
      return body.length;
    }

    @Override
    public long getContentLengthLong() {
      return body.length;
    }
  }

  /** Builds a {@link WebhookFilter}. Not thread-safe; setters fail fast on bad values. */
  public static final class Builder {
    private final WebhookVerifier verifier;
    private IdempotencyStore store = IdempotencyStore.inMemory(100_000);
    private Duration ttl = Duration.ofDays(3);
    private int maxBodyBytes = 1 << 20;
    private Duration retryAfter = Duration.ofSeconds(5);

    private Builder(WebhookVerifier verifier) {
      this.verifier = Objects.requireNonNull(verifier, "verifier");
    }

    /** Where processed ids are kept (default in-memory, 100,000 ids); null turns deduplication off. */
    public Builder idempotencyStore(IdempotencyStore store) {
      this.store = store;
      return this;
    }

    /** How long a processed id is remembered (default 3 days, longer than senders retry). */
    public Builder idempotencyTtl(Duration ttl) {
      if (ttl == null || ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException("idempotencyTtl must be positive: " + ttl);
      }
      this.ttl = ttl;
      return this;
    }

    /** Largest accepted body (default 1 MiB); larger → 413. */
    public Builder maxBodyBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxBodyBytes must be >= 1: " + bytes);
      }
      this.maxBodyBytes = bytes;
      return this;
    }

    /** The {@code Retry-After} sent with 503 for a copy that arrives mid-processing (default 5 s). */
    public Builder retryAfter(Duration retryAfter) {
      if (retryAfter == null || retryAfter.isNegative()) {
        throw new IllegalArgumentException("retryAfter must not be negative: " + retryAfter);
      }
      this.retryAfter = retryAfter;
      return this;
    }

    public WebhookFilter build() {
      return new WebhookFilter(this);
    }
  }
}
