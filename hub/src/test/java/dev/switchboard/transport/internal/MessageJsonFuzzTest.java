package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonParser;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of the JSON envelope ({@link MessageJson}): what a client reads from a server (history
 * pages, publish responses, error bodies) and what a server accepts as a JSON payload. In
 * {@code mvn verify} they replay the corpus in {@code MessageJsonFuzzTestInputs/}.
 */
class MessageJsonFuzzTest {
  private static final String[] CONTENT_TYPES = {Message.JSON_CONTENT_TYPE, Message.TEXT_CONTENT_TYPE,
      Message.DEFAULT_CONTENT_TYPE, "application/cloudevents+json", "text/csv", "image/png", "text/plain; charset=latin1"};

  /** A server's reply, however broken, becomes a page or a SwitchboardException, nothing else. */
  @FuzzTest(maxDuration = "60s")
  void readPage_returnsPageOrThrowsSwitchboardException(byte[] body) {
    try {
      MessageJson.Page page = MessageJson.readPage(body);
      for (Message m : page.messages()) {
        assertNotNull(m.topic());
      }
    } catch (SwitchboardException e) {
      assertNotNull(e.status());
    }
  }

  /** The same for a publish response and an error body (which never fails: it falls back to the status). */
  @FuzzTest(maxDuration = "60s")
  void readResponseAndError_throwOnlySwitchboardException(FuzzedDataProvider data) {
    int status = data.consumeInt(100, 599);
    byte[] body = data.consumeRemainingAsBytes();
    SwitchboardException e = MessageJson.readError(status, body, null);
    assertEquals(Status.fromHttpStatus(status), e.status());
    assertNotNull(e.errorCode());
    try {
      Message m = MessageJson.readPublishResponse(body, Message.text("t", "x"));
      assertNotNull(m.id());
    } catch (SwitchboardException expected) {
      assertEquals(Status.INTERNAL, expected.status());
    }
  }

  /**
   * A declared-JSON payload is accepted exactly when it is one JSON value in UTF-8, else refused
   * with 400 {@code invalid_json}; an accepted one round-trips through a {@code <msg>} unchanged
   * (but for the white space around it, which is not part of the value).
   */
  @FuzzTest(maxDuration = "60s")
  void requireValidJson_acceptedPayloadsRoundTrip(byte[] payload) {
    try {
      MessageJson.requireValidJson(payload);
    } catch (SwitchboardException e) {
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertEquals("invalid_json", e.errorCode());
      return;
    }
    Message m = Message.builder("t").id("1").payload(payload, Message.JSON_CONTENT_TYPE).build();
    Message back = roundTrip(m);
    assertArrayEquals(trimJsonSpace(payload), back.payload());
  }

  /** Any message a broker can store reads back equal from its {@code <msg>} JSON. */
  @FuzzTest(maxDuration = "60s")
  void message_roundTrips(FuzzedDataProvider data) {
    Message m = message(data);
    Message back = roundTrip(m);
    assertEquals(m.topic(), back.topic());
    assertEquals(m.id(), back.id());
    assertEquals(m.event(), back.event());
    assertEquals(m.contentType(), back.contentType());
    assertEquals(m.time(), back.time());
    assertArrayEquals(m.payload(), back.payload());
    MessageJson.Page page = MessageJson.readPage(MessageJson.historyPage(List.of(m, m), "n", false));
    assertEquals(List.of(back, back), page.messages());
  }

  /** Found by a seed of the fuzz corpus: a page with base64 data that is not base64 threw IllegalArgumentException. */
  @Test
  void readPage_badBase64_isAMalformedResponse() {
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> MessageJson.readPage(
        "{\"messages\":[{\"topic\":\"t\",\"data\":\"!!\",\"encoding\":\"base64\"}]}".getBytes(StandardCharsets.UTF_8)));
    assertEquals(Status.INTERNAL, e.status());
    assertTrue(e.getMessage().contains("not base64"), e.getMessage());
  }

  /** Found by a seed of the fuzz corpus: a page with an empty message id threw IllegalArgumentException. */
  @Test
  void readPage_emptyId_isAMalformedResponse() {
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> MessageJson.readPage(
        "{\"messages\":[{\"topic\":\"t\",\"id\":\"\"}]}".getBytes(StandardCharsets.UTF_8)));
    assertEquals(Status.INTERNAL, e.status());
    assertTrue(e.getMessage().contains("empty id"), e.getMessage());
  }

  /**
   * A stored message from fuzz data: valid topic, event and id; a JSON payload only when it is
   * valid JSON without surrounding white space (what a broker stores after the hub's check).
   */
  static Message message(FuzzedDataProvider data) {
    String topic = "t" + data.consumeString(20).replaceAll("[^A-Za-z0-9._:-]", "");
    String event = data.consumeBoolean() ? "e" + data.consumeString(10).replaceAll("[^A-Za-z0-9._:-]", "") : null;
    String id = "i" + data.consumeString(30).replaceAll("[^\\x21-\\x7e]", "");
    String contentType = data.consumeBoolean() ? data.pickValue(CONTENT_TYPES)
        : data.consumeString(40).replaceAll("[\\x00-\\x1f\\x7f]", "") + "/x";
    Instant time = data.consumeBoolean() ? null : Instant.ofEpochSecond(data.consumeLong(0, 253_402_300_799L),
        data.consumeInt(0, 999_999_999));
    byte[] payload = data.consumeRemainingAsBytes();
    Message m = Message.builder(topic).id(id).event(event).payload(payload, contentType.trim().isEmpty()
        ? Message.DEFAULT_CONTENT_TYPE : contentType).time(time).build();
    if (m.isJson()) {
      try {
        MessageJson.requireValidJson(payload);
        if (!Arrays.equals(payload, trimJsonSpace(payload)) || payload.length == 0) {
          throw new SwitchboardException(Status.INVALID_ARGUMENT, "not stored as is");
        }
      } catch (SwitchboardException e) {
        m = m.toBuilder().payload(payload, Message.DEFAULT_CONTENT_TYPE).build();
      }
    }
    return m;
  }

  private static Message roundTrip(Message m) {
    byte[] json = MessageJson.message(m);
    try (JsonParser p = MessageJson.JSON.createParser(json)) {
      p.nextToken();
      return MessageJson.readMessage(p, json);
    } catch (IOException e) {
      throw new AssertionError(new String(json, StandardCharsets.UTF_8), e);
    }
  }

  static byte[] trimJsonSpace(byte[] b) {
    int start = 0;
    int end = b.length;
    while (start < end && isJsonSpace(b[start])) {
      start++;
    }
    while (end > start && isJsonSpace(b[end - 1])) {
      end--;
    }
    return Arrays.copyOfRange(b, start, end);
  }

  private static boolean isJsonSpace(byte c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  }
}
