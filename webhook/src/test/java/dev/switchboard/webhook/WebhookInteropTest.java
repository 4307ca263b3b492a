package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Interoperability with the official libraries of each scheme, through Node ({@code src/test/node}:
 * {@code standardwebhooks}, {@code svix}, {@code @octokit/webhooks-methods}, {@code stripe}, and
 * Slack's documented base string), both ways: their receivers verify what {@link WebhookSender} sends
 * over HTTP, before and after a scheduled rotation; what they sign passes {@link WebhookVerifier}, and
 * tampered, stale, future and wrongly-keyed deliveries fail with the right reason; the published vectors
 * ({@code webhook-vectors.json}) that they can check pass both them and {@link WebhookVerifier}.
 *
 * <p>Needs the system {@code node} (20+) and {@code npm ci --prefix webhook/src/test/node}; skipped
 * with a message saying so where they are missing, unless {@code SWITCHBOARD_REQUIRE_NODE} is set
 * ({@code .ci/run} sets it), which makes it fail instead.
 */
// A separate thread: a blocked read of a Node process's pipe would not notice an interrupt.
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WebhookInteropTest {
  static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
  static final byte[] BODY = "{\"type\":\"price.updated\",\"data\":{\"symbol\":\"EUR€\",\"price\":1.0845}}"
      .getBytes(StandardCharsets.UTF_8);

  /** Old and new secret of each scheme, as the receivers and the sender hold them. */
  static final Map<String, String[]> SECRETS = Map.of(
      "standard", new String[] {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_YSBicmFuZCBuZXcgc2VjcmV0IGtleSEh"},
      "stripe", new String[] {"whsec_stripe_old", "whsec_stripe_new"},
      "github", new String[] {"gh-old-secret", "gh-new-secret"},
      "slack", new String[] {"slack-old-secret", "slack-new-secret"},
      "generic", new String[] {"generic-old-secret", "generic-new-secret"});

  /** A receiver of receiver.mjs and the scheme its library verifies. */
  record Receiver(String name, String scheme) {}

  static final List<Receiver> RECEIVERS = List.of(new Receiver("standardwebhooks", "standard"),
      new Receiver("svix", "standard"), new Receiver("stripe", "stripe"), new Receiver("octokit", "github"),
      new Receiver("slack", "slack"), new Receiver("octokit-generic", "generic"));

  /** The node executable, after skipping (or, with SWITCHBOARD_REQUIRE_NODE, failing) where it cannot run. */
  static String requireNode() {
    String node = null;
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, "node"))) {
        node = Path.of(dir, "node").toString();
        break;
      }
    }
    String missing = node == null ? "no 'node' on the PATH (install Node.js 20+)"
        : !Files.isDirectory(NODE_DIR.resolve("node_modules/standardwebhooks"))
            ? "no webhook/src/test/node/node_modules (run: npm ci --prefix webhook/src/test/node)"
            : null;
    if (missing != null && System.getenv("SWITCHBOARD_REQUIRE_NODE") != null) {
      throw new AssertionError("the webhook interop tests need Node here: " + missing);
    }
    if (missing != null) {
      System.err.println("WebhookInteropTest: the interop tests with the official libraries are SKIPPED: " + missing);
    }
    Assumptions.assumeTrue(missing == null, "webhook interop tests skipped: " + missing);
    return node;
  }

  static WebhookSigner signer(String scheme, Instant switchAt) {
    String[] s = SECRETS.get(scheme);
    WebhookSigner old = switch (scheme) {
      case "standard" -> WebhookSigner.standardWebhooks(s[0]);
      case "stripe" -> WebhookSigner.stripe(s[0]);
      case "github" -> WebhookSigner.github(s[0]);
      case "slack" -> WebhookSigner.slack(s[0]);
      default -> WebhookSigner.hmacSha256Hex("X-Signature", "sha256=", s[0]);
    };
    return old.rotatingTo(s[1], switchAt);
  }

  @Test
  void officialReceivers_verifySenderDeliveries_beforeAndAfterAScheduledRotation() throws Exception {
    String node = requireNode();
    StringBuilder config = new StringBuilder("{");
    SECRETS.forEach((scheme, s) -> config.append(config.length() > 1 ? "," : "").append('"').append(scheme)
        .append("\":{\"old\":\"").append(s[0]).append("\",\"new\":\"").append(s[1]).append("\"}"));
    config.append('}');
    Process p = new ProcessBuilder(node, "receiver.mjs", config.toString()).directory(NODE_DIR.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    List<String> requests = new CopyOnWriteArrayList<>();
    Map<String, WebhookSender.Attempt> attempts = new ConcurrentHashMap<>();
    // Not closed here: the drain thread reads it until receiver.mjs exits.
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    try (WebhookSender sender = WebhookSender.builder().allowPrivateTargets(true).jitter(0).timeout(Duration.ofSeconds(20))
             .listener(new WebhookSender.Listener() {
               @Override
               public void onAttempt(WebhookSender.Attempt a) {
                 attempts.put(a.endpointId(), a);
               }
             }).build()) {
      String first = out.readLine();
      assertTrue(first != null && first.startsWith("{\"port\":"), "receiver.mjs did not start: " + first);
      int port = Integer.parseInt(first.replaceAll("\\D", ""));
      Thread drain = new Thread(() -> out.lines().forEach(requests::add), "receiver.mjs stdout");
      drain.setDaemon(true);
      drain.start();

      Instant now = Instant.now();
      Map<String, Integer> expected = new LinkedHashMap<>();
      for (Receiver r : RECEIVERS) {
        boolean severalSignatures = r.scheme().equals("standard") || r.scheme().equals("stripe");
        for (String phase : List.of("before", "after")) {
          // The switch an hour ahead (attempts are signed before it) or an hour ago (after it).
          WebhookSigner signer = signer(r.scheme(), phase.equals("before") ? now.plusSeconds(3600) : now.minusSeconds(3600));
          for (String holds : List.of("old", "new", "both")) {
            String id = r.name() + "-" + phase + "-switch-holding-" + holds;
            boolean verifies = holds.equals("both") || holds.equals(phase.equals("before") ? "old" : "new")
                || (holds.equals("new") && severalSignatures);
            expected.put(id, verifies ? 204 : 401);
            sender.register(id, URI.create("http://127.0.0.1:" + port + "/" + r.name() + "/" + holds), signer);
            sender.send(id, BODY, "application/json");
          }
        }
      }
      for (int i = 0; i < 5 && attempts.size() < expected.size(); i++) {
        sender.runDue().get(60, TimeUnit.SECONDS);
      }
      List<String> wrong = new ArrayList<>();
      expected.forEach((id, status) -> {
        WebhookSender.Attempt a = attempts.get(id);
        if (a == null || a.status() != status) {
          wrong.add(id + ": expected " + status + ", got " + (a == null ? "no attempt" : a.status() + " " + a.error()));
        }
      });
      assertEquals(List.of(), wrong, "receivers' log:\n" + String.join("\n", requests));
    } finally {
      p.getOutputStream().close(); // receiver.mjs exits when its stdin ends
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }

  @Test
  void librarySignedDeliveries_passWebhookVerifier_andTamperedStaleFutureAndWrongKeyedOnesFail() throws Exception {
    String node = requireNode();
    Process p = new ProcessBuilder(node, "sign.mjs").directory(NODE_DIR.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "sign.mjs did not finish");
    assertEquals(0, p.exitValue(), "sign.mjs failed: " + new String(out, StandardCharsets.UTF_8));
    Map<?, ?> result;
    try (JsonParser parser = new JsonFactory().createParser(out)) {
      parser.nextToken();
      result = (Map<?, ?>) read(parser);
    }
    Clock clock = Clock.fixed(Instant.ofEpochSecond(((Number) result.get("now")).longValue()), ZoneOffset.UTC);
    List<?> cases = (List<?>) result.get("cases");
    List<String> wrong = new ArrayList<>();
    TreeSet<String> outcomes = new TreeSet<>();
    for (Object o : cases) {
      Map<?, ?> c = (Map<?, ?>) o;
      String name = (String) c.get("name");
      String expect = (String) c.get("expect");
      String[] secrets = ((List<?>) c.get("secrets")).toArray(String[]::new);
      Map<String, List<String>> headers = new LinkedHashMap<>();
      ((Map<?, ?>) c.get("headers")).forEach((k, v) -> headers.put((String) k, List.of((String) v)));
      WebhookVerifier.Builder b = switch ((String) c.get("scheme")) {
        case "standard" -> WebhookVerifier.standardWebhooks(secrets);
        case "stripe" -> WebhookVerifier.stripe(secrets);
        case "github" -> WebhookVerifier.github(secrets);
        case "slack" -> WebhookVerifier.slack(secrets);
        default -> WebhookVerifier.hmacSha256Hex("X-Signature", secrets).prefix("sha256=");
      };
      if (Boolean.FALSE.equals(c.get("library"))) {
        wrong.add(name + ": the official library disagrees with the published vector");
      }
      Clock at = c.containsKey("now")
          ? Clock.fixed(Instant.ofEpochSecond(((Number) c.get("now")).longValue()), ZoneOffset.UTC) : clock;
      String got;
      try {
        b.clock(at).build().verify(headers, ((String) c.get("body")).getBytes(StandardCharsets.UTF_8));
        got = "ok";
      } catch (WebhookVerificationException e) {
        got = e.code();
      }
      outcomes.add(expect);
      if (!got.equals(expect)) {
        wrong.add(name + ": expected " + expect + ", got " + got);
      }
    }
    assertEquals(List.of(), wrong);
    assertTrue(cases.size() >= 30, "sign.mjs produced only " + cases.size() + " cases");
    assertEquals("[no_matching_signature, ok, timestamp_too_new, timestamp_too_old]", outcomes.toString());
  }

  /** A JSON value as Map, List, String, Number, Boolean or null. */
  private static Object read(JsonParser p) throws IOException {
    switch (p.currentToken()) {
      case START_OBJECT: {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          p.nextToken();
          m.put(name, read(p));
        }
        return m;
      }
      case START_ARRAY: {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          l.add(read(p));
        }
        return l;
      }
      case VALUE_STRING: return p.getText();
      case VALUE_NUMBER_INT: case VALUE_NUMBER_FLOAT: return p.getNumberValue();
      case VALUE_TRUE: case VALUE_FALSE: return p.getBooleanValue();
      default: return null;
    }
  }
}
