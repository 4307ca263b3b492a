package dev.switchboard.kafka;

import dev.switchboard.transport.Message;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The value of a Kafka record: a small versioned binary envelope (event, content type, time,
 * headers, payload), the same layout as the Redis broker's. The Switchboard topic is the record's
 * key, the id comes from the record's partition and offset.
 */
final class KafkaCodecs {
  private static final int VERSION = 1;

  private KafkaCodecs() {}

  static byte[] encode(Message m, Instant time) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(m.payloadSize() + 96);
    try (DataOutputStream out = new DataOutputStream(buf)) {
      out.writeByte(VERSION);
      out.writeUTF(m.event() == null ? "" : m.event());
      out.writeUTF(m.contentType());
      out.writeLong(time.getEpochSecond());
      out.writeInt(time.getNano());
      out.writeInt(m.headers().size());
      for (Map.Entry<String, String> h : m.headers().entrySet()) {
        out.writeUTF(h.getKey());
        out.writeUTF(h.getValue());
      }
      out.writeInt(m.payloadSize());
      out.write(m.payload());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buf.toByteArray();
  }

  /**
   * @throws IllegalArgumentException when the bytes are not an envelope this version can read
   */
  static Message decode(String topic, String id, byte[] envelope) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(envelope))) {
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new IllegalArgumentException("unknown envelope version " + version + " for " + topic + "/" + id);
      }
      String event = in.readUTF();
      String contentType = in.readUTF();
      Instant time = Instant.ofEpochSecond(in.readLong(), in.readInt());
      int headerCount = in.readInt();
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 0; i < headerCount; i++) {
        headers.put(in.readUTF(), in.readUTF());
      }
      byte[] payload = new byte[in.readInt()];
      in.readFully(payload);
      Message.Builder b = Message.builder(topic).id(id).payload(payload, contentType).headers(headers).time(time);
      if (!event.isEmpty()) {
        b.event(event);
      }
      return b.build();
    } catch (IOException e) {
      throw new IllegalArgumentException("truncated envelope for " + topic + "/" + id, e);
    }
  }
}
