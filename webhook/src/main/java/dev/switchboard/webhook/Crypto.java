package dev.switchboard.webhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** HMAC-SHA256 and Ed25519 with the JDK's own providers. Thread-safe (stateless). */
final class Crypto {
  // DER prefixes that wrap a raw 32-byte Ed25519 key (RFC 8410) so the JDK's KeyFactory reads it.
  private static final byte[] ED25519_PUBLIC_PREFIX = hexBytes("302a300506032b6570032100");
  private static final byte[] ED25519_PRIVATE_PREFIX = hexBytes("302e020100300506032b657004220420");
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private Crypto() {}

  /** An initialised HMAC-SHA256 (not thread-safe: one per thread). */
  static Mac newMac(byte[] key) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is required of every JVM", e);
    }
  }

  /** Constant-time comparison. */
  static boolean equal(byte[] a, byte[] b) {
    return a != null && b != null && MessageDigest.isEqual(a, b);
  }

  static String hex(byte[] b) {
    char[] out = new char[b.length * 2];
    for (int i = 0; i < b.length; i++) {
      out[i * 2] = HEX[(b[i] >> 4) & 15];
      out[i * 2 + 1] = HEX[b[i] & 15];
    }
    return new String(out);
  }

  /** Lower- or upper-case hex; null when not hex of an even length. */
  static byte[] unhex(String s) {
    if (s == null || s.length() % 2 != 0) {
      return null;
    }
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(s.charAt(i * 2), 16);
      int lo = Character.digit(s.charAt(i * 2 + 1), 16);
      if (hi < 0 || lo < 0) {
        return null;
      }
      out[i] = (byte) ((hi << 4) | lo);
    }
    return out;
  }

  private static byte[] hexBytes(String s) {
    return unhex(s);
  }

  /** Standard base64; null when malformed. */
  static byte[] unbase64(String s) {
    try {
      return Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static PublicKey ed25519Public(byte[] raw32) {
    try {
      return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(concat(ED25519_PUBLIC_PREFIX, raw32)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not an Ed25519 public key", e);
    }
  }

  /** From a 32-byte seed, or a 64-byte seed followed by the public key. */
  static PrivateKey ed25519Private(byte[] key) {
    byte[] seed = key.length == 64 ? Arrays.copyOf(key, 32) : key;
    try {
      return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(concat(ED25519_PRIVATE_PREFIX, seed)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not an Ed25519 private key", e);
    }
  }

  static byte[] ed25519Sign(PrivateKey key, byte[]... parts) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      for (byte[] p : parts) {
        s.update(p);
      }
      return s.sign();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Ed25519 signing failed", e);
    }
  }

  static boolean ed25519Verify(PublicKey key, byte[] signature, byte[]... parts) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(key);
      for (byte[] p : parts) {
        s.update(p);
      }
      return s.verify(signature);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false; // a malformed signature is simply not a match
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
