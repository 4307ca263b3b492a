package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a message may hold, refused at the builder with the status a server would answer. */
class MessageTest {
  @Test
  void payload_isCopiedInAndOut() {
    byte[] in = {1, 2, 3};
    Message m = Message.builder("t").payload(in).build();
    in[0] = 9;
    byte[] out = m.payload();
    out[1] = 9;
    assertArrayEquals(new byte[] {1, 2, 3}, m.payload());
    assertEquals(3, m.payloadSize());
    assertEquals(Message.DEFAULT_CONTENT_TYPE, m.contentType());
    assertNull(m.id());
    assertNull(m.time());
  }

  @Test
  void textAndJson_setTheirContentTypes() {
    Message text = Message.text("t", "h\u00e9");
    assertEquals("text/plain; charset=utf-8", text.contentType());
    assertArrayEquals("h\u00e9".getBytes(StandardCharsets.UTF_8), text.payload());
    assertTrue(text.isText());
    assertFalse(text.isJson());
    Message json = Message.builder("t").json("{\"a\":1}").build();
    assertTrue(json.isJson());
    assertFalse(json.isText());
    assertTrue(Message.builder("t").payload(new byte[0], "application/vnd.acme+json; charset=utf-8").build().isJson());
    assertTrue(Message.builder("t").payload(new byte[0], " Text/HTML ").build().isText());
  }

  @Test
  void mediaType_isLowerCaseWithoutParameters() {
    assertEquals("application/json", Message.mediaType(" Application/JSON ; charset=UTF-8"));
    assertEquals("text/plain", Message.mediaType("text/plain"));
    assertEquals("", Message.mediaType(null));
  }

  @Test
  void contentType_isTrimmed_andRefusedWhenNoMessageMayHoldIt() {
    assertEquals("text/csv", Message.builder("t").contentType("  text/csv ").build().contentType());
    assertEquals("a/b;\tq=1", Message.builder("t").contentType("a/b;\tq=1").build().contentType()); // tab is fine
    for (String bad : new String[] {null, "", "   "}) {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.builder("t").contentType(bad));
      assertEquals(Status.UNSUPPORTED_MEDIA_TYPE, e.status());
      assertEquals("unsupported_media_type", e.errorCode());
    }
    SwitchboardException e = assertThrows(SwitchboardException.class,
        () -> Message.builder("t").contentType("text/plain\r\nX-Evil: 1"));
    assertEquals("content type 'text/plain\\u000d\\u000aX-Evil: 1' is not a media type (it contains control characters)",
        e.getMessage());
  }

  @Test
  void headers_refuseNullsEmptyNamesAndControlCharacters_andAreReadOnly() {
    for (String[] bad : new String[][] {{null, "v"}, {"", "v"}, {"n", null}, {"n\n", "v"}, {"n", "v\u0000"}}) {
      SwitchboardException e = assertThrows(SwitchboardException.class,
          () -> Message.builder("t").header(bad[0], bad[1]), String.join("|", String.valueOf(bad[0])));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals("invalid_header", e.errorCode());
    }
    assertTrue(assertThrows(SwitchboardException.class, () -> Message.builder("t").header("", "v"))
        .getMessage().endsWith(" and names non-empty"));
    Map<String, String> given = new LinkedHashMap<>(Map.of("a", "1"));
    Message m = Message.builder("t").header("old", "x").headers(given).build();
    given.put("b", "2");
    assertEquals(Map.of("a", "1"), m.headers()); // replaced, and copied
    assertThrows(UnsupportedOperationException.class, () -> m.headers().put("c", "3"));
  }

  @Test
  void build_validatesTheTopic_eventIsValidatedAtOnce_idMustNotBeEmpty() {
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.builder("a b").build());
    assertEquals("invalid_topic", e.errorCode());
    assertEquals("invalid_event", assertThrows(SwitchboardException.class,
        () -> Message.builder("t").event("no spaces")).errorCode());
    assertThrows(IllegalArgumentException.class, () -> Message.builder("t").id(""));
    assertThrows(NullPointerException.class, () -> Message.builder(null));
    assertThrows(NullPointerException.class, () -> Message.builder("t").payload(null));
  }

  @Test
  void toBuilder_keepsEveryField_andEqualityComparesPayloadBytes() {
    Message m = Message.builder("t").id("7").event("e").text("hi").header("h", "v")
        .time(Instant.parse("2026-01-02T03:04:05Z")).build();
    Message copy = m.toBuilder().build();
    assertEquals(m, copy);
    assertEquals(m.hashCode(), copy.hashCode());
    assertNotEquals(m, m.toBuilder().text("ho").build());
    assertNotEquals(m, m.toBuilder().id("8").build());
    assertEquals("Message{topic=t, id=7, event=e, contentType=text/plain; charset=utf-8, 2 bytes}", m.toString());
  }
}
