package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonParser;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Fuzz tests of the {@code switchboard.v1.json} frames ({@link WsProtocol}): what the server reads
 * from a client and what the client reads from a server. In {@code mvn verify} they replay the corpus
 * in {@code WsProtocolFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class WsProtocolFuzzTest {
  /**
   * Server side: a client's text frame is a frame or a {@link WsProtocol.BadFrame} (answered with an
   * error frame); a publish becomes a draft or a client error (4xx), never an internal one.
   */
  @FuzzTest(maxDuration = "60s")
  void clientFrames_parseOrAreRefusedAsClientErrors(byte[] utf8) {
    String text = new String(utf8, StandardCharsets.UTF_8);
    WsProtocol.ClientFrame frame;
    try {
      frame = WsProtocol.parseClient(text);
    } catch (WsProtocol.BadFrame e) {
      assertEquals(Status.INVALID_ARGUMENT, e.error.status());
      return;
    }
    assertNotNull(frame);
    if (!(frame instanceof WsProtocol.Publish f) || f.topic() == null) {
      return;
    }
    try {
      Message draft = WsProtocol.payload(Message.builder(Topics.requireValid(f.topic()))
          .event(Topics.requireValidEvent(f.event())), f).build();
      assertEquals(f.topic(), draft.topic());
    } catch (WsProtocol.BadFrame e) {
      assertEquals(Status.INVALID_ARGUMENT, e.error.status());
    } catch (SwitchboardException e) {
      int status = e.status().httpStatus();
      assertTrue(status >= 400 && status < 500, e.toString());
    }
  }

  /**
   * Client side: a server's frame is a frame or a BadFrame; a message frame is read (as the client
   * does) into a message or fails with IOException or SwitchboardException, which the client logs
   * and skips; an error frame's status maps to a Status.
   */
  @FuzzTest(maxDuration = "60s")
  void serverFrames_readOrFailWithDocumentedExceptions(byte[] utf8) {
    String text = new String(utf8, StandardCharsets.UTF_8);
    WsProtocol.ServerFrame f;
    try {
      f = WsProtocol.parseServer(text);
    } catch (WsProtocol.BadFrame e) {
      return;
    }
    if (f instanceof WsProtocol.ErrorFrame e) {
      assertNotNull(e.error().status());
    }
    if (f instanceof WsProtocol.MessageFrame mf) {
      try (JsonParser p = MessageJson.JSON.createParser(mf.raw())) {
        p.nextToken();
        Message m = MessageJson.readMessage(p, mf.raw());
        assertNotNull(m.topic());
      } catch (IOException | SwitchboardException expected) {
        // skipped by the client as a malformed message frame
      }
    }
  }

  /** A publish frame the client writes reads back on the server as the same draft. */
  @FuzzTest(maxDuration = "60s")
  void publishFrames_roundTrip(FuzzedDataProvider data) throws Exception {
    Message m = message(data);
    String ref = "r" + data.consumeString(20);
    WsProtocol.Publish f = (WsProtocol.Publish) WsProtocol.parseClient(WsProtocol.publish(m, ref));
    assertEquals(ref, f.ref());
    Message back = WsProtocol.payload(Message.builder(f.topic()).event(f.event()), f).build();
    assertEquals(m.topic(), back.topic());
    assertEquals(m.event(), back.event());
    assertEquals(m.contentType(), back.contentType());
    assertArrayEquals(m.payload(), back.payload());
  }

  /** A message frame the server writes reads back on the client as the same message. */
  @FuzzTest(maxDuration = "60s")
  void messageFrames_roundTrip(FuzzedDataProvider data) throws Exception {
    Message m = message(data).toBuilder().id("i" + data.consumeString(30).replaceAll("[^\\x21-\\x7e]", "")).build();
    WsProtocol.MessageFrame f = (WsProtocol.MessageFrame) WsProtocol.parseServer(WsProtocol.message(m));
    try (JsonParser p = MessageJson.JSON.createParser(f.raw())) {
      p.nextToken();
      assertEquals(m, MessageJson.readMessage(p, f.raw()));
    }
  }

  /** A message as a client may publish it; JSON payloads only when valid and without surrounding space. */
  private static Message message(FuzzedDataProvider data) {
    String topic = "t" + data.consumeString(20).replaceAll("[^A-Za-z0-9._:-]", "");
    String event = data.consumeBoolean() ? "e" + data.consumeString(10).replaceAll("[^A-Za-z0-9._:-]", "") : null;
    String contentType = data.pickValue(new String[] {Message.TEXT_CONTENT_TYPE, Message.JSON_CONTENT_TYPE,
        Message.DEFAULT_CONTENT_TYPE, "text/csv", "application/x+json", "text/plain; charset=latin1"});
    byte[] payload = data.consumeRemainingAsBytes();
    Message m = Message.builder(topic).event(event).payload(payload, contentType).build();
    if (m.isJson() && !validJsonAsIs(payload)) {
      m = m.toBuilder().payload(payload, Message.DEFAULT_CONTENT_TYPE).build();
    }
    return m;
  }

  private static boolean validJsonAsIs(byte[] payload) {
    try {
      MessageJson.requireValidJson(payload);
    } catch (SwitchboardException e) {
      return false;
    }
    int last = payload.length - 1;
    return !Arrays.asList((byte) ' ', (byte) '\t', (byte) '\n', (byte) '\r').contains(payload[0])
        && !Arrays.asList((byte) ' ', (byte) '\t', (byte) '\n', (byte) '\r').contains(payload[last]);
  }
}
