package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.switchboard.grpc.v1.Error;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.SwitchboardException;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of {@link GrpcCodec}: publish requests a server decodes, messages and errors a client
 * decodes, and the round trips between them. In {@code mvn verify} they replay the corpus in
 * {@code GrpcCodecFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class GrpcCodecFuzzTest {
  /** Any request bytes are refused by protobuf, or become a draft or a client error (never INTERNAL). */
  @FuzzTest(maxDuration = "60s")
  void publishRequests_becomeDraftsOrClientErrors(byte[] bytes) {
    PublishRequest r;
    try {
      r = PublishRequest.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      return; // gRPC answers INTERNAL for an unparsable request before our code runs
    }
    Message draft;
    try {
      draft = GrpcCodec.draft(r);
    } catch (SwitchboardException e) {
      int status = e.status().httpStatus();
      assertTrue(status >= 400 && status < 500, e.toString());
      return;
    }
    assertEquals(r.getTopic(), draft.topic());
    // What the client would send for this draft decodes to the same draft.
    assertEquals(draft, GrpcCodec.draft(GrpcCodec.toRequest(draft)));
  }

  /**
   * A server's message frame is a message or a SwitchboardException the client logs and skips; a
   * message it decodes encodes back to a frame that decodes to the same message.
   */
  @FuzzTest(maxDuration = "60s")
  void messages_decodeOrFailWithSwitchboardException(byte[] bytes) throws Exception {
    dev.switchboard.grpc.v1.Message p;
    try {
      p = dev.switchboard.grpc.v1.Message.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      return;
    }
    Message m;
    try {
      m = GrpcCodec.fromProto(p);
    } catch (SwitchboardException e) {
      assertNotNull(e.status());
      return;
    }
    assertEquals(m, GrpcCodec.fromProto(dev.switchboard.grpc.v1.Message.parseFrom(GrpcCodec.toProto(m).toByteArray())));
  }

  /** An error frame always becomes a SwitchboardException with a status and a code. */
  @FuzzTest(maxDuration = "60s")
  void errors_alwaysDecode(byte[] bytes) {
    Error e;
    try {
      e = Error.parseFrom(bytes);
    } catch (InvalidProtocolBufferException ignored) {
      return;
    }
    SwitchboardException x = GrpcCodec.fromError(e);
    assertNotNull(x.status());
    assertTrue(!x.errorCode().isEmpty());
  }

  /** Every stored message survives the wire unchanged, headers and time included. */
  @FuzzTest(maxDuration = "60s")
  void storedMessages_roundTrip(FuzzedDataProvider data) throws Exception {
    Message.Builder b = Message.builder("t" + data.consumeString(20).replaceAll("[^A-Za-z0-9._:-]", ""))
        .id("i" + data.consumeString(30))
        .contentType("x/" + data.consumeString(20).replaceAll("[\\x00-\\x1f\\x7f]", "") + "y");
    if (data.consumeBoolean()) {
      b.event("e" + data.consumeString(10).replaceAll("[^A-Za-z0-9._:-]", ""));
    }
    int headers = data.consumeInt(0, 4);
    for (int i = 0; i < headers; i++) {
      b.header("h" + data.consumeString(10).replaceAll("[\\x00-\\x1f\\x7f]", ""),
          data.consumeString(20).replaceAll("[\\x00-\\x1f\\x7f]", ""));
    }
    if (data.consumeBoolean()) {
      b.time(Instant.ofEpochSecond(data.consumeLong(-62_135_596_800L, 253_402_300_799L), data.consumeInt(0, 999_999_999)));
    }
    Message m = b.payload(data.consumeRemainingAsBytes()).build();
    byte[] wire = GrpcCodec.toProto(m).toByteArray();
    assertEquals(m, GrpcCodec.fromProto(dev.switchboard.grpc.v1.Message.parseFrom(wire)));
  }

  /** Found by a seed of the fuzz corpus: a time past Instant's range threw DateTimeException. */
  @Test
  void messageTimeOutOfRange_isAMalformedMessage() {
    dev.switchboard.grpc.v1.Message p = dev.switchboard.grpc.v1.Message.newBuilder().setTopic("t")
        .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(Long.MAX_VALUE)).build();
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> GrpcCodec.fromProto(p));
    assertEquals(dev.switchboard.transport.Status.INTERNAL, e.status());
    assertTrue(e.getMessage().contains("out of range"), e.getMessage());
  }
}
