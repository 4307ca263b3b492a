package dev.switchboard.ws;

import static java.util.Map.entry;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.FanoutCache;
import dev.switchboard.transport.internal.MessageJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code switchboard.v1.json} frames (docs/protocol.md §4): one JSON object per text frame, read
 * and written with jackson-core streaming. What a client sends ({@link ClientFrame}) and what a
 * server sends ({@link ServerFrame}) are separate types; both are read by one table of fields (how
 * each field's value must look) and one table of ops per direction. Thread-safe (stateless but for a
 * small encode cache).
 */
final class WsProtocol {
  /** The subprotocol name. */
  static final String SUBPROTOCOL = "switchboard.v1.json";
  /**
   * Room for a frame's JSON around its payload; the server's text limit is twice the payload limit
   * (JSON escaping, base64) plus this.
   */
  static final int ENVELOPE_BYTES = 64 * 1024;
  /** The longest binary frame the server reads before answering that binary is not supported. */
  static final int MAX_BINARY_BYTES = 64 * 1024;
  /** The longest {@code ref}, in characters. */
  static final int MAX_REF_CHARS = 200;
  /** The close code of an orderly close (RFC 6455). */
  static final int CLOSE_NORMAL = 1000;

  private WsProtocol() {}

  // ---- client → server frames

  /** A frame a client sends; {@code ref}, when given, is echoed on the answer. */
  sealed interface ClientFrame permits Subscribe, Unsubscribe, Publish {
    String ref();
  }

  /** {@code {"op":"subscribe","topic","after"?,"ref"?}} */
  record Subscribe(String ref, String topic, String after) implements ClientFrame {}

  /** {@code {"op":"unsubscribe","topic","ref"?}} */
  record Unsubscribe(String ref, String topic) implements ClientFrame {}

  /** {@code {"op":"publish","topic","event"?,"contentType"?,"encoding"?,"data","ref"?}}; data null when absent. */
  record Publish(String ref, String topic, String event, String contentType, String encoding, Data data)
      implements ClientFrame {}

  /** A publish's {@code data}: where its JSON value lies in the frame's bytes, and its text when a string. */
  record Data(byte[] raw, int start, int end, JsonToken token, String text) {}

  // ---- server → client frames

  /** A frame a server sends. */
  sealed interface ServerFrame permits MessageFrame, Subscribed, Ack, Reset, ErrorFrame, OtherFrame {}

  /** {@code {"op":"message",<msg>}}: the frame's bytes, read as a message by {@link MessageJson#readMessage}. */
  record MessageFrame(byte[] raw) implements ServerFrame {}

  /** {@code {"op":"subscribed","topic","recovered"}} */
  record Subscribed(String topic, boolean recovered) implements ServerFrame {}

  /** {@code {"op":"ack","ref","id","time"?}} */
  record Ack(String ref, String id, Instant time) implements ServerFrame {}

  /** {@code {"op":"reset","topic","reason"}} */
  record Reset(String topic, String reason) implements ServerFrame {}

  /** {@code {"op":"error","ref"?,"status","error","message","retryAfter"?}} */
  record ErrorFrame(String ref, SwitchboardException error) implements ServerFrame {}

  /** {@code unsubscribed}, and ops of newer servers: nothing for a client to do. */
  record OtherFrame(String op) implements ServerFrame {}

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
    return new BadFrame(SwitchboardException.of(Status.INVALID_ARGUMENT, code, message), ref);
  }

  // ---- reading

  /** How a field's value must look. */
  private enum Kind {
    /** A string (or null, as if absent); anything else makes the frame invalid. */
    TEXT,
    /** A boolean; anything else makes the frame invalid. */
    FLAG,
    /** A whole number; anything else makes the frame invalid. */
    NUMBER,
    /** A whole number, ignored when it is anything else (a hint). */
    HINT,
    /** A string, ignored when it is anything else (informative). */
    NOTE,
    /** Any JSON value, kept as its place in the frame's bytes. */
    DATA
  }

  /** Every field a frame of either direction may have; others are ignored (forward compatibility). */
  private static final Map<String, Kind> FIELDS = Map.ofEntries(
      entry("op", Kind.TEXT), entry("topic", Kind.TEXT), entry("after", Kind.TEXT), entry("event", Kind.TEXT),
      entry("ref", Kind.TEXT), entry("contentType", Kind.TEXT), entry("encoding", Kind.TEXT),
      entry("id", Kind.TEXT), entry("reason", Kind.TEXT), entry("error", Kind.TEXT), entry("message", Kind.TEXT),
      entry("recovered", Kind.FLAG), entry("status", Kind.NUMBER), entry("retryAfter", Kind.HINT),
      entry("time", Kind.NOTE), entry("data", Kind.DATA));

  /** One frame's fields as the table read them; absent ones are null. */
  private record Fields(byte[] raw, Map<String, Object> values, Data data) {
    String text(String name) {
      return (String) values.get(name);
    }

    String ref() {
      return text("ref");
    }
  }

  private static final Map<String, Function<Fields, ClientFrame>> CLIENT_OPS = Map.of(
      "subscribe", f -> new Subscribe(f.ref(), f.text("topic"), f.text("after")),
      "unsubscribe", f -> new Unsubscribe(f.ref(), f.text("topic")),
      "publish", f -> new Publish(f.ref(), f.text("topic"), f.text("event"), f.text("contentType"),
          f.text("encoding"), f.data()));

  private static final Map<String, Function<Fields, ServerFrame>> SERVER_OPS = Map.of(
      "message", f -> new MessageFrame(f.raw()),
      "subscribed", f -> new Subscribed(f.text("topic"), !Boolean.FALSE.equals(f.values().get("recovered"))),
      "ack", f -> new Ack(f.ref(), f.text("id"), instant(f.text("time"))),
      "reset", f -> new Reset(f.text("topic"), f.text("reason")),
      "error", f -> new ErrorFrame(f.ref(), errorOf(f)));

  /**
   * Reads a frame a client sent.
   *
   * @throws BadFrame when it is not one JSON object, a field has the wrong type, the ref is too
   *     long, the text has an unpaired surrogate, or the op is missing or unknown
   */
  static ClientFrame parseClient(String text) throws BadFrame {
    Fields f = read(text);
    Function<Fields, ClientFrame> op = CLIENT_OPS.get(f.text("op"));
    if (op == null) {
      throw bad("unknown_op", "unknown op '" + shorten(f.text("op"))
          + "': use subscribe, unsubscribe or publish", f.ref());
    }
    return op.apply(f);
  }

  /**
   * Reads a frame a server sent; an op this client does not know is an {@link OtherFrame}.
   *
   * @throws BadFrame as {@link #parseClient} does, but for unknown ops
   */
  static ServerFrame parseServer(String text) throws BadFrame {
    Fields f = read(text);
    Function<Fields, ServerFrame> op = SERVER_OPS.get(f.text("op"));
    return op == null ? new OtherFrame(f.text("op")) : op.apply(f);
  }

  /** Reads every field by the table; string fields must be strings, {@code recovered} a boolean, {@code status} a number. */
  private static Fields read(String text) throws BadFrame {
    byte[] raw = text.getBytes(StandardCharsets.UTF_8);
    Map<String, Object> values = new HashMap<>();
    Data data = null;
    String badField = null;
    try (JsonParser p = MessageJson.JSON.createParser(raw)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw bad("invalid_frame", "a frame must be one JSON object", null);
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        Kind kind = FIELDS.get(name);
        boolean valid = kind == null || switch (kind) {
          case TEXT -> t == JsonToken.VALUE_STRING || t == JsonToken.VALUE_NULL;
          case FLAG -> t.isBoolean();
          case NUMBER -> t == JsonToken.VALUE_NUMBER_INT;
          case HINT, NOTE, DATA -> true;
        };
        if (!valid) {
          badField = name;
        } else if (kind == Kind.DATA) {
          int start = (int) p.currentTokenLocation().getByteOffset();
          String string = t == JsonToken.VALUE_STRING ? p.getText() : null;
          p.skipChildren();
          data = new Data(raw, start, (int) p.currentLocation().getByteOffset(), t, string);
          continue;
        } else if (kind != null) {
          Object v = switch (kind) {
            case TEXT, NOTE -> t == JsonToken.VALUE_STRING ? p.getText() : null;
            case FLAG -> p.getBooleanValue();
            case NUMBER -> p.getIntValue();
            case HINT -> t == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : values.get(name);
            case DATA -> throw new AssertionError(kind);
          };
          values.put(name, v);
        }
        p.skipChildren();
      }
      if (p.nextToken() != null) {
        throw bad("invalid_frame", "a frame must be exactly one JSON object", (String) values.get("ref"));
      }
    } catch (IOException e) {
      throw bad("invalid_json", "frame is not valid JSON: " + firstLine(e.getMessage()), null);
    }
    String ref = (String) values.get("ref");
    if (ref != null && (ref.isEmpty() || ref.length() > MAX_REF_CHARS)) {
      throw bad("invalid_field", "ref must be 1-" + MAX_REF_CHARS + " characters", null);
    }
    int surrogate = unpairedSurrogateAt(text);
    if (surrogate >= 0) {
      // Encoding it as UTF-8 would have turned it into '?': refuse rather than store a changed text.
      throw bad("invalid_text", "frame has an unpaired surrogate (U+" + Integer.toHexString(text.charAt(surrogate))
          .toUpperCase(Locale.ROOT) + ") at character " + surrogate + ": send valid Unicode", ref);
    }
    if (badField != null) {
      throw bad("invalid_field", "field '" + badField + "' has the wrong type", ref);
    }
    if (values.get("op") == null) {
      throw bad("missing_field", "frame has no 'op'", ref);
    }
    return new Fields(raw, values, data);
  }

  private static Instant instant(String time) {
    try {
      return time == null ? null : Instant.parse(time);
    } catch (DateTimeParseException e) {
      return null; // informative only: the ack still carries the id
    }
  }

  private static SwitchboardException errorOf(Fields f) {
    Integer status = (Integer) f.values().get("status");
    Long retryAfter = (Long) f.values().get("retryAfter");
    String error = f.text("error");
    return new SwitchboardException(Status.fromHttpStatus(status == null ? 500 : status),
        error == null ? "error" : error, f.text("message"),
        retryAfter == null || retryAfter < 1 ? null : Duration.ofSeconds(retryAfter), null);
  }

  private static String shorten(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
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
  static Message.Builder payload(Message.Builder b, Publish f) throws BadFrame {
    Data data = f.data();
    if (data == null) {
      throw bad("missing_field", "publish needs 'data'", f.ref());
    }
    String ct = f.contentType();
    if ("base64".equals(f.encoding())) {
      if (data.token() != JsonToken.VALUE_STRING) {
        throw bad("invalid_field", "base64 data must be a string", f.ref());
      }
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(data.text());
      } catch (IllegalArgumentException e) {
        throw bad("invalid_field", "data is not base64: " + e.getMessage(), f.ref());
      }
      return b.payload(decoded, ct != null ? ct : Message.DEFAULT_CONTENT_TYPE);
    }
    if (f.encoding() != null) {
      throw bad("invalid_field", "unknown encoding '" + f.encoding() + "' (only base64)", f.ref());
    }
    boolean declaredJson = ct != null && isJson(ct);
    if (declaredJson || data.token() != JsonToken.VALUE_STRING) {
      return b.payload(Arrays.copyOfRange(data.raw(), data.start(), data.end()),
          ct != null ? ct : Message.JSON_CONTENT_TYPE);
    }
    int surrogate = unpairedSurrogateAt(data.text());
    if (surrogate >= 0) {
      throw bad("invalid_text", "data has an unpaired surrogate (a \\u" + Integer.toHexString(
          data.text().charAt(surrogate)) + " escape) at character " + surrogate
          + ": text must be valid Unicode", f.ref());
    }
    return b.payload(data.text().getBytes(StandardCharsets.UTF_8), ct != null ? ct : Message.TEXT_CONTENT_TYPE);
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
