package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.switchboard.transport.internal.WirePaths;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of topic, event and id validation ({@link Topics}) and of the topic paths every servlet
 * transport parses ({@link WirePaths}). In {@code mvn verify} they replay the corpus in
 * {@code TopicsFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class TopicsFuzzTest {
  private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._:-]{1,200}");

  /**
   * Validation agrees with the documented grammar, fails only with the documented 400s, and never
   * echoes a control character into a message that ends up in logs and error bodies.
   */
  @FuzzTest(maxDuration = "60s")
  void validation_followsTheGrammar(byte[] utf8) {
    String s = new String(utf8, StandardCharsets.UTF_8);
    boolean valid = TOPIC.matcher(s).matches() && !s.equals(".") && !s.equals("..");
    assertEquals(valid, Topics.isValid(s), s);
    if (valid) {
      assertEquals(s, Topics.requireValid(s));
      assertEquals(s, Topics.requireValidEvent(s));
    } else {
      expect400("invalid_topic", () -> Topics.requireValid(s));
      expect400("invalid_event", () -> Topics.requireValidEvent(s));
    }
    boolean validId = !s.isEmpty() && s.length() <= Topics.MAX_ID_LENGTH && s.chars().allMatch(c -> c >= 0x21 && c <= 0x7e);
    if (validId) {
      assertEquals(s, Topics.requireValidId(s));
    } else {
      expect400("invalid_id", () -> Topics.requireValidId(s));
    }
  }

  /**
   * A raw request path either is not a topic path (null), or splits into percent-decoded segments
   * that re-encode to the same path, or is refused with 400 {@code invalid_path}; a topic segment
   * that decodes to {@code .} or {@code ..} (also spelled {@code %2e}) never passes topic validation.
   */
  @FuzzTest(maxDuration = "60s")
  void topicPath_decodesOrRefuses(byte[] utf8) {
    String base = "";
    String raw = new String(utf8, StandardCharsets.UTF_8);
    List<String> segments;
    try {
      segments = WirePaths.topicPath(raw, base);
    } catch (SwitchboardException e) {
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals("invalid_path", e.errorCode());
      assertNoControl(e.getMessage());
      return;
    }
    if (segments == null) {
      assertFalse(raw.startsWith(base + "/v1/topics/"), raw);
      return;
    }
    assertFalse(segments.isEmpty());
    String rest = raw.substring(base.length() + "/v1/topics/".length());
    assertEquals(rest.split("/", -1).length, segments.size());
    for (String segment : segments) {
      // Decoding then encoding every byte again gives a path that decodes to the same segment.
      assertEquals(segment, WirePaths.percentDecode(encodeAll(segment)));
    }
    String topic = segments.get(0);
    if (topic.equals(".") || topic.equals("..")) {
      expect400("invalid_topic", () -> Topics.requireValid(topic));
    }
  }

  /** Percent-decoding inverts percent-encoding for every string that is valid Unicode. */
  @FuzzTest(maxDuration = "60s")
  void percentDecode_invertsEncoding(FuzzedDataProvider data) {
    String s = data.consumeRemainingAsString();
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    if (!new String(utf8, StandardCharsets.UTF_8).equals(s)) {
      return; // an unpaired surrogate: not a string any client can send
    }
    assertEquals(s, WirePaths.percentDecode(encodeAll(s)));
  }

  @Test
  void dotSegments_areRefusedAsTopics_alsoPercentEncoded() {
    for (String raw : new String[] {".", "..", "%2e", "%2E", "%2e%2E", ".%2e", "%2E."}) {
      String topic = WirePaths.topicPath("/v1/topics/" + raw + "/messages", "").get(0);
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> Topics.requireValid(topic), raw);
      assertEquals("invalid_topic", e.errorCode());
      assertEquals(400, e.status().httpStatus());
    }
    assertTrue(Topics.isValid("..."));
    assertTrue(Topics.isValid(".a"));
    assertTrue(Topics.isValid("a.."));
    assertFalse(Topics.isValid("."));
    assertFalse(Topics.isValid(".."));
    assertNull(WirePaths.topicPath("/v1/topicsX/a", ""));
  }

  /** Fuzzing found it: the 400 for a broken escape echoed the raw segment, a newline included. */
  @Test
  void brokenEscape_isRefused_withControlCharactersEscapedInTheMessage() {
    SwitchboardException e = assertThrows(SwitchboardException.class,
        () -> WirePaths.topicPath("/v1/topics/f%\n", ""));
    assertEquals("invalid_path", e.errorCode());
    assertEquals("path segment is not valid percent-encoded UTF-8: 'f%\\u000a'", e.getMessage());
  }

  private static String encodeAll(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      b.append('%').append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
    }
    return b.toString();
  }

  private static void expect400(String code, Runnable r) {
    try {
      r.run();
      fail("expected " + code);
    } catch (SwitchboardException e) {
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals(code, e.errorCode());
      assertNoControl(e.getMessage());
    }
  }

  private static void assertNoControl(String message) {
    assertTrue(message.chars().noneMatch(c -> c < 0x20 || c == 0x7f), message);
  }
}
