package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of the topic paths every servlet transport parses ({@link WirePaths}) and of how they
 * meet topic validation. In {@code mvn verify} they replay the corpus in
 * {@code WirePathsFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class WirePathsFuzzTest {

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
      assertEquals("invalid_topic",
          assertThrows(SwitchboardException.class, () -> Topics.requireValid(topic)).errorCode());
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

  private static void assertNoControl(String message) {
    assertTrue(message.chars().noneMatch(c -> c < 0x20 || c == 0x7f), message);
  }
}
