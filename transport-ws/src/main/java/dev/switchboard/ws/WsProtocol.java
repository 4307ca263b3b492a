package dev.switchboard.ws;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.FanoutCache;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * The {@code switchboard.v1.json} frames of docs/protocol.md §4: one JSON object per text frame, read and
 * written with jackson-core streaming. Thread-safe (stateless but for a small encode cache).
 */
final class WsProtocol {
  /** The subprotocol name. */
  static final String SUBPROTOCOL = "switchboard.v1.json";

  private WsProtocol() {}

  /** A parsed client or server frame; absent fields are null. */
  record Frame(String op, String topic, String after, String event, String ref, String contentType,
      String encoding, byte[] raw, int dataStart, int dataEnd, JsonToken dataToken, String dataString,
      Boolean recovered, String id, String reason, Integer status, String error, String message,
      Long retryAfter) {
    boolean hasData() {
      return dataStart >= 0;
    }
  }

  /** A frame that cannot be acted on: answered with an error frame, the connection kept. */
  static final class BadFrame extends Exception {
    private static final long serialVersionUID = 1L;
    final transient SwitchboardException error;
    final String ref;

    BadFrame(SwitchboardException error, String ref) {
      super(error.getMessage(), null, false, false);
      this.error = error;
      this.ref = ref;
    }
  }

  static BadFrame bad(String code, String message, String ref) {
    return new BadFrame(new SwitchboardException(Status.INVALID_ARGUMENT, code, message, null, null), ref);
  }

  /** Parses one frame; string fields must be strings, {@code recovered} a boolean, {@code status} a number. */
  static Frame parse(String text) throws BadFrame {
    byte[] raw = text.getBytes(StandardCharsets.UTF_8);
    String op = null, topic = null, after = null, event = null, ref = null, contentType = null;
    String encoding = null, dataString = null, id = null, reason = null, error = null, message = null;
    Boolean recovered = null;
    Integer status = null;
    Long retryAfter = null;
    int dataStart = -1;
    int dataEnd = -1;
    JsonToken dataToken = null;
    String badField = null;
    try (JsonParser p = MessageJson.JSON.createParser(raw)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw bad("invalid_frame", "a frame must be one JSON object", null);
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        JsonToken t = p.nextToken();
        if (f.equals("data")) {
          dataStart = (int) p.currentTokenLocation().getByteOffset();
          dataToken = t;
          if (t == JsonToken.VALUE_STRING) {
            dataString = p.getText();
          }
          p.skipChildren();
          dataEnd = (int) p.currentLocation().getByteOffset();
          continue;
        }
        if (f.equals("recovered")) {
          if (t.isBoolean()) {
            recovered = p.getBooleanValue();
          } else {
            badField = f;
          }
          continue;
        }
        if (f.equals("retryAfter")) {
          if (t == JsonToken.VALUE_NUMBER_INT) {
            retryAfter = p.getLongValue();
          }
          continue;
        }
        if (f.equals("status")) {
          if (t == JsonToken.VALUE_NUMBER_INT) {
            status = p.getIntValue();
          } else {
            badField = f;
          }
          continue;
        }
        String v = null;
        if (t == JsonToken.VALUE_STRING) {
          v = p.getText();
        } else if (t != JsonToken.VALUE_NULL) {
          p.skipChildren();
          if (isKnownString(f)) {
            badField = f;
          }
          continue;
        }
        switch (f) {
          case "op": op = v; break;
          case "topic": topic = v; break;
          case "after": after = v; break;
          case "event": event = v; break;
          case "ref": ref = v; break;
          case "contentType": contentType = v; break;
          case "encoding": encoding = v; break;
          case "id": id = v; break;
          case "reason": reason = v; break;
          case "error": error = v; break;
          case "message": message = v; break;
          default: // unknown fields are ignored, for forward compatibility
        }
      }
      if (p.nextToken() != null) {
        throw bad("invalid_frame", "a frame must be exactly one JSON object", ref);
      }
    } catch (IOException e) {
      throw bad("invalid_json", "frame is not valid JSON: " + firstLine(e.getMessage()), null);
    }
    if (ref != null && (ref.isEmpty() || ref.length() > 200)) {
      throw bad("invalid_field", "ref must be 1-200 characters", null);
    }
    int surrogate = unpairedSurrogateAt(text);
    if (surrogate >= 0) {
      // Encoding it as UTF-8 would have turned it into '?': refuse rather than store a changed text.
      throw bad("invalid_text", "frame has an unpaired surrogate (U+" + Integer.toHexString(text.charAt(surrogate))
          .toUpperCase(java.util.Locale.ROOT) + ") at character " + surrogate + ": send valid Unicode", ref);
    }
    if (badField != null) {
      throw bad("invalid_field", "field '" + badField + "' has the wrong type", ref);
    }
    if (op == null) {
      throw bad("missing_field", "frame has no 'op'", ref);
    }
    return new Frame(op, topic, after, event, ref, contentType, encoding, raw, dataStart, dataEnd, dataToken,
        dataString, recovered, id, reason, status, error, message, retryAfter);
  }

  private static boolean isKnownString(String f) {
    switch (f) {
      case "op": case "topic": case "after": case "event": case "ref": case "contentType":
      case "encoding": case "id": case "reason": case "error": case "message":
        return true;
      default:
        return false;
    }
  }

  /**
   * The payload and content type of a publish frame, following the {@code <msg>} rules: base64 with
   * {@code "encoding":"base64"}; a JSON value (or declared JSON) as its raw bytes; a string as UTF-8
   * text. Whether the payload suits its content type (JSON that parses, UTF-8 text, a media type)
   * is the hub's check on publish, the same as on every other path.
   *
   * @throws BadFrame for missing or malformed data, unknown encodings and unpaired surrogates
   * @throws SwitchboardException for a content type no message may have (control characters)
   */
  static Message.Builder payload(Message.Builder b, Frame f) throws BadFrame {
    if (!f.hasData()) {
      throw bad("missing_field", "publish needs 'data'", f.ref());
    }
    String ct = f.contentType();
    if ("base64".equals(f.encoding())) {
      if (f.dataToken() != JsonToken.VALUE_STRING) {
        throw bad("invalid_field", "base64 data must be a string", f.ref());
      }
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(f.dataString());
      } catch (IllegalArgumentException e) {
        throw bad("invalid_field", "data is not base64: " + e.getMessage(), f.ref());
      }
      return b.payload(decoded, ct != null ? ct : Message.DEFAULT_CONTENT_TYPE);
    }
    if (f.encoding() != null) {
      throw bad("invalid_field", "unknown encoding '" + f.encoding() + "' (only base64)", f.ref());
    }
    boolean declaredJson = ct != null && isJson(ct);
    if (declaredJson || f.dataToken() != JsonToken.VALUE_STRING) {
      return b.payload(Arrays.copyOfRange(f.raw(), f.dataStart(), f.dataEnd()),
          ct != null ? ct : Message.JSON_CONTENT_TYPE);
    }
    int surrogate = unpairedSurrogateAt(f.dataString());
    if (surrogate >= 0) {
      throw bad("invalid_text", "data has an unpaired surrogate (a \\u" + Integer.toHexString(
          f.dataString().charAt(surrogate)) + " escape) at character " + surrogate
          + ": text must be valid Unicode", f.ref());
    }
    return b.payload(f.dataString().getBytes(StandardCharsets.UTF_8), ct != null ? ct : Message.TEXT_CONTENT_TYPE);
  }

  /** The index of the first surrogate without its partner, or -1. */
  static int unpairedSurrogateAt(CharSequence s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  private static boolean isJson(String contentType) {
    String m = Message.mediaType(contentType);
    return m.equals("application/json") || m.endsWith("+json");
  }

  // ---- writing ----

  static String subscribed(String topic, boolean recovered) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "subscribed");
      g.writeStringField("topic", topic);
      g.writeBooleanField("recovered", recovered);
      g.writeEndObject();
    });
  }

  static String unsubscribed(String topic, String ref) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "unsubscribed");
      g.writeStringField("topic", topic);
      if (ref != null) {
        g.writeStringField("ref", ref);
      }
      g.writeEndObject();
    });
  }

  /** {@code {"op":"ack","ref","id","time"}}: the stored message's id and time (as REST's 201 answers). */
  static String ack(String ref, String id, java.time.Instant time) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "ack");
      if (ref != null) {
        g.writeStringField("ref", ref);
      }
      g.writeStringField("id", id);
      if (time != null) {
        g.writeStringField("time", time.toString());
      }
      g.writeEndObject();
    });
  }

  static String reset(String topic, String reason) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "reset");
      g.writeStringField("topic", topic);
      g.writeStringField("reason", reason);
      g.writeEndObject();
    });
  }

  static String error(String ref, SwitchboardException e) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "error");
      if (ref != null) {
        g.writeStringField("ref", ref);
      }
      g.writeNumberField("status", e.status().httpStatus());
      g.writeStringField("error", e.errorCode());
      g.writeStringField("message", e.getMessage() == null ? "" : e.getMessage());
      if (e.retryAfter().isPresent()) {
        g.writeNumberField("retryAfter", MessageJson.retryAfterSeconds(e));
      }
      g.writeEndObject();
    });
  }

  private static final FanoutCache<Message, String> MESSAGE_FRAMES = FanoutCache.ofMessages(WsProtocol::encodeMessage);

  /** A message frame, encoded once per fan-out rather than once per session. */
  static String message(Message m) {
    return MESSAGE_FRAMES.get(m);
  }

  private static String encodeMessage(Message m) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "message");
      MessageJson.writeMessageFields(g, m);
      g.writeEndObject();
    });
  }

  // client → server

  static String subscribe(String topic, String after, String ref) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "subscribe");
      g.writeStringField("topic", topic);
      if (after != null) {
        g.writeStringField("after", after);
      }
      g.writeStringField("ref", ref);
      g.writeEndObject();
    });
  }

  static String unsubscribe(String topic) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "unsubscribe");
      g.writeStringField("topic", topic);
      g.writeEndObject();
    });
  }

  /** A publish frame: {@code <msg>} data rules, with contentType always named. */
  static String publish(Message m, String ref) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "publish");
      g.writeStringField("topic", m.topic());
      if (m.event() != null) {
        g.writeStringField("event", m.event());
      }
      g.writeStringField("contentType", m.contentType());
      MessageJson.writeData(g, m);
      g.writeStringField("ref", ref);
      g.writeEndObject();
    });
  }

  private static String write(MessageJson.JsonWriter w) {
    return new String(MessageJson.write(w), StandardCharsets.UTF_8);
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
