package dev.switchboard.webhook;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Signs webhook deliveries for any of the schemes {@link WebhookVerifier} checks. With several
 * secrets (key rotation) every signature goes into the header, so receivers holding either key
 * verify. Sign each attempt afresh: new timestamp, same id.
 *
 * <p>Immutable and thread-safe.
 */
public final class WebhookSigner {
  private final Scheme scheme;
  private final List<Scheme.Secret> secrets;
  private final String header;
  private final String prefix;

  private WebhookSigner(Scheme scheme, String[] secrets, String header, String prefix) {
    this.scheme = scheme;
    this.secrets = scheme.parse(secrets);
    if (this.secrets.stream().anyMatch(s -> s.edPublic() != null)) {
      throw new IllegalArgumentException("whpk_ public keys verify; signing needs whsk_ private keys");
    }
    this.header = header;
    this.prefix = prefix;
  }

  /** Standard Webhooks: {@code whsec_…} signs {@code v1} (HMAC-SHA256), {@code whsk_…} signs {@code v1a} (Ed25519). */
  public static WebhookSigner standardWebhooks(String... secrets) {
    return new WebhookSigner(Scheme.STANDARD_WEBHOOKS, secrets, null, null);
  }

  public static WebhookSigner github(String... secrets) {
    return new WebhookSigner(Scheme.GITHUB, secrets, "X-Hub-Signature-256", "sha256=");
  }

  public static WebhookSigner stripe(String... secrets) {
    return new WebhookSigner(Scheme.STRIPE, secrets, "Stripe-Signature", null);
  }

  public static WebhookSigner slack(String... secrets) {
    return new WebhookSigner(Scheme.SLACK, secrets, "X-Slack-Signature", "v0=");
  }

  /** The hex HMAC-SHA256 of the body in {@code header}, after {@code prefix} (may be empty). */
  public static WebhookSigner hmacSha256Hex(String header, String prefix, String... secrets) {
    return new WebhookSigner(Scheme.HMAC_SHA256_HEX, secrets, Objects.requireNonNull(header, "header"),
        Objects.requireNonNull(prefix, "prefix"));
  }

  /**
   * The headers to send with {@code rawBody}.
   *
   * @param id the delivery id (Standard Webhooks {@code webhook-id}, GitHub {@code X-GitHub-Delivery}); may be null for others
   * @throws IllegalArgumentException for a Standard Webhooks id that is empty or has a '.', a control
   *     character or white space around it (a verifier could not read it back as signed)
   */
  public Map<String, String> sign(String id, Instant timestamp, byte[] rawBody) {
    Objects.requireNonNull(timestamp, "timestamp");
    Objects.requireNonNull(rawBody, "rawBody");
    String ts = Long.toString(timestamp.getEpochSecond());
    Map<String, String> h = new LinkedHashMap<>();
    List<String> sigs = new ArrayList<>();
    switch (scheme) {
      case STANDARD_WEBHOOKS: {
        // The id is signed as sent; a verifier reads it back trimmed, and HTTP cannot carry controls.
        if (id == null || id.isEmpty() || id.contains(".") || !id.equals(id.strip())
            || id.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
          throw new IllegalArgumentException("webhook-id must be non-empty, without '.', control characters"
              + " or surrounding white space");
        }
        byte[] signed = (id + "." + ts + ".").getBytes(StandardCharsets.UTF_8);
        for (Scheme.Secret s : secrets) {
          sigs.add(s.hmac() != null
              ? "v1," + Base64.getEncoder().encodeToString(s.hmacOf(signed, rawBody))
              : "v1a," + Base64.getEncoder().encodeToString(Crypto.ed25519Sign(s.edPrivate(), signed, rawBody)));
        }
        h.put("webhook-id", id);
        h.put("webhook-timestamp", ts);
        h.put("webhook-signature", String.join(" ", sigs));
        return h;
      }
      case STRIPE: {
        StringBuilder v = new StringBuilder("t=").append(ts);
        for (Scheme.Secret s : secrets) {
          v.append(",v1=").append(Crypto.hex(s.hmacOf((ts + ".").getBytes(StandardCharsets.UTF_8), rawBody)));
        }
        h.put(header, v.toString());
        return h;
      }
      case SLACK:
        h.put("X-Slack-Request-Timestamp", ts);
        h.put(header, prefix + Crypto.hex(secrets.get(0).hmacOf(
            ("v0:" + ts + ":").getBytes(StandardCharsets.UTF_8), rawBody)));
        return h;
      default:
        if (scheme == Scheme.GITHUB && id != null) {
          h.put("X-GitHub-Delivery", id);
        }
        h.put(header, prefix + Crypto.hex(secrets.get(0).hmacOf(rawBody)));
        return h;
    }
  }
}
