package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.webhook.WebhookVerificationException.Reason;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Signing and verification against the published vectors and for every scheme. */
class WebhookSignatureTest {
  private static final Instant NOW = Instant.ofEpochSecond(1_700_000_000L);
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final byte[] BODY = "{\"type\":\"payment.succeeded\",\"amount\": 1200}".getBytes(StandardCharsets.UTF_8);
  private static final String WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  /** One vector of shared/webhook-vectors.json (copied into test resources). */
  record Vector(String name, String scheme, String secret, String signingKey, Map<String, String> headers,
      String body, Long now, boolean valid) {}

  static List<Vector> vectors() throws Exception {
    List<Vector> out = new ArrayList<>();
    try (InputStream in = WebhookSignatureTest.class.getResourceAsStream("/webhook-vectors.json");
         JsonParser p = new JsonFactory().createParser(in)) {
      while (p.nextToken() != null) {
        if (p.currentToken() == JsonToken.FIELD_NAME && p.currentName().equals("vectors")) {
          p.nextToken();
          while (p.nextToken() == JsonToken.START_OBJECT) {
            Map<String, String> f = new HashMap<>();
            Map<String, String> headers = new LinkedHashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
              String name = p.currentName();
              p.nextToken();
              if (name.equals("headers")) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                  String h = p.currentName();
                  p.nextToken();
                  headers.put(h, p.getText());
                }
              } else {
                f.put(name, p.getText());
              }
            }
            out.add(new Vector(f.get("name"), f.get("scheme"), f.get("secret"), f.get("signing_key"), headers,
                f.get("body"), f.get("now") == null ? null : Long.parseLong(f.get("now")),
                Boolean.parseBoolean(f.get("valid"))));
          }
        }
      }
    }
    return out;
  }

  private static Map<String, List<String>> multi(Map<String, String> h) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    h.forEach((k, v) -> m.put(k, List.of(v)));
    return m;
  }

  @Test
  void publishedVectors_verify_andEd25519SigningReproducesTheSignature() throws Exception {
    List<Vector> vs = vectors();
    assertEquals(3, vs.size());
    for (Vector v : vs) {
      byte[] body = v.body().getBytes(StandardCharsets.UTF_8);
      WebhookVerifier.Builder b = v.scheme().equals("github") ? WebhookVerifier.github(v.secret())
          : WebhookVerifier.standardWebhooks(v.secret());
      if (v.now() != null) {
        b.clock(Clock.fixed(Instant.ofEpochSecond(v.now()), ZoneOffset.UTC));
      }
      WebhookVerifier.Verified ok = b.build().verify(multi(v.headers()), body);
      assertTrue(v.valid(), v.name());
      if (v.scheme().equals("standard-webhooks")) {
        assertEquals(v.headers().get("webhook-id"), ok.id(), v.name());
        assertEquals(Instant.ofEpochSecond(v.now()), ok.timestamp());
      }
      if (v.signingKey() != null) {
        Map<String, String> signed = WebhookSigner.standardWebhooks(v.signingKey())
            .sign(v.headers().get("webhook-id"), Instant.ofEpochSecond(v.now()), body);
        assertEquals(v.headers().get("webhook-signature"), signed.get("webhook-signature"), "Ed25519 is deterministic");
      }
    }
  }

  @Test
  void standardWebhooksVector_v1_isReproducedBySigning() {
    Map<String, String> h = WebhookSigner.standardWebhooks(WHSEC)
        .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", Instant.ofEpochSecond(1614265330), "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8));
    assertEquals("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", h.get("webhook-signature"));
  }

  static Stream<Arguments> schemes() {
    return Stream.of(
        Arguments.of("standard v1", WebhookSigner.standardWebhooks(WHSEC), WebhookVerifier.standardWebhooks(WHSEC)),
        Arguments.of("standard v1a", WebhookSigner.standardWebhooks("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="),
            WebhookVerifier.standardWebhooks("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")),
        Arguments.of("standard v1a, 32-byte seed", WebhookSigner.standardWebhooks("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbc="),
            WebhookVerifier.standardWebhooks("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")),
        Arguments.of("github", WebhookSigner.github("gh-secret"), WebhookVerifier.github("gh-secret")),
        Arguments.of("stripe", WebhookSigner.stripe("whsec_stripe"), WebhookVerifier.stripe("whsec_stripe")),
        Arguments.of("slack", WebhookSigner.slack("slack-secret"), WebhookVerifier.slack("slack-secret")),
        Arguments.of("generic", WebhookSigner.hmacSha256Hex("X-Signature", "sha256=", "generic"),
            WebhookVerifier.hmacSha256Hex("X-Signature", "generic").prefix("sha256=")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("schemes")
  void roundTrip_verifies_andATamperedBodyDoesNot(String name, WebhookSigner signer, WebhookVerifier.Builder verifier) {
    WebhookVerifier v = verifier.clock(CLOCK).build();
    Map<String, String> headers = signer.sign("msg_1", NOW, BODY);
    v.verify(multi(headers), BODY);
    byte[] tampered = BODY.clone();
    tampered[tampered.length - 2] ^= 1;
    WebhookVerificationException e = assertThrows(WebhookVerificationException.class, () -> v.verify(multi(headers), tampered));
    assertEquals(Reason.NO_MATCHING_SIGNATURE, e.reason(), name);
    // Re-serialised JSON (same data, other whitespace) is a different body: the classic failure.
    byte[] reserialised = "{\"type\":\"payment.succeeded\",\"amount\":1200}".getBytes(StandardCharsets.UTF_8);
    assertEquals(Reason.NO_MATCHING_SIGNATURE,
        assertThrows(WebhookVerificationException.class, () -> v.verify(multi(headers), reserialised)).reason());
  }

  @Test
  void timestamps_outsideTheTolerance_failBothWays_unlessIgnored() {
    WebhookSigner signer = WebhookSigner.standardWebhooks(WHSEC);
    WebhookVerifier v = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).build();
    Map<String, String> old = signer.sign("m", NOW.minusSeconds(301), BODY);
    Map<String, String> future = signer.sign("m", NOW.plusSeconds(301), BODY);
    WebhookVerificationException e = assertThrows(WebhookVerificationException.class, () -> v.verify(multi(old), BODY));
    assertEquals(Reason.TIMESTAMP_TOO_OLD, e.reason());
    assertTrue(e.getMessage().contains("301 s old"), e.getMessage());
    assertEquals(Reason.TIMESTAMP_TOO_NEW, assertThrows(WebhookVerificationException.class, () -> v.verify(multi(future), BODY)).reason());
    v.verify(multi(signer.sign("m", NOW.minusSeconds(299), BODY)), BODY);
    WebhookVerifier archive = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).ignoreTimestamp().build();
    archive.verify(multi(signer.sign("m", NOW.minus(Duration.ofDays(400)), BODY)), BODY);
    WebhookVerifier wide = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).tolerance(Duration.ofMinutes(10)).build();
    wide.verify(multi(old), BODY);
    // Stripe and Slack check their timestamps too.
    WebhookVerifier stripe = WebhookVerifier.stripe("s").clock(CLOCK).build();
    assertEquals(Reason.TIMESTAMP_TOO_OLD, assertThrows(WebhookVerificationException.class,
        () -> stripe.verify(multi(WebhookSigner.stripe("s").sign(null, NOW.minusSeconds(3600), BODY)), BODY)).reason());
    WebhookVerifier slack = WebhookVerifier.slack("s").clock(CLOCK).build();
    assertEquals(Reason.TIMESTAMP_TOO_NEW, assertThrows(WebhookVerificationException.class,
        () -> slack.verify(multi(WebhookSigner.slack("s").sign(null, NOW.plusSeconds(3600), BODY)), BODY)).reason());
  }

  @Test
  void keyRotation_severalSecretsOnBothSides() {
    String oldKey = WHSEC;
    String newKey = "whsec_" + java.util.Base64.getEncoder().encodeToString("a brand new secret key!!".getBytes(StandardCharsets.UTF_8));
    Map<String, String> both = WebhookSigner.standardWebhooks(oldKey, newKey).sign("m", NOW, BODY);
    assertEquals(2, both.get("webhook-signature").split(" ").length);
    WebhookVerifier.standardWebhooks(newKey).clock(CLOCK).build().verify(multi(both), BODY);
    WebhookVerifier.standardWebhooks(oldKey).clock(CLOCK).build().verify(multi(both), BODY);
    Map<String, String> onlyNew = WebhookSigner.standardWebhooks(newKey).sign("m", NOW, BODY);
    WebhookVerifier.standardWebhooks(oldKey, newKey).clock(CLOCK).build().verify(multi(onlyNew), BODY);
    Map<String, String> stripe = WebhookSigner.stripe("old", "new").sign(null, NOW, BODY);
    assertEquals(2, stripe.get("Stripe-Signature").split(",v1=").length - 1);
    WebhookVerifier.stripe("new").clock(CLOCK).build().verify(multi(stripe), BODY);
  }

  /** A signer built with the old secret and rotating to the new one at SWITCH, and verifiers holding each. */
  record Rotation(String name, WebhookSigner signer, WebhookVerifier.Builder oldOnly, WebhookVerifier.Builder newOnly,
      WebhookVerifier.Builder both, boolean severalSignatures) {}

  private static final Instant SWITCH = NOW.plusSeconds(3600);

  static Stream<Rotation> rotations() {
    String oldStd = WHSEC;
    String newStd = "whsec_" + java.util.Base64.getEncoder().encodeToString("a brand new secret key!!".getBytes(StandardCharsets.UTF_8));
    return Stream.of(
        new Rotation("standard webhooks", WebhookSigner.standardWebhooks(oldStd).rotatingTo(newStd, SWITCH),
            WebhookVerifier.standardWebhooks(oldStd), WebhookVerifier.standardWebhooks(newStd),
            WebhookVerifier.standardWebhooks(oldStd, newStd), true),
        new Rotation("stripe", WebhookSigner.stripe("whsec_old").rotatingTo("whsec_new", SWITCH),
            WebhookVerifier.stripe("whsec_old"), WebhookVerifier.stripe("whsec_new"),
            WebhookVerifier.stripe("whsec_old", "whsec_new"), true),
        new Rotation("github", WebhookSigner.github("old-secret").rotatingTo("new-secret", SWITCH),
            WebhookVerifier.github("old-secret"), WebhookVerifier.github("new-secret"),
            WebhookVerifier.github("old-secret", "new-secret"), false),
        new Rotation("slack", WebhookSigner.slack("old-secret").rotatingTo("new-secret", SWITCH),
            WebhookVerifier.slack("old-secret"), WebhookVerifier.slack("new-secret"),
            WebhookVerifier.slack("old-secret", "new-secret"), false),
        new Rotation("generic", WebhookSigner.hmacSha256Hex("X-Signature", "sha256=", "old-secret").rotatingTo("new-secret", SWITCH),
            WebhookVerifier.hmacSha256Hex("X-Signature", "old-secret").prefix("sha256="),
            WebhookVerifier.hmacSha256Hex("X-Signature", "new-secret").prefix("sha256="),
            WebhookVerifier.hmacSha256Hex("X-Signature", "old-secret", "new-secret").prefix("sha256="), false));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rotations")
  void scheduledRotation_beforeTheSwitch_oldKeyHoldersVerify_andNewOnesTooWhereTheHeaderCarriesSeveral_afterIt_onlyTheNewKey(
      Rotation r) {
    Instant before = SWITCH.minusSeconds(1);
    Map<String, List<String>> early = multi(r.signer().sign("m", before, BODY));
    Map<String, List<String>> late = multi(r.signer().sign("m", SWITCH, BODY));
    Clock beforeClock = Clock.fixed(before, ZoneOffset.UTC);
    Clock lateClock = Clock.fixed(SWITCH, ZoneOffset.UTC);
    r.oldOnly().clock(beforeClock).build().verify(early, BODY);
    r.both().clock(beforeClock).build().verify(early, BODY);
    r.both().clock(lateClock).build().verify(late, BODY);
    r.newOnly().clock(lateClock).build().verify(late, BODY);
    assertEquals(Reason.NO_MATCHING_SIGNATURE, assertThrows(WebhookVerificationException.class,
        () -> r.oldOnly().clock(lateClock).build().verify(late, BODY), "the old key is retired at the switch").reason());
    if (r.severalSignatures()) {
      r.newOnly().clock(beforeClock).build().verify(early, BODY);
    } else {
      assertEquals(Reason.NO_MATCHING_SIGNATURE, assertThrows(WebhookVerificationException.class,
          () -> r.newOnly().clock(beforeClock).build().verify(early, BODY), "one signature: the old key's until the switch")
          .reason());
    }
    IllegalStateException twice = assertThrows(IllegalStateException.class, () -> r.signer().rotatingTo("whsec_b3RoZXI=", NOW));
    assertTrue(twice.getMessage().contains("already scheduled"), twice.getMessage());
  }

  @Test
  void rotatingTo_refusesAnInvalidNewSecret_namingTheProblem() {
    assertThrows(IllegalArgumentException.class, () -> WebhookSigner.github("s").rotatingTo("", SWITCH));
    IllegalArgumentException notStd = assertThrows(IllegalArgumentException.class,
        () -> WebhookSigner.standardWebhooks(WHSEC).rotatingTo("plain", SWITCH));
    assertTrue(notStd.getMessage().contains("whsec_"), notStd.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> WebhookSigner.standardWebhooks(WHSEC).rotatingTo("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=", SWITCH));
  }

  @Test
  void malformedAndMissingHeaders_sayWhichHeader_andNeverTheSecret() {
    WebhookVerifier v = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).build();
    Map<String, String> good = WebhookSigner.standardWebhooks(WHSEC).sign("m", NOW, BODY);
    List<WebhookVerificationException> errors = new ArrayList<>();
    Function<Map<String, String>, WebhookVerificationException> fail = h -> {
      WebhookVerificationException e = assertThrows(WebhookVerificationException.class, () -> v.verify(multi(h), BODY));
      errors.add(e);
      return e;
    };
    Map<String, String> noSig = new LinkedHashMap<>(good);
    noSig.remove("webhook-signature");
    WebhookVerificationException e = fail.apply(noSig);
    assertEquals(Reason.MISSING_HEADER, e.reason());
    assertEquals("missing header webhook-signature", e.getMessage());
    Map<String, String> badTs = new LinkedHashMap<>(good);
    badTs.put("webhook-timestamp", "yesterday");
    assertEquals(Reason.MALFORMED_HEADER, fail.apply(badTs).reason());
    Map<String, String> garbage = new LinkedHashMap<>(good);
    garbage.put("webhook-signature", "garbage");
    assertEquals(Reason.MALFORMED_HEADER, fail.apply(garbage).reason());
    Map<String, String> v2 = new LinkedHashMap<>(good);
    v2.put("webhook-signature", "v2,AAAA");
    assertEquals(Reason.UNKNOWN_VERSION, fail.apply(v2).reason());
    Map<String, String> wrong = WebhookSigner.standardWebhooks("whsec_d3Jvbmcgc2VjcmV0").sign("m", NOW, BODY);
    e = fail.apply(wrong);
    assertEquals(Reason.NO_MATCHING_SIGNATURE, e.reason());
    assertEquals("no_matching_signature", e.code());
    for (WebhookVerificationException x : errors) {
      assertFalse(x.getMessage().contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), x.getMessage());
      assertFalse(x.getMessage().contains(good.get("webhook-signature").substring(3)), x.getMessage());
    }
    // Other schemes
    WebhookVerifier gh = WebhookVerifier.github("s").build();
    assertEquals(Reason.UNKNOWN_VERSION, assertThrows(WebhookVerificationException.class,
        () -> gh.verify(multi(Map.of("X-Hub-Signature-256", "sha1=abcd")), BODY)).reason());
    assertEquals(Reason.MALFORMED_HEADER, assertThrows(WebhookVerificationException.class,
        () -> gh.verify(multi(Map.of("X-Hub-Signature-256", "sha256=zz")), BODY)).reason());
    assertEquals(Reason.MISSING_HEADER, assertThrows(WebhookVerificationException.class,
        () -> gh.verify(multi(Map.of()), BODY)).reason());
    WebhookVerifier stripe = WebhookVerifier.stripe("s").clock(CLOCK).build();
    assertEquals(Reason.MALFORMED_HEADER, assertThrows(WebhookVerificationException.class,
        () -> stripe.verify(multi(Map.of("Stripe-Signature", "v1=abcd")), BODY)).reason());
    assertEquals(Reason.UNKNOWN_VERSION, assertThrows(WebhookVerificationException.class,
        () -> stripe.verify(multi(Map.of("Stripe-Signature", "t=" + NOW.getEpochSecond() + ",v0=abcd")), BODY)).reason());
  }

  @Test
  void headerNames_areCaseInsensitive_andSvixNamesWork() {
    Map<String, String> h = WebhookSigner.standardWebhooks(WHSEC).sign("m", NOW, BODY);
    Map<String, String> upper = new LinkedHashMap<>();
    Map<String, String> svix = new LinkedHashMap<>();
    h.forEach((k, v) -> {
      upper.put(k.toUpperCase(java.util.Locale.ROOT), v);
      svix.put(k.replace("webhook-", "svix-"), v);
    });
    WebhookVerifier v = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).build();
    assertEquals("m", v.verify(multi(upper), BODY).id());
    assertEquals("m", v.verify(multi(svix), BODY).id());
    assertEquals("m", v.verify(name -> upper.get(name.toUpperCase(java.util.Locale.ROOT)), BODY).id());
  }

  @Test
  void signatureEntries_anyOneMatching_verifies_acrossRepeatedHeaders_andPastBadOrUnknownEntries() {
    Map<String, String> h = WebhookSigner.standardWebhooks(WHSEC).sign("m", NOW, BODY);
    String good = h.get("webhook-signature");
    WebhookVerifier v = WebhookVerifier.standardWebhooks(WHSEC).clock(CLOCK).build();
    Map<String, List<String>> repeated = new LinkedHashMap<>();
    h.forEach((k, val) -> repeated.put(k, List.of(val)));
    // A wrong v1, an undecodable v1, an unknown version and extra spaces before the good one; the
    // good one in a second header line.
    repeated.put("Webhook-Signature", List.of("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=  v1,%%% v9,xyz", good));
    repeated.remove("webhook-signature");
    assertEquals("m", v.verify(repeated, BODY).id());
    repeated.put("Webhook-Signature", List.of("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,%%%"));
    assertEquals(Reason.NO_MATCHING_SIGNATURE,
        assertThrows(WebhookVerificationException.class, () -> v.verify(repeated, BODY)).reason());
    repeated.put("Webhook-Signature", List.of(" v9,xyz  v2,abc "));
    assertEquals(Reason.UNKNOWN_VERSION,
        assertThrows(WebhookVerificationException.class, () -> v.verify(repeated, BODY)).reason());
    repeated.put("Webhook-Signature", List.of("v1 ,abc"));
    assertEquals(Reason.MALFORMED_HEADER,
        assertThrows(WebhookVerificationException.class, () -> v.verify(repeated, BODY)).reason());
  }

  @Test
  void badSecrets_areRefusedAtBuildTime_withoutEchoingThem() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WebhookVerifier.standardWebhooks("plain-password-123"));
    assertFalse(e.getMessage().contains("plain-password-123"));
    assertTrue(e.getMessage().contains("whsec_"));
    assertThrows(IllegalArgumentException.class, () -> WebhookVerifier.standardWebhooks("whsec_!!!"));
    assertThrows(IllegalArgumentException.class, () -> WebhookVerifier.standardWebhooks("whpk_AAAA"));
    assertThrows(IllegalArgumentException.class, () -> WebhookSigner.standardWebhooks("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="));
    assertThrows(IllegalArgumentException.class, () -> WebhookVerifier.github());
    assertThrows(IllegalArgumentException.class, () -> WebhookVerifier.github(""));
    assertNull(WebhookVerifier.github("s").build().verify(multi(WebhookSigner.github("s").sign(null, NOW, BODY)), BODY).timestamp());
  }
}
