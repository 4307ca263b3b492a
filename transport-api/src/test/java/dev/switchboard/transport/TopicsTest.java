package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The name and cursor rules every transport applies, at their limits, with the exact errors. */
class TopicsTest {
  private static SwitchboardException refused(Runnable r) {
    SwitchboardException e = assertThrows(SwitchboardException.class, r::run);
    assertEquals(Status.INVALID_ARGUMENT, e.status());
    assertEquals(400, e.status().httpStatus());
    return e;
  }

  @Test
  void topicLength_isOneToTwoHundred() {
    assertEquals("x".repeat(Topics.MAX_LENGTH), Topics.requireValid("x".repeat(Topics.MAX_LENGTH)));
    assertEquals("x", Topics.requireValid("x"));
    assertEquals("invalid_topic", refused(() -> Topics.requireValid("x".repeat(Topics.MAX_LENGTH + 1))).errorCode());
    assertEquals("invalid_topic", refused(() -> Topics.requireValid("")).errorCode());
  }

  @Test
  void topicRefusal_namesTheTopicAndTheRule() {
    SwitchboardException e = refused(() -> Topics.requireValid("a b"));
    assertEquals("invalid topic 'a b': use 1-200 characters of A-Z a-z 0-9 . _ - : (not '.' or '..')",
        e.getMessage());
    assertEquals("invalid topic (none): use 1-200 characters of A-Z a-z 0-9 . _ - : (not '.' or '..')",
        refused(() -> Topics.requireValid(null)).getMessage());
  }

  @Test
  void topicRefusal_quotesAtMostSixtyCharactersOfALongName() {
    String message = refused(() -> Topics.requireValid("y".repeat(1000) + "!")).getMessage();
    assertTrue(message.startsWith("invalid topic '" + "y".repeat(60) + "...': "), message);
  }

  @Test
  void dotNames_areRefused_butDotsInsideNamesAreFine() {
    refused(() -> Topics.requireValid("."));
    refused(() -> Topics.requireValid(".."));
    for (String ok : new String[] {"...", ".a", "a.", "a..b", "prices.ACME:eu-1_x"}) {
      assertTrue(Topics.isValid(ok), ok);
    }
    for (String bad : new String[] {"a/b", "a%2Fb", "a+b", "a#b", "a?b", "é", "a\u0000b", "a\tb"}) {
      assertFalse(Topics.isValid(bad), bad);
    }
  }

  @Test
  void events_followTopicRulesButMayBeAbsent() {
    assertNull(Topics.requireValidEvent(null));
    assertEquals("price.changed", Topics.requireValidEvent("price.changed"));
    SwitchboardException e = refused(() -> Topics.requireValidEvent("price changed"));
    assertEquals("invalid_event", e.errorCode());
    assertTrue(e.getMessage().startsWith("invalid event name 'price changed': use 1-200 characters"), e.getMessage());
    assertEquals("invalid_event", refused(() -> Topics.requireValidEvent("")).errorCode());
  }

  @Test
  void ids_areOneTo128VisibleAsciiCharacters() {
    assertNull(Topics.requireValidId(null));
    String longest = "9".repeat(Topics.MAX_ID_LENGTH);
    assertEquals(longest, Topics.requireValidId(longest));
    assertEquals("0-0:!~", Topics.requireValidId("0-0:!~"));
    for (String bad : new String[] {"", longest + "9", "1 2", "1\u007f", "1\n", "ü"}) {
      SwitchboardException e = refused(() -> Topics.requireValidId(bad));
      assertEquals("invalid_id", e.errorCode(), bad);
      assertTrue(e.getMessage().endsWith(": use the id of a message received (1-128 visible ASCII characters)"),
          e.getMessage());
    }
    assertTrue(refused(() -> Topics.requireValidId("1\n")).getMessage().startsWith("invalid message id '1\\u000a'"));
  }
}
