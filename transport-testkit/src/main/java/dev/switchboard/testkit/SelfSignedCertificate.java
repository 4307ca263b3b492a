package dev.switchboard.testkit;

import dev.switchboard.transport.TransportConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * A TLS certificate and its private key in a PKCS12 key store, for tests and the demo hub: either
 * generated (self-signed, EC P-256, with the host names and IP addresses it is valid for as subject
 * alternative names) by the JDK's {@code keytool}, or loaded from an existing key store.
 *
 * <p>Immutable and thread-safe.
 */
public final class SelfSignedCertificate {
  private static volatile SelfSignedCertificate localhost;

  private final Path keyStore;
  private final String password;
  private final X509Certificate certificate;

  private SelfSignedCertificate(Path keyStore, String password, X509Certificate certificate) {
    this.keyStore = keyStore;
    this.password = password;
    this.certificate = certificate;
  }

  /**
   * One certificate for {@code localhost} and {@code 127.0.0.1} per JVM, generated on first use into a
   * temporary directory deleted at exit.
   *
   * @throws IllegalStateException when it cannot be generated (see {@link #generate})
   */
  public static SelfSignedCertificate localhost() {
    SelfSignedCertificate c = localhost;
    if (c == null) {
      synchronized (SelfSignedCertificate.class) {
        c = localhost;
        if (c == null) {
          try {
            Path dir = Files.createTempDirectory("switchboard-tls");
            dir.toFile().deleteOnExit();
            c = generate(dir.resolve("localhost.p12"), "changeit", List.of("localhost"), List.of("127.0.0.1"), 30);
            c.keyStore.toFile().deleteOnExit();
            localhost = c;
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }
    }
    return c;
  }

  /**
   * Generates a self-signed certificate with {@code keytool} (from {@code java.home}) into a new
   * PKCS12 key store.
   *
   * @param keyStore the file to write; must not exist
   * @param hosts DNS names (the first is the subject's CN)
   * @param ips IP addresses
   * @param validDays how long it is valid from now
   * @throws IllegalStateException when keytool is missing or fails, with its output
   */
  public static SelfSignedCertificate generate(Path keyStore, String password, List<String> hosts, List<String> ips,
      int validDays) {
    if (hosts.isEmpty()) {
      throw new IllegalArgumentException("at least one host name is needed");
    }
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    if (!Files.isExecutable(keytool)) {
      throw new IllegalStateException("cannot generate a TLS certificate: " + keytool + " is missing (a JRE "
          + "without keytool); pass a key store instead");
    }
    List<String> san = new ArrayList<>();
    hosts.forEach(h -> san.add("dns:" + h));
    ips.forEach(ip -> san.add("ip:" + ip));
    List<String> cmd = List.of(keytool.toString(), "-genkeypair", "-alias", "switchboard", "-keyalg", "EC",
        "-groupname", "secp256r1", "-sigalg", "SHA256withECDSA", "-dname", "CN=" + hosts.get(0),
        "-ext", "SAN=" + String.join(",", san), "-validity", Integer.toString(validDays),
        "-storetype", "PKCS12", "-keystore", keyStore.toString(), "-storepass", password, "-keypass", password);
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException("keytool failed to generate a certificate: "
            + new String(out, StandardCharsets.UTF_8).trim());
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run keytool: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while generating a certificate", e);
    }
    return load(keyStore, password);
  }

  /**
   * Loads a PKCS12 (or JKS) key store holding one private key and its certificate.
   *
   * @throws IllegalArgumentException when the file cannot be read, the password is wrong or it holds no key
   */
  public static SelfSignedCertificate load(Path keyStore, String password) {
    try {
      KeyStore ks = KeyStore.getInstance(keyStore.toFile(), password.toCharArray()); // PKCS12 or JKS
      for (String alias : Collections.list(ks.aliases())) {
        if (ks.isKeyEntry(alias) && ks.getCertificate(alias) instanceof X509Certificate) {
          return new SelfSignedCertificate(keyStore, password, (X509Certificate) ks.getCertificate(alias));
        }
      }
      throw new IllegalArgumentException("key store " + keyStore + " holds no private key with an X.509 certificate");
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read key store " + keyStore + ": " + e.getMessage(), e);
    }
  }

  /** The key store file (PKCS12). */
  public Path keyStore() {
    return keyStore;
  }

  /** The key store's password (also the key's). */
  public String password() {
    return password;
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /**
   * The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's
   * {@code --ignore-certificate-errors-spki-list} wants it.
   */
  public String spkiSha256() {
    try {
      return Base64.getEncoder().encodeToString(
          MessageDigest.getInstance("SHA-256").digest(certificate.getPublicKey().getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A key store holding this certificate as its one trusted entry (for {@code TransportConfig.trustStore}). */
  public KeyStore trustStore() {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("switchboard", certificate);
      return trust;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot build a trust store: " + e, e);
    }
  }

  /** A client {@link SSLContext} that trusts this certificate only. */
  public SSLContext clientContext() {
    // TransportConfig makes the context trusting a trust store (the URL is only there to build it).
    return TransportConfig.builder().url("https://localhost").trustStore(trustStore()).build().sslContext();
  }
}
