package dev.switchboard.transport.internal;

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
 * The stored form of a message in a distributed broker (a Redis stream entry and Pub/Sub
 * notification, a Kafka record's value): a small versioned binary envelope (event, content type,
 * time, headers, payload). The topic and the id are the broker's (the stream key and entry id; the
 * record key, partition and offset), so they are not in the envelope. One layout for every broker.
 * Stateless and thread-safe.
 */
public final class StoredEnvelope {
  private static final int VERSION = 1;

  private StoredEnvelope() {}

  public static byte[] encode(Message m, Instant time) {
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
  public static Message decode(String topic, String id, byte[] envelope) {
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
