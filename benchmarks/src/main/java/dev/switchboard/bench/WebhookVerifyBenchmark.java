package dev.switchboard.bench;

import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Standard Webhooks verification of a 1 KiB body: Switchboard against a bare {@link Mac} computation
 * (fresh and reused) and the reference Java libraries, in one run.
 *
 * <p>{@code java -cp benchmarks/target/switchboard-benchmarks.jar org.openjdk.jmh.Main WebhookVerifyBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class WebhookVerifyBenchmark {
  static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  byte[] body;
  String bodyText;
  Map<String, List<String>> headers;
  byte[] signedPrefix;
  byte[] key;
  byte[] expected;
  WebhookVerifier switchboard;
  com.standardwebhooks.Webhook standardWebhooks;
  com.svix.Webhook svix;

  /** A reused, initialised Mac per thread: the cheapest possible computation. */
  @State(Scope.Thread)
  public static class ThreadMac {
    Mac mac;

    @Setup
    public void setUp(WebhookVerifyBenchmark b) throws Exception {
      mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(b.key, "HmacSHA256"));
    }
  }

  @Setup
  public void setUp() throws Exception {
    StringBuilder sb = new StringBuilder("{\"type\":\"payment.succeeded\",\"data\":\"");
    while (sb.length() < 1022) {
      sb.append('x');
    }
    bodyText = sb.append("\"}").toString();
    body = bodyText.getBytes(StandardCharsets.UTF_8);
    Map<String, String> h = WebhookSigner.standardWebhooks(SECRET).sign("msg_bench", Instant.now(), body);
    headers = new LinkedHashMap<>();
    h.forEach((k, v) -> headers.put(k, List.of(v)));
    signedPrefix = ("msg_bench." + h.get("webhook-timestamp") + ".").getBytes(StandardCharsets.UTF_8);
    key = Base64.getDecoder().decode(SECRET.substring("whsec_".length()));
    expected = Base64.getDecoder().decode(h.get("webhook-signature").substring(3));
    switchboard = WebhookVerifier.standardWebhooks(SECRET).build();
    standardWebhooks = new com.standardwebhooks.Webhook(SECRET);
    svix = new com.svix.Webhook(SECRET);
  }

  @Benchmark
  public boolean bareMacFresh() throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    mac.update(signedPrefix);
    return MessageDigest.isEqual(expected, mac.doFinal(body));
  }

  @Benchmark
  public boolean bareMacReused(ThreadMac t) {
    t.mac.update(signedPrefix);
    return MessageDigest.isEqual(expected, t.mac.doFinal(body));
  }

  @Benchmark
  public Object switchboard() {
    return switchboard.verify(headers, body);
  }

  @Benchmark
  public Object standardWebhooksLibrary() throws Exception {
    standardWebhooks.verify(bodyText, headers);
    return standardWebhooks;
  }

  @Benchmark
  public Object svixLibrary() throws Exception {
    svix.verify(bodyText, headers);
    return svix;
  }
}
