package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.switchboard.webhook.WebhookVerificationException.Reason;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of signature-header parsing ({@link WebhookVerifier}) for every scheme, and of its
 * agreement with {@link WebhookSigner}. In {@code mvn verify} they replay the corpus in
 * {@code WebhookVerifierFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class WebhookVerifierFuzzTest {
  private static final Instant NOW = Instant.ofEpochSecond(1_700_000_000L);
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final String WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final String WHSK = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbc=";
  private static final String WHPK = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";
  private static final String PLAIN = "s3cr3t";

  private static final List<WebhookVerifier> VERIFIERS = List.of(
      WebhookVerifier.standardWebhooks(WHSEC, WHPK).clock(CLOCK).build(),
      WebhookVerifier.github(PLAIN).build(),
      WebhookVerifier.stripe(PLAIN).clock(CLOCK).build(),
      WebhookVerifier.slack(PLAIN).clock(CLOCK).build(),
      WebhookVerifier.hmacSha256Hex("X-Signature", PLAIN).build());
  private static final List<String> HEADERS = List.of("webhook-id", "webhook-timestamp", "webhook-signature",
      "svix-id", "svix-timestamp", "svix-signature", "X-Hub-Signature-256", "X-GitHub-Delivery",
      "Stripe-Signature", "X-Slack-Signature", "X-Slack-Request-Timestamp", "X-Signature");

  /** Whatever the headers hold, verification fails only with WebhookVerificationException. */
  @FuzzTest(maxDuration = "60s")
  void verify_failsOnlyWithVerificationException(FuzzedDataProvider data) {
    WebhookVerifier verifier = data.pickValue(VERIFIERS);
    Map<String, List<String>> headers = new HashMap<>();
    int n = data.consumeInt(0, 6);
    for (int i = 0; i < n; i++) {
      headers.computeIfAbsent(data.pickValue(HEADERS), k -> new java.util.ArrayList<>())
          .add(data.consumeString(200));
    }
    byte[] body = data.consumeRemainingAsBytes();
    try {
      WebhookVerifier.Verified v = verifier.verify(headers, body);
      // Only a real signature verifies, and these headers were not signed with any secret here
      // (a fuzzer finding an HMAC-SHA256 preimage would be news).
      fail("verified unsigned headers: " + v + " " + headers);
    } catch (WebhookVerificationException e) {
      assertNotNull(e.reason());
      // The message may quote the sender's header, but stays one short line.
      assertTrue(e.getMessage().length() < 300 && e.getMessage().chars().noneMatch(c -> c < 0x20 || c == 0x7f),
          e.getMessage());
    }
  }

  /**
   * What the signer signs verifies, with its id and timestamp; changing the body makes the same
   * headers fail with NO_MATCHING_SIGNATURE.
   */
  @FuzzTest(maxDuration = "60s")
  void signedDeliveries_verify_andTamperedOnesDoNot(FuzzedDataProvider data) {
    int scheme = data.consumeInt(0, 4);
    long skew = data.consumeLong(-300, 300);
    String id = "msg_" + data.consumeString(40).replace(".", "");
    byte[] body = data.consumeRemainingAsBytes();
    WebhookSigner signer = List.of(WebhookSigner.standardWebhooks(WHSEC, WHSK), WebhookSigner.github(PLAIN),
        WebhookSigner.stripe(PLAIN), WebhookSigner.slack(PLAIN), WebhookSigner.hmacSha256Hex("X-Signature", "", PLAIN))
        .get(scheme);
    WebhookVerifier verifier = VERIFIERS.get(scheme);
    Instant sent = NOW.plusSeconds(skew);
    Map<String, String> signed;
    try {
      signed = signer.sign(id, sent, body);
    } catch (IllegalArgumentException e) {
      assertEquals(0, scheme, "only Standard Webhooks ids are checked");
      assertTrue(!id.equals(id.strip()) || id.chars().anyMatch(c -> c < 0x20 || c == 0x7f), id);
      return;
    }
    WebhookVerifier.Verified v = verifier.verify(signed::get, body);
    if (scheme == 0) {
      assertEquals(id, v.id());
    }
    if (scheme == 0 || scheme == 2 || scheme == 3) {
      assertEquals(sent, v.timestamp());
    }
    byte[] tampered = java.util.Arrays.copyOf(body, body.length + 1);
    try {
      verifier.verify(signed::get, tampered);
      fail("a changed body verified");
    } catch (WebhookVerificationException e) {
      assertEquals(Reason.NO_MATCHING_SIGNATURE, e.reason());
    }
  }

  /** Fuzzing found it: an unknown version prefix was echoed whole, control characters included. */
  @Test
  void unknownVersion_messageQuotesAShortPieceOfTheSendersValue() {
    WebhookVerificationException e = assertThrows(WebhookVerificationException.class, () -> VERIFIERS.get(1)
        .verify(Map.of("X-Hub-Signature-256", List.of("sha1\u0001" + "x".repeat(100) + "=ab")), new byte[0]));
    assertEquals(Reason.UNKNOWN_VERSION, e.reason());
    assertEquals("X-Hub-Signature-256 uses 'sha1\\u0001xxxxxxxxxxxxxxx...'; expected 'sha256='", e.getMessage());
  }

  /** Fuzzing found it: an id with a trailing control character was signed, and never verified. */
  @Test
  void signer_refusesIdsTheVerifierCannotReadBackAsSigned() {
    WebhookSigner signer = WebhookSigner.standardWebhooks(WHSEC);
    for (String id : new String[] {"msg_1\u0010", " msg_1", "msg_1 ", "msg\u00011", "msg.1", ""}) {
      assertThrows(IllegalArgumentException.class, () -> signer.sign(id, NOW, new byte[0]), id);
    }
    Map<String, String> ok = signer.sign("msg_\u00e9\u00ce", NOW, new byte[] {1});
    assertEquals("msg_\u00e9\u00ce", VERIFIERS.get(0).verify(ok::get, new byte[] {1}).id());
  }
}
