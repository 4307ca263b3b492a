package dev.switchboard.webhook;

import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;

/** The signature schemes, their headers and how their secrets are read. */
enum Scheme {
  STANDARD_WEBHOOKS("standard-webhooks"),
  GITHUB("github"),
  STRIPE("stripe"),
  SLACK("slack"),
  HMAC_SHA256_HEX("hmac-sha256-hex");

  final String label;

  Scheme(String label) {
    this.label = label;
  }

  /** One configured secret: an HMAC key, or an Ed25519 public (verify) or private (sign) key. */
  record Secret(byte[] hmac, PublicKey edPublic, PrivateKey edPrivate, ThreadLocal<javax.crypto.Mac> macs) {
    Secret(byte[] hmac, PublicKey edPublic, PrivateKey edPrivate) {
      // One initialised Mac per thread and key: getInstance and init cost more than a 1 KiB HMAC.
      this(hmac, edPublic, edPrivate, hmac == null ? null : ThreadLocal.withInitial(() -> Crypto.newMac(hmac)));
    }

    /** HMAC-SHA256 of the parts with this secret's key. */
    byte[] hmacOf(byte[]... parts) {
      javax.crypto.Mac mac = macs.get();
      for (byte[] p : parts) {
        mac.update(p);
      }
      return mac.doFinal();
    }
  }

  /**
   * Reads secrets. Standard Webhooks: {@code whsec_<base64>} (HMAC), {@code whpk_<base64>} (Ed25519
   * public key, verify only) and {@code whsk_<base64>} (Ed25519 private key, 32-byte seed or 64-byte
   * seed + public key, sign only). Every other scheme uses the whole secret string as UTF-8 (that is
   * what GitHub, Stripe and Slack do, "whsec_" prefix included for Stripe).
   *
   * @throws IllegalArgumentException naming the secret's position, never its value
   */
  List<Secret> parse(String... secrets) {
    if (secrets == null || secrets.length == 0) {
      throw new IllegalArgumentException("at least one secret is required");
    }
    List<Secret> out = new ArrayList<>();
    for (int i = 0; i < secrets.length; i++) {
      String s = secrets[i];
      if (s == null || s.isEmpty()) {
        throw new IllegalArgumentException("secret #" + (i + 1) + " is empty");
      }
      if (this != STANDARD_WEBHOOKS) {
        out.add(new Secret(Crypto.utf8(s), null, null));
        continue;
      }
      String prefix = s.startsWith("whsec_") ? "whsec_" : s.startsWith("whpk_") ? "whpk_" : s.startsWith("whsk_") ? "whsk_" : null;
      if (prefix == null) {
        throw new IllegalArgumentException("secret #" + (i + 1) + " is not a Standard Webhooks secret: it must start"
            + " with whsec_ (HMAC), whpk_ (Ed25519 public key) or whsk_ (Ed25519 private key)");
      }
      byte[] key = Crypto.unbase64(s.substring(prefix.length()));
      if (key == null || key.length == 0) {
        throw new IllegalArgumentException("secret #" + (i + 1) + " is not valid base64 after " + prefix);
      }
      switch (prefix) {
        case "whsec_":
          out.add(new Secret(key, null, null));
          break;
        case "whpk_":
          if (key.length != 32) {
            throw new IllegalArgumentException("secret #" + (i + 1) + ": an Ed25519 public key has 32 bytes, not " + key.length);
          }
          out.add(new Secret(null, Crypto.ed25519Public(key), null));
          break;
        default:
          if (key.length != 32 && key.length != 64) {
            throw new IllegalArgumentException("secret #" + (i + 1)
                + ": an Ed25519 private key is a 32-byte seed or 64 bytes of seed and public key, not " + key.length);
          }
          out.add(new Secret(null, null, Crypto.ed25519Private(key)));
      }
    }
    return out;
  }
}
