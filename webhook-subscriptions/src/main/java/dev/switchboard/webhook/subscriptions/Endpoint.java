package dev.switchboard.webhook.subscriptions;

import dev.switchboard.webhook.WebhookSigner;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A webhook subscription: where the messages of some topics go, signed how, and how fast.
 *
 * <p>Immutable and thread-safe; changes make new instances ({@code with…}).
 *
 * @param id the endpoint's id ({@code ep_…})
 * @param owner the principal that registered it (the management API shows it to that principal only)
 * @param url where deliveries are POSTed
 * @param topics the topics delivered (exact names)
 * @param scheme how deliveries are signed
 * @param secrets the signing secrets with their validity (see {@link Secret})
 * @param enabled whether messages are delivered; a disabled endpoint keeps its cursor
 * @param disabledReason why it was disabled (by its owner, or automatically after failing), or null
 * @param rateLimit most deliveries per second, 0 for no limit
 * @param maxInFlight deliveries in flight at once per topic: 1 (the default) keeps each topic's
 *     messages in order; more is faster and may reorder
 * @param metadata the owner's own key/value pairs, stored and shown, never sent
 * @param created when it was registered
 */
public record Endpoint(String id, String owner, String url, List<String> topics, SignatureScheme scheme,
    List<Secret> secrets, boolean enabled, String disabledReason, int rateLimit, int maxInFlight,
    Map<String, String> metadata, Instant created) {

  /** How deliveries are signed; each is verified by that scheme's official receiver libraries. */
  public enum SignatureScheme {
    /** Standard Webhooks ({@code webhook-id}, {@code webhook-timestamp}, {@code webhook-signature}); the default. */
    STANDARD_WEBHOOKS("standard-webhooks"),
    /** GitHub style: {@code X-Hub-Signature-256: sha256=<hex HMAC of the body>}. */
    GITHUB("github"),
    /** Stripe style: {@code Stripe-Signature: t=<ts>,v1=<hex HMAC of "ts.body">}. */
    STRIPE("stripe");

    private final String label;

    SignatureScheme(String label) {
      this.label = label;
    }

    /** The name used in the API and the stores ({@code standard-webhooks}, {@code github}, {@code stripe}). */
    public String label() {
      return label;
    }

    /** Whether one delivery can carry signatures of several secrets (an overlapping rotation). */
    public boolean multiSignature() {
      return this == STANDARD_WEBHOOKS;
    }

    /**
     * The scheme named {@code label}.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public static SignatureScheme of(String label) {
      for (SignatureScheme s : values()) {
        if (s.label.equals(label)) {
          return s;
        }
      }
      throw new IllegalArgumentException("unknown scheme '" + label + "'; use standard-webhooks, github or stripe");
    }
  }

  /**
   * A signing secret and when it signs: from {@code activeFrom} (inclusive) until {@code expires}
   * (exclusive; null for no end).
   */
  public record Secret(String value, Instant activeFrom, Instant expires) {
    public Secret {
      Objects.requireNonNull(value, "value");
      Objects.requireNonNull(activeFrom, "activeFrom");
    }

    boolean activeAt(Instant t) {
      return !activeFrom.isAfter(t) && (expires == null || t.isBefore(expires));
    }

    @Override
    public String toString() {
      return "Secret{activeFrom=" + activeFrom + ", expires=" + expires + "}"; // never the value
    }
  }

  public Endpoint {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(url, "url");
    topics = List.copyOf(topics);
    Objects.requireNonNull(scheme, "scheme");
    secrets = List.copyOf(secrets);
    metadata = Map.copyOf(metadata);
    Objects.requireNonNull(created, "created");
  }

  /** A copy enabled (reason cleared) or disabled with {@code reason}. */
  public Endpoint withEnabled(boolean enabled, String reason) {
    return new Endpoint(id, owner, url, topics, scheme, secrets, enabled, enabled ? null : reason, rateLimit,
        maxInFlight, metadata, created);
  }

  /** A copy with other secrets. */
  public Endpoint withSecrets(List<Secret> secrets) {
    return new Endpoint(id, owner, url, topics, scheme, secrets, enabled, disabledReason, rateLimit, maxInFlight,
        metadata, created);
  }

  /**
   * The secrets that sign at {@code t}: for Standard Webhooks every one active then (both during a
   * rotation's overlap); for the single-signature schemes the one that became active last.
   */
  List<String> signingSecrets(Instant t) {
    List<String> out = new ArrayList<>();
    Secret newest = null;
    for (Secret s : secrets) {
      if (s.activeAt(t)) {
        out.add(s.value());
        if (newest == null || !s.activeFrom().isBefore(newest.activeFrom())) {
          newest = s;
        }
      }
    }
    if (!scheme.multiSignature()) {
      return newest == null ? List.of() : List.of(newest.value());
    }
    return out;
  }

  /** The next instant after {@code t} at which the signing secrets change, or null. */
  Instant nextSecretChange(Instant t) {
    Instant next = null;
    for (Secret s : secrets) {
      for (Instant i : new Instant[] {s.activeFrom(), s.expires()}) {
        if (i != null && i.isAfter(t) && (next == null || i.isBefore(next))) {
          next = i;
        }
      }
    }
    return next;
  }

  /**
   * The signer for deliveries at {@code t}.
   *
   * @throws IllegalStateException when no secret is active at {@code t}
   */
  WebhookSigner signer(Instant t) {
    String[] s = signingSecrets(t).toArray(new String[0]);
    if (s.length == 0) {
      throw new IllegalStateException("endpoint " + id + " has no secret active at " + t);
    }
    return switch (scheme) {
      case GITHUB -> WebhookSigner.github(s[0]); // one signature: signingSecrets gives only the newest
      case STRIPE -> WebhookSigner.stripe(s);
      default -> WebhookSigner.standardWebhooks(s);
    };
  }

  @Override
  public String toString() {
    return "Endpoint{id=" + id + ", owner=" + owner + ", url=" + url + ", topics=" + topics + ", scheme="
        + scheme.label() + ", enabled=" + enabled + "}"; // never the secrets
  }
}
