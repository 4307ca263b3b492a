package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.MessageJson;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The one validation of a draft, from Java ({@link Hub#publish(Message)}): the transports' tests
 * prove the same rules hold on their paths.
 */
class PublishRulesTest {
  /** A payload that, pasted raw into a history page, makes REST readers see a second message. */
  static final String FORGED = "1,\"time\":\"2024-01-01T00:00:00Z\"},{\"id\":\"forged-1\",\"topic\":\"prices\","
      + "\"contentType\":\"text/plain\",\"data\":\"pwned\"";

  private final Hub hub = Hub.builder().broker(new InMemoryBroker(100)).maxPayloadBytes(4096).build();

  @AfterEach
  void stop() {
    hub.shutdown();
  }

  private Message ok(Message draft) {
    return hub.publish(draft).toCompletableFuture().join();
  }

  private SwitchboardException refused(Message draft) {
    CompletionException e = assertThrows(CompletionException.class, () -> hub.publish(draft).toCompletableFuture().join());
    assertTrue(e.getCause() instanceof SwitchboardException, String.valueOf(e.getCause()));
    SwitchboardException s = (SwitchboardException) e.getCause();
    assertTrue(s.getMessage() != null && !s.getMessage().isBlank(), "the error says what is wrong");
    return s;
  }

  private void assertRefused(Message draft, Status status, String code) {
    SwitchboardException e = refused(draft);
    assertEquals(status, e.status(), e.toString());
    assertEquals(code, e.errorCode(), e.toString());
  }

  @Test
  void headerLimits_areHubSettings() {
    Hub strict = Hub.builder().broker(new InMemoryBroker(100)).maxHeaders(2).maxHeaderBytes(10).build();
    try {
      strict.publish(Message.builder("t").text("x").header("a", "1").header("b", "2").build()).toCompletableFuture().join();
      CompletionException count = assertThrows(CompletionException.class, () -> strict.publish(Message.builder("t")
          .text("x").header("a", "1").header("b", "2").header("c", "3").build()).toCompletableFuture().join());
      assertEquals("too_many_headers", ((SwitchboardException) count.getCause()).errorCode());
      CompletionException size = assertThrows(CompletionException.class, () -> strict.publish(Message.builder("t")
          .text("x").header("a", "0123456789").build()).toCompletableFuture().join());
      assertEquals("headers_too_large", ((SwitchboardException) size.getCause()).errorCode());
    } finally {
      strict.shutdown();
    }
    assertThrows(IllegalArgumentException.class, () -> Hub.builder().maxHeaders(-1));
    assertThrows(IllegalArgumentException.class, () -> Hub.builder().maxHeaderBytes((1 << 20) + 1));
  }

  private static Message bytes(byte[] payload, String contentType) {
    return Message.builder("t").payload(payload, contentType).build();
  }

  private static Message json(String text) {
    return Message.builder("t").json(text).build();
  }

  @Test
  void json_mustBeExactlyOneValueInUtf8() {
    for (String good : List.of("{}", "[1,2]", "\"s\"", "12.5", "true", "null", " {\"a\":[{\"b\":\"\\u00e9\"}]} \n")) {
      ok(json(good));
    }
    for (String bad : List.of("{bad", FORGED, "{} {}", "{}x", "", "   ", "[1,]", "{'a':1}", "{a:1}", "[01]",
        "NaN", "[\"\\q\"]", "[\"a\u0001b\"]", "/* c */ 1", "123abc")) {
      assertRefused(json(bad), Status.INVALID_ARGUMENT, "invalid_json");
    }
    assertRefused(bytes(bytes("[".repeat(300) + "]".repeat(300)), "application/json"),
        Status.INVALID_ARGUMENT, "invalid_json");
    // Not UTF-8, a byte order mark, UTF-16 (which the parser alone would accept), a lone surrogate.
    assertRefused(bytes(new byte[] {'"', (byte) 0xff, '"'}, "application/json"), Status.INVALID_ARGUMENT, "invalid_json");
    assertRefused(bytes(new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf, '{', '}'}, "application/json"),
        Status.INVALID_ARGUMENT, "invalid_json");
    assertRefused(bytes("{}".getBytes(StandardCharsets.UTF_16BE), "application/json"), Status.INVALID_ARGUMENT, "invalid_json");
    assertRefused(bytes(new byte[] {'"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"'}, "application/json"),
        Status.INVALID_ARGUMENT, "invalid_json");
    // Every JSON content type, parameters and all.
    assertRefused(bytes(bytes("{bad"), "application/problem+json"), Status.INVALID_ARGUMENT, "invalid_json");
    assertRefused(bytes(bytes("{bad"), "Application/JSON; charset=utf-8"), Status.INVALID_ARGUMENT, "invalid_json");
    ok(bytes(bytes("{\"ok\":1}"), "application/vnd.thing+json; charset=UTF-8"));
    // Whatever was refused, history stays one JSON document whose every message embeds as given.
    List<Message> stored = hub.broker().history("t", null, 100).toCompletableFuture().join().messages();
    MessageJson.Page page = MessageJson.readPage(MessageJson.historyPage(stored, null, true));
    assertEquals(8, page.messages().size());
    assertTrue(page.messages().stream().noneMatch(m -> "forged-1".equals(m.id())));
  }

  @Test
  void text_mustBeUtf8() {
    ok(bytes(bytes("héllo ✓ 😀"), "text/plain; charset=utf-8"));
    ok(bytes(new byte[0], "text/csv"));
    assertRefused(bytes(new byte[] {'a', (byte) 0xff}, "text/plain"), Status.INVALID_ARGUMENT, "invalid_text");
    assertRefused(bytes(new byte[] {(byte) 0xc0, (byte) 0xaf}, "text/plain"), Status.INVALID_ARGUMENT, "invalid_text");
    assertRefused(bytes(new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, "text/html"), Status.INVALID_ARGUMENT, "invalid_text");
    assertRefused(bytes(new byte[] {(byte) 0xe2, (byte) 0x82}, "text/plain"), Status.INVALID_ARGUMENT, "invalid_text");
    assertRefused(bytes(bytes("x"), "text/plain; charset=iso-8859-1"), Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_charset");
    assertRefused(bytes(bytes("{}"), "application/json; charset=\"utf-16\""), Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_charset");
    ok(bytes(bytes("x"), "text/plain; charset=US-ASCII"));
    // Binary is binary, whatever its bytes or charset parameter.
    ok(bytes(new byte[] {0, (byte) 0xff}, "application/octet-stream"));
    ok(bytes(new byte[] {(byte) 0xff}, "application/xml; charset=iso-8859-1"));
  }

  @Test
  void contentType_mustBeAMediaTypeOfAtMost255Characters() {
    for (String good : List.of("a/b", "application/vnd.api+json", "text/plain;charset=utf-8",
        "text/plain ; charset=utf-8 ; format=flowed", "multipart/mixed; boundary=\"a b;c\\\"d\"", "x/y;",
        "application/x-www-form-urlencoded")) {
      ok(bytes(bytes("1"), good)); // valid as text and as JSON
    }
    String longest = "application/" + "x".repeat(255 - "application/".length());
    ok(bytes(bytes("x"), longest));
    for (String bad : List.of("garbage", "text/", "/plain", "text /plain", "text/plain x", "a/b/c", "a/b; c",
        "a/b; c=", "a/b; c=\"open", "a/b; c=d e", "té/xt", "a/b; c=\"é\"", longest + "x", "x/" + "y".repeat(9998))) {
      assertRefused(bytes(bytes("x"), bad), Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    // Control characters are refused by the builder already, as a client error (never an internal one).
    for (String bad : List.of("text/plain\r\nX-Evil: 1", "text/plain\u0000", "a/b\u007f", " ")) {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.builder("t").contentType(bad));
      assertEquals(Status.UNSUPPORTED_MEDIA_TYPE, e.status());
      assertEquals("unsupported_media_type", e.errorCode());
    }
  }

  @Test
  void headers_areBoundedInCountAndBytes_withTokenNames() {
    Map<String, String> h = new LinkedHashMap<>();
    for (int i = 0; i < PublishRules.DEFAULT_MAX_HEADERS; i++) {
      h.put("h" + i, "v");
    }
    ok(Message.builder("t").text("x").headers(h).build());
    h.put("one-more", "v");
    assertRefused(Message.builder("t").text("x").headers(h).build(), Status.INVALID_ARGUMENT, "too_many_headers");

    String big = "é".repeat(PublishRules.DEFAULT_MAX_HEADER_BYTES / 2 - 1); // 2 bytes each in UTF-8
    ok(Message.builder("t").text("x").header("a", big).build());
    assertRefused(Message.builder("t").text("x").header("a", big).header("b", "xy").build(),
        Status.INVALID_ARGUMENT, "headers_too_large");

    ok(Message.builder("t").text("x").header("X-Trace_id.1!#$%&'*+^`|~", "any text, even ünïcode\t").build());
    for (String name : List.of("a b", "a:b", "a/b", "ünï", "(x)")) {
      assertRefused(Message.builder("t").text("x").header(name, "v").build(), Status.INVALID_ARGUMENT, "invalid_header");
    }
    for (String[] bad : List.of(new String[] {"a\u0001", "v"}, new String[] {"", "v"}, new String[] {"a", "v\r\n"},
        new String[] {"a", "\u0000"})) {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.builder("t").header(bad[0], bad[1]));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals("invalid_header", e.errorCode());
    }
  }

  @Test
  void payloadLimit_andEventRules_areAsBefore() {
    ok(bytes(new byte[4096], "application/octet-stream"));
    assertRefused(bytes(new byte[4097], "application/octet-stream"), Status.PAYLOAD_TOO_LARGE, "payload_too_large");
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.builder("t").event("a b"));
    assertEquals("invalid_event", e.errorCode());
    ok(Message.builder("t").event("price.changed").text("x").build());
  }

  @Test
  void aRefusedPublish_storesNothing() {
    refused(json("{bad"));
    refused(bytes(bytes("x"), "garbage"));
    assertEquals(0, hub.broker().history("t", null, 10).toCompletableFuture().join().messages().size());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
