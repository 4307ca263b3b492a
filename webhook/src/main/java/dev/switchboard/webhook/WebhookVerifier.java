package dev.switchboard.webhook;

import dev.switchboard.webhook.WebhookVerificationException.Reason;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Verifies signed webhook deliveries: Standard Webhooks ({@code webhook-id}, {@code webhook-timestamp},
 * {@code webhook-signature} with {@code v1} HMAC-SHA256 and {@code v1a} Ed25519 signatures), GitHub
 * ({@code X-Hub-Signature-256}), Stripe ({@code Stripe-Signature}), Slack ({@code X-Slack-Signature})
 * and a generic "hex HMAC-SHA256 of the body in header X".
 *
 * <p><strong>Pass the raw body bytes exactly as received.</strong> Re-serialised JSON (parsed and
 * written again by a framework) differs in whitespace or key order and never verifies; this class
 * never parses the body. Signatures are compared in constant time; several secrets may be configured
 * at once for key rotation; timestamps must be within a tolerance (default 5 minutes, past and
 * future) unless {@link Builder#ignoreTimestamp()} is set for replaying archived deliveries.
 *
 * <p>Immutable and thread-safe. {@link #verify} throws {@link WebhookVerificationException}, whose
 * message says what failed and never contains a secret.
 */
public final class WebhookVerifier {
  /**
   * A verified delivery.
   *
   * @param id the delivery id when the scheme has one ({@code webhook-id}, {@code X-GitHub-Delivery}), else null
   * @param timestamp the signed timestamp when the scheme has one, else null
   */
  public record Verified(String scheme, String id, Instant timestamp) {}

  private final Scheme scheme;
  private final List<Scheme.Secret> secrets;
  private final String header;
  private final String prefix;
  private final Duration tolerance;
  private final boolean ignoreTimestamp;
  private final Clock clock;

  private WebhookVerifier(Builder b) {
    this.scheme = b.scheme;
    this.secrets = b.secrets;
    this.header = b.header;
    this.prefix = b.prefix;
    this.tolerance = b.tolerance;
    this.ignoreTimestamp = b.ignoreTimestamp;
    this.clock = b.clock;
  }

  /** Standard Webhooks; secrets {@code whsec_…} (HMAC) and/or {@code whpk_…} (Ed25519 public keys). */
  public static Builder standardWebhooks(String... secrets) {
    return new Builder(Scheme.STANDARD_WEBHOOKS, secrets, null, null);
  }

  /** GitHub: {@code X-Hub-Signature-256: sha256=<hex>} over the body. */
  public static Builder github(String... secrets) {
    return new Builder(Scheme.GITHUB, secrets, "X-Hub-Signature-256", "sha256=");
  }

  /** Stripe: {@code Stripe-Signature: t=<ts>,v1=<hex>[,v1=…]} over {@code t.body}; the key is the whole secret. */
  public static Builder stripe(String... secrets) {
    return new Builder(Scheme.STRIPE, secrets, "Stripe-Signature", null);
  }

  /** Slack: {@code X-Slack-Signature: v0=<hex>} over {@code v0:ts:body}, {@code X-Slack-Request-Timestamp}. */
  public static Builder slack(String... secrets) {
    return new Builder(Scheme.SLACK, secrets, "X-Slack-Signature", "v0=");
  }

  /** Generic: the hex HMAC-SHA256 of the body in {@code header} (prefix it with {@link Builder#prefix}). */
  public static Builder hmacSha256Hex(String header, String... secrets) {
    if (header == null || header.isBlank()) {
      throw new IllegalArgumentException("header name is required");
    }
    return new Builder(Scheme.HMAC_SHA256_HEX, secrets, header, "");
  }

  /**
   * Verifies a delivery.
   *
   * @param headers request headers (names compared case-insensitively)
   * @param rawBody the body bytes exactly as received
   * @throws WebhookVerificationException when it does not verify
   */
  public Verified verify(Map<String, ? extends Collection<String>> headers, byte[] rawBody) {
    Objects.requireNonNull(headers, "headers");
    return verify(name -> header(headers, name), rawBody);
  }

  /** A header's value (several values joined by spaces), its name compared case-insensitively. */
  private static String header(Map<String, ? extends Collection<String>> headers, String name) {
    Collection<String> v = headers.get(name); // the usual case, and any case-insensitive map
    if (v == null) {
      for (Map.Entry<String, ? extends Collection<String>> e : headers.entrySet()) {
        if (name.equalsIgnoreCase(e.getKey())) {
          v = e.getValue();
          break;
        }
      }
    }
    if (v == null || v.isEmpty()) {
      return null;
    }
    return v.size() == 1 ? v.iterator().next() : String.join(" ", v);
  }

  /**
   * Verifies a delivery, reading headers through {@code header} (e.g. {@code request::getHeader},
   * which is case-insensitive in the Servlet API).
   *
   * @throws WebhookVerificationException when it does not verify
   */
  public Verified verify(Function<String, String> header, byte[] rawBody) {
    Objects.requireNonNull(rawBody, "rawBody");
    switch (scheme) {
      case STANDARD_WEBHOOKS: return standard(header, rawBody);
      case STRIPE: return stripe(header, rawBody);
      case SLACK: return slack(header, rawBody);
      default: return hexBody(header, rawBody);
    }
  }

  private Verified standard(Function<String, String> header, byte[] body) {
    // svix-* headers are the same scheme under Svix's older names.
    String idName = header.apply("webhook-id") == null && header.apply("svix-id") != null ? "svix-" : "webhook-";
    String id = required(header, idName + "id");
    String ts = required(header, idName + "timestamp");
    String sigs = required(header, idName + "signature");
    long seconds = seconds(ts, idName + "timestamp");
    checkTime(seconds, idName + "timestamp");
    byte[] signed = (id + "." + ts + ".").getBytes(StandardCharsets.UTF_8);
    byte[][] macs = new byte[secrets.size()][]; // computed once per secret, when a v1 entry needs it
    boolean known = false;
    boolean wellFormed = false;
    // Space-separated "<version>,<base64>" entries, read without a regex or a list: this runs on
    // every verification.
    int n = sigs.length();
    for (int start = 0, end; start < n; start = end + 1) {
      end = sigs.indexOf(' ', start);
      if (end < 0) {
        end = n;
      }
      int comma = sigs.indexOf(',', start);
      if (comma <= start || comma >= end) {
        continue;
      }
      wellFormed = true;
      boolean v1 = comma - start == 2 && sigs.startsWith("v1", start);
      boolean v1a = comma - start == 3 && sigs.startsWith("v1a", start);
      if (!v1 && !v1a) {
        continue;
      }
      known = true;
      byte[] sig = Crypto.unbase64(sigs.substring(comma + 1, end));
      if (sig == null) {
        continue;
      }
      for (int i = 0; i < macs.length; i++) {
        Scheme.Secret s = secrets.get(i);
        boolean match;
        if (v1) {
          if (s.hmac() == null) {
            continue;
          }
          if (macs[i] == null) {
            macs[i] = s.hmacOf(signed, body);
          }
          match = Crypto.equal(sig, macs[i]);
        } else {
          match = s.edPublic() != null && Crypto.ed25519Verify(s.edPublic(), sig, signed, body);
        }
        if (match) {
          return new Verified(scheme.label, id, Instant.ofEpochSecond(seconds));
        }
      }
    }
    if (!wellFormed) {
      throw new WebhookVerificationException(Reason.MALFORMED_HEADER, idName + "signature has no "
          + "'<version>,<base64>' entry");
    }
    if (!known) {
      throw new WebhookVerificationException(Reason.UNKNOWN_VERSION, idName + "signature has no v1 or v1a "
          + "signature (only versions this verifier does not know)");
    }
    throw noMatch(idName + "signature");
  }

  private Verified stripe(Function<String, String> header, byte[] body) {
    String value = required(header, this.header);
    String t = null;
    List<byte[]> v1 = new java.util.ArrayList<>();
    boolean otherVersions = false;
    for (String part : value.split(",")) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String k = part.substring(0, eq).trim();
      String v = part.substring(eq + 1).trim();
      if (k.equals("t")) {
        t = v;
      } else if (k.equals("v1")) {
        byte[] b = Crypto.unhex(v);
        if (b != null) {
          v1.add(b);
        }
      } else if (k.startsWith("v")) {
        otherVersions = true;
      }
    }
    if (t == null) {
      throw new WebhookVerificationException(Reason.MALFORMED_HEADER, this.header + " has no t=<timestamp>");
    }
    if (v1.isEmpty()) {
      throw new WebhookVerificationException(otherVersions ? Reason.UNKNOWN_VERSION : Reason.MALFORMED_HEADER,
          this.header + " has no v1=<hex> signature");
    }
    long seconds = seconds(t, this.header + " t");
    checkTime(seconds, this.header + " t");
    byte[] signed = (t + ".").getBytes(StandardCharsets.UTF_8);
    for (Scheme.Secret s : secrets) {
      byte[] expected = s.hmacOf(signed, body);
      for (byte[] sig : v1) {
        if (Crypto.equal(sig, expected)) {
          return new Verified(scheme.label, null, Instant.ofEpochSecond(seconds));
        }
      }
    }
    throw noMatch(this.header);
  }

  private Verified slack(Function<String, String> header, byte[] body) {
    String ts = required(header, "X-Slack-Request-Timestamp");
    String sig = required(header, this.header);
    long seconds = seconds(ts, "X-Slack-Request-Timestamp");
    byte[] given = versioned(sig);
    checkTime(seconds, "X-Slack-Request-Timestamp");
    byte[] signed = ("v0:" + ts + ":").getBytes(StandardCharsets.UTF_8);
    for (Scheme.Secret s : secrets) {
      if (Crypto.equal(given, s.hmacOf(signed, body))) {
        return new Verified(scheme.label, null, Instant.ofEpochSecond(seconds));
      }
    }
    throw noMatch(this.header);
  }

  private Verified hexBody(Function<String, String> header, byte[] body) {
    byte[] given = versioned(required(header, this.header));
    for (Scheme.Secret s : secrets) {
      if (Crypto.equal(given, s.hmacOf(body))) {
        return new Verified(scheme.label, scheme == Scheme.GITHUB ? header.apply("X-GitHub-Delivery") : null, null);
      }
    }
    throw noMatch(this.header);
  }

  /** The hex after the expected prefix ({@code sha256=}, {@code v0=}, or none). */
  private byte[] versioned(String value) {
    String v = value.trim();
    if (!v.startsWith(prefix)) {
      int eq = v.indexOf('=');
      if (eq > 0 && !prefix.isEmpty()) {
        throw new WebhookVerificationException(Reason.UNKNOWN_VERSION, header + " uses " + shown(v.substring(0, eq + 1))
            + "; expected '" + prefix + "'");
      }
      throw new WebhookVerificationException(Reason.MALFORMED_HEADER, header + " must be '" + prefix + "<hex>'");
    }
    byte[] b = Crypto.unhex(v.substring(prefix.length()));
    if (b == null) {
      throw new WebhookVerificationException(Reason.MALFORMED_HEADER, header + " is not '" + prefix + "<hex>'");
    }
    return b;
  }

  /**
   * Part of a sender's header for a message: quoted, at most 20 characters, control characters
   * escaped (the value is the sender's, and it may be anything: a log line must stay one line).
   */
  private static String shown(String value) {
    StringBuilder b = new StringBuilder("'");
    for (int i = 0; i < Math.min(value.length(), 20); i++) {
      char c = value.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return b.append(value.length() > 20 ? "...'" : "'").toString();
  }

  private static String required(Function<String, String> header, String name) {
    String v = header.apply(name);
    if (v == null || v.isBlank()) {
      throw new WebhookVerificationException(Reason.MISSING_HEADER, "missing header " + name);
    }
    return v.trim();
  }

  private static long seconds(String ts, String name) {
    if (ts.isEmpty() || ts.length() > 12) {
      throw notSeconds(name);
    }
    long v = 0;
    for (int i = 0; i < ts.length(); i++) {
      char c = ts.charAt(i);
      if (c < '0' || c > '9') {
        throw notSeconds(name);
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static WebhookVerificationException notSeconds(String name) {
    return new WebhookVerificationException(Reason.MALFORMED_HEADER, name + " must be whole seconds since the epoch");
  }

  private void checkTime(long seconds, String name) {
    if (ignoreTimestamp) {
      return;
    }
    long now = clock.instant().getEpochSecond();
    long tol = tolerance.toSeconds();
    if (now - seconds > tol) {
      throw new WebhookVerificationException(Reason.TIMESTAMP_TOO_OLD, name + " is " + (now - seconds)
          + " s old; the tolerance is " + tol + " s (a replay, or a sender clock off)");
    }
    if (seconds - now > tol) {
      throw new WebhookVerificationException(Reason.TIMESTAMP_TOO_NEW, name + " is " + (seconds - now)
          + " s in the future; the tolerance is " + tol + " s (sender clock off)");
    }
  }

  private WebhookVerificationException noMatch(String where) {
    return new WebhookVerificationException(Reason.NO_MATCHING_SIGNATURE, "no signature in " + where
        + " matched any of the " + secrets.size() + " configured secret" + (secrets.size() == 1 ? "" : "s")
        + " (was the raw body changed, e.g. re-serialised JSON?)");
  }

  /** Builds a {@link WebhookVerifier}. Not thread-safe; setters fail fast on bad values. */
  public static final class Builder {
    private final Scheme scheme;
    private final List<Scheme.Secret> secrets;
    private final String header;
    private String prefix;
    private Duration tolerance = Duration.ofMinutes(5);
    private boolean ignoreTimestamp;
    private Clock clock = Clock.systemUTC();

    private Builder(Scheme scheme, String[] secrets, String header, String prefix) {
      this.scheme = scheme;
      this.secrets = scheme.parse(secrets);
      if (scheme != Scheme.STANDARD_WEBHOOKS && this.secrets.stream().anyMatch(s -> s.hmac() == null)) {
        throw new IllegalStateException("only HMAC secrets apply to " + scheme.label);
      }
      this.header = header;
      this.prefix = prefix;
    }

    /** How far a signed timestamp may be from now, past or future (default 5 minutes). */
    public Builder tolerance(Duration tolerance) {
      if (tolerance == null || tolerance.isNegative()) {
        throw new IllegalArgumentException("tolerance must not be negative: " + tolerance);
      }
      this.tolerance = tolerance;
      return this;
    }

    /** Skip the timestamp check: for replaying archived deliveries, never for live traffic. */
    public Builder ignoreTimestamp() {
      this.ignoreTimestamp = true;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** For the generic scheme: text before the hex, e.g. {@code sha256=} (default none). */
    public Builder prefix(String prefix) {
      if (scheme != Scheme.HMAC_SHA256_HEX) {
        throw new IllegalStateException("the prefix of " + scheme.label + " is fixed");
      }
      this.prefix = Objects.requireNonNull(prefix, "prefix");
      return this;
    }

    public WebhookVerifier build() {
      if (scheme == Scheme.STANDARD_WEBHOOKS && secrets.stream().allMatch(s -> s.hmac() == null && s.edPublic() == null)) {
        throw new IllegalStateException("verifying needs whsec_ or whpk_ secrets; whsk_ keys are for signing");
      }
      return new WebhookVerifier(this);
    }
  }
}
