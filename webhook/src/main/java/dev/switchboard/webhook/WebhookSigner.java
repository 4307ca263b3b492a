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
 * Signs webhook deliveries for any of the schemes {@link WebhookVerifier} checks. Sign each attempt
 * afresh: new timestamp, same id ({@link WebhookSender} does).
 *
 * <h2>Secrets and rotation</h2>
 * Standard Webhooks and Stripe headers carry several signatures, so their signers take several
 * secrets and send one signature per secret. GitHub ({@code X-Hub-Signature-256}), Slack
 * ({@code X-Slack-Signature}) and the generic hex HMAC carry exactly one, so their signers take one
 * secret; signing with only one of several would leave every receiver holding the other one failing.
 * In every scheme a secret is rotated the same way: {@code signer.rotatingTo(newSecret, switchAt)}.
 * The {@code timestamp} given to {@link #sign} decides which secrets sign, so an attempt retried
 * after {@code switchAt} uses the new secret:
 *
 * <table class="striped">
 * <caption>What is sent during a rotation, and what a receiver must hold</caption>
 * <thead>
 * <tr><th scope="col">scheme</th><th scope="col">signed before {@code switchAt} with</th>
 *     <th scope="col">from {@code switchAt}</th><th scope="col">the receiver holds</th></tr>
 * </thead>
 * <tbody>
 * <tr><th scope="row">Standard Webhooks, Stripe</th><td>the old and the new secret (two signatures)</td>
 *     <td>the new secret only</td>
 *     <td>either secret until {@code switchAt} (it may change over whenever it likes), the new one from then</td></tr>
 * <tr><th scope="row">GitHub, Slack, generic HMAC</th><td>the old secret only</td><td>the new secret only</td>
 *     <td>the old secret until {@code switchAt} and the new one from then: add the new one beside the
 *     old before {@code switchAt} (e.g. {@code WebhookVerifier.github(old, new)}), drop the old one a
 *     few minutes after (a delivery signed just before may still be on its way)</td></tr>
 * </tbody>
 * </table>
 *
 * <p>Give the receivers' owners the new secret and {@code switchAt} together, with enough time before
 * {@code switchAt} to install it. Once {@code switchAt} has passed, build a plain signer from the new
 * secret (e.g. at the next restart or the next rotation).
 *
 * <p>Immutable and thread-safe.
 */
public final class WebhookSigner {
  private final Scheme scheme;
  /** The secrets that sign; before {@link #switchAt} when a rotation is scheduled. */
  private final List<Scheme.Secret> secrets;
  /** The secrets that sign from {@link #switchAt}, or null when no rotation is scheduled. */
  private final List<Scheme.Secret> rotated;
  private final Instant switchAt;
  private final String header;
  private final String prefix;

  private WebhookSigner(Scheme scheme, List<Scheme.Secret> secrets, List<Scheme.Secret> rotated, Instant switchAt,
      String header, String prefix) {
    this.scheme = scheme;
    this.secrets = secrets;
    this.rotated = rotated;
    this.switchAt = switchAt;
    this.header = header;
    this.prefix = prefix;
  }

  private static WebhookSigner of(Scheme scheme, String header, String prefix, String... secrets) {
    return new WebhookSigner(scheme, parse(scheme, secrets), null, null, header, prefix);
  }

  private static List<Scheme.Secret> parse(Scheme scheme, String... secrets) {
    List<Scheme.Secret> parsed = scheme.parse(secrets);
    if (parsed.stream().anyMatch(s -> s.edPublic() != null)) {
      throw new IllegalArgumentException("whpk_ public keys verify; signing needs whsk_ private keys");
    }
    return parsed;
  }

  /**
   * Standard Webhooks: {@code whsec_…} signs {@code v1} (HMAC-SHA256), {@code whsk_…} signs {@code v1a}
   * (Ed25519); with several secrets every signature is sent, space-separated.
   *
   * @throws IllegalArgumentException for no secret, or one that is not {@code whsec_…}/{@code whsk_…}
   */
  public static WebhookSigner standardWebhooks(String... secrets) {
    return of(Scheme.STANDARD_WEBHOOKS, null, null, secrets);
  }

  /**
   * GitHub: {@code X-Hub-Signature-256: sha256=<hex>} over the body, and {@code X-GitHub-Delivery}
   * with the id. The header carries one signature: rotate with {@link #rotatingTo(String, Instant)}.
   *
   * @throws IllegalArgumentException for an empty secret
   */
  public static WebhookSigner github(String secret) {
    return of(Scheme.GITHUB, "X-Hub-Signature-256", "sha256=", secret);
  }

  /**
   * Stripe: {@code Stripe-Signature: t=<ts>,v1=<hex>}, one {@code v1} per secret.
   *
   * @throws IllegalArgumentException for no secret or an empty one
   */
  public static WebhookSigner stripe(String... secrets) {
    return of(Scheme.STRIPE, "Stripe-Signature", null, secrets);
  }

  /**
   * Slack: {@code X-Slack-Signature: v0=<hex>} over {@code v0:ts:body}, and {@code X-Slack-Request-Timestamp}.
   * The header carries one signature: rotate with {@link #rotatingTo(String, Instant)}.
   *
   * @throws IllegalArgumentException for an empty secret
   */
  public static WebhookSigner slack(String secret) {
    return of(Scheme.SLACK, "X-Slack-Signature", "v0=", secret);
  }

  /**
   * The hex HMAC-SHA256 of the body in {@code header}, after {@code prefix} (may be empty). The header
   * carries one signature: rotate with {@link #rotatingTo(String, Instant)}.
   *
   * @throws IllegalArgumentException for an empty secret
   */
  public static WebhookSigner hmacSha256Hex(String header, String prefix, String secret) {
    return of(Scheme.HMAC_SHA256_HEX, Objects.requireNonNull(header, "header"), Objects.requireNonNull(prefix, "prefix"),
        secret);
  }

  /**
   * This signer with a scheduled rotation to {@code newSecret}: deliveries signed before
   * {@code switchAt} carry this signer's signatures, plus the new secret's in schemes whose header
   * carries several (Standard Webhooks, Stripe); from {@code switchAt} on they carry the new secret's
   * only. See the class documentation for what receivers must hold meanwhile.
   *
   * @param newSecret the secret that replaces this signer's secrets, in this scheme's format
   * @param switchAt the first signing time of the new secret alone (compared with {@link #sign}'s timestamp)
   * @throws IllegalArgumentException when {@code newSecret} is empty or not valid for the scheme
   * @throws IllegalStateException when this signer already has a rotation scheduled: build one from the
   *     secret it rotates to instead, once its {@code switchAt} has passed
   */
  public WebhookSigner rotatingTo(String newSecret, Instant switchAt) {
    Objects.requireNonNull(switchAt, "switchAt");
    if (rotated != null) {
      throw new IllegalStateException("a rotation is already scheduled (switching at " + this.switchAt
          + "); once it has passed, rotate a signer built from the secret it switched to");
    }
    List<Scheme.Secret> next = parse(scheme, newSecret);
    List<Scheme.Secret> before = secrets;
    if (scheme == Scheme.STANDARD_WEBHOOKS || scheme == Scheme.STRIPE) {
      before = new ArrayList<>(secrets);
      before.addAll(next);
      before = List.copyOf(before);
    }
    return new WebhookSigner(scheme, before, next, switchAt, header, prefix);
  }

  /**
   * The headers to send with {@code rawBody}.
   *
   * @param id the delivery id (Standard Webhooks {@code webhook-id}, GitHub {@code X-GitHub-Delivery}); may be null for others
   * @param timestamp the signing time, sent in the schemes that carry one; it also picks the secrets
   *     during a {@linkplain #rotatingTo(String, Instant) rotation}
   * @throws IllegalArgumentException for a Standard Webhooks id that is empty or has a '.', a control
   *     character or white space around it (a verifier could not read it back as signed)
   */
  public Map<String, String> sign(String id, Instant timestamp, byte[] rawBody) {
    Objects.requireNonNull(timestamp, "timestamp");
    Objects.requireNonNull(rawBody, "rawBody");
    String ts = Long.toString(timestamp.getEpochSecond());
    List<Scheme.Secret> secrets = rotated != null && !timestamp.isBefore(switchAt) ? rotated : this.secrets;
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
        // Single-signature schemes hold exactly one secret at a time (their factories take one).
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
