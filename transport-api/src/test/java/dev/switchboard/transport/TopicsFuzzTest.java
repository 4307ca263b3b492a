package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Fuzz tests of topic, event and id validation ({@link Topics}); the hub module's
 * {@code WirePathsFuzzTest} fuzzes the topic paths the servlet transports parse. In {@code mvn
 * verify} they replay the corpus in {@code TopicsFuzzTestInputs/}; README "Fuzzing" says how to
 * fuzz them.
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
