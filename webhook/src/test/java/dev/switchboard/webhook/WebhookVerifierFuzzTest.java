package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
      assertNotNull(e.getMessage());
      assertTrue(!e.getMessage().contains(PLAIN) && !e.getMessage().contains(WHSEC), e.getMessage());
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
    Map<String, String> signed = signer.sign(id, sent, body);
    WebhookVerifier.Verified v = verifier.verify(signed::get, body);
    if (scheme == 0) {
      assertEquals(id.trim(), v.id());
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
}
