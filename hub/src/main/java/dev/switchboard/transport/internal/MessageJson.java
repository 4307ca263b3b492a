package dev.switchboard.transport.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * The JSON envelope of docs/protocol.md ({@code <msg>}, history pages, publish responses, error bodies),
 * written and read with jackson-core streaming. Internal: for Switchboard's transport modules.
 *
 * <p>Thread-safe (stateless apart from the shared, thread-safe {@link JsonFactory}).
 */
public final class MessageJson {
  /** Buffer sets kept for reuse; more parsers at once simply allocate (and drop) their own. */
  private static final int RECYCLED_BUFFERS = 64;

  /**
   * Shared factory; nesting depth is bounded so hostile JSON cannot exhaust the stack. Buffers are
   * recycled through one bounded pool rather than Jackson's default per-thread cache: a container
   * that grows to hundreds of threads during a connection burst would otherwise keep ≈ 8 KB of
   * buffers per thread for as long as the thread lives (measured: ≈ 1.7 MB of the one-time heap
   * after 1,000 WebSocket connects).
   */
  public static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200).build())
      .recyclerPool(JsonRecyclerPools.newBoundedPool(RECYCLED_BUFFERS))
      .build();

  private MessageJson() {}

  /** Writes one {@code <msg>} object. */
  public static void writeMessage(JsonGenerator g, Message m) throws IOException {
    g.writeStartObject();
    writeMessageFields(g, m);
    g.writeEndObject();
  }

  /** Writes the fields of a {@code <msg>} into an object the caller opened (WebSocket frames). */
  public static void writeMessageFields(JsonGenerator g, Message m) throws IOException {
    g.writeStringField("id", m.id());
    g.writeStringField("topic", m.topic());
    if (m.event() != null) {
      g.writeStringField("event", m.event());
    }
    g.writeStringField("contentType", m.contentType());
    writeData(g, m);
    if (m.time() != null) {
      g.writeStringField("time", m.time().toString());
    }
  }

  /**
   * Writes {@code "data"} (and {@code "encoding"}) by the {@code <msg>} rules: the JSON value itself
   * for JSON, a string for UTF-8 text, base64 otherwise.
   */
  public static void writeData(JsonGenerator g, Message m) throws IOException {
    byte[] payload = m.payload();
    if (m.isJson() && payload.length > 0) {
      g.writeFieldName("data");
      g.writeRawValue(new String(payload, StandardCharsets.UTF_8));
    } else if (m.isText() && isUtf8(payload)) {
      g.writeStringField("data", new String(payload, StandardCharsets.UTF_8));
    } else {
      g.writeStringField("data", Base64.getEncoder().encodeToString(payload));
      g.writeStringField("encoding", "base64");
    }
  }

  /** {@code {"messages":[…],"next":…,"recovered":…}} */
  public static byte[] historyPage(List<Message> messages, String next, boolean recovered) {
    return write(g -> {
      g.writeStartObject();
      g.writeArrayFieldStart("messages");
      for (Message m : messages) {
        writeMessage(g, m);
      }
      g.writeEndArray();
      if (next == null) {
        g.writeNullField("next");
      } else {
        g.writeStringField("next", next);
      }
      g.writeBooleanField("recovered", recovered);
      g.writeEndObject();
    });
  }

  /** One {@code <msg>} as bytes. */
  public static byte[] message(Message m) {
    return write(g -> writeMessage(g, m));
  }

  /** {@code {"id","topic","time"}} for a 201 publish response. */
  public static byte[] publishResponse(Message m) {
    return write(g -> {
      g.writeStartObject();
      g.writeStringField("id", m.id());
      g.writeStringField("topic", m.topic());
      g.writeStringField("time", m.time().toString());
      g.writeEndObject();
    });
  }

  /** {@code {"status":N,"error":"code","message":"text"}} */
  public static byte[] error(int status, String error, String message) {
    return write(g -> {
      g.writeStartObject();
      g.writeNumberField("status", status);
      g.writeStringField("error", error);
      g.writeStringField("message", message == null ? "" : message);
      g.writeEndObject();
    });
  }

  /**
   * The {@code Retry-After} seconds to send with an error: the exception's hint rounded up (never
   * earlier than the server said), at least 1; 1 when there is no hint.
   */
  public static long retryAfterSeconds(SwitchboardException e) {
    return e.retryAfter().map(d -> Math.max(1, (d.toMillis() + 999) / 1000)).orElse(1L);
  }

  /** The error body for an exception. */
  public static byte[] error(SwitchboardException e) {
    return error(e.status().httpStatus(), e.errorCode(), e.getMessage());
  }

  /**
   * Checks that {@code body} is exactly one well-formed JSON value in UTF-8 (no byte order mark),
   * so it can be embedded verbatim as the {@code data} of a {@code <msg>}. Nesting is limited to
   * 200 levels and numbers to 1,000 digits (the shared factory's read constraints).
   *
   * @throws SwitchboardException INVALID_ARGUMENT ({@code invalid_json}) naming the problem and where
   */
  public static void requireValidJson(byte[] body) {
    int bad = invalidUtf8At(body);
    if (bad >= 0) {
      throw invalidJson("is not valid UTF-8 (at byte " + bad + ")");
    }
    if (body.length >= 3 && (body[0] & 0xff) == 0xef && (body[1] & 0xff) == 0xbb && (body[2] & 0xff) == 0xbf) {
      throw invalidJson("starts with a byte order mark; send UTF-8 without one");
    }
    for (int i = 0; i < Math.min(4, body.length); i++) {
      // Valid JSON has no raw NUL; and one among the first bytes would make the parser guess UTF-16/32.
      if (body[i] == 0) {
        throw invalidJson("contains a NUL byte (at byte " + i + ")");
      }
    }
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() == null) {
        throw invalidJson("is empty");
      }
      p.skipChildren();
      if (p.nextToken() != null) {
        throw invalidJson("has content after the first value (at byte "
            + p.currentTokenLocation().getByteOffset() + ")");
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof SwitchboardException) {
        throw (SwitchboardException) e;
      }
      // Jackson reports syntax errors as IOExceptions and broken read constraints as runtime ones.
      throw invalidJson("does not parse: " + firstLine(e.getMessage()));
    }
  }

  private static SwitchboardException invalidJson(String problem) {
    return SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_json",
        "payload is declared JSON but " + problem);
  }

  /** Parses a publish response into the stored form of {@code draft}. */
  public static Message readPublishResponse(byte[] body, Message draft) {
    String id = null;
    Instant time = null;
    try (JsonParser p = JSON.createParser(body)) {
      expect(p.nextToken(), JsonToken.START_OBJECT);
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        p.nextToken();
        if ("id".equals(f)) {
          id = p.getValueAsString();
        } else if ("time".equals(f)) {
          time = parseTime(p.getValueAsString());
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      throw malformed(e);
    }
    if (id == null) {
      throw new SwitchboardException(Status.INTERNAL, "publish response has no id");
    }
    return draft.toBuilder().id(id).time(time).build();
  }

  /** A parsed history page. */
  public record Page(List<Message> messages, String next, boolean recovered) {}

  /** Parses {@code {"messages":[…],"next":…,"recovered":…}}. */
  public static Page readPage(byte[] body) {
    List<Message> messages = new ArrayList<>();
    String next = null;
    boolean recovered = true;
    try (JsonParser p = JSON.createParser(body)) {
      expect(p.nextToken(), JsonToken.START_OBJECT);
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        JsonToken t = p.nextToken();
        if ("messages".equals(f)) {
          expect(t, JsonToken.START_ARRAY);
          while (p.nextToken() == JsonToken.START_OBJECT) {
            messages.add(readMessage(p, body));
          }
        } else if ("next".equals(f)) {
          next = t == JsonToken.VALUE_NULL ? null : p.getValueAsString();
        } else if ("recovered".equals(f)) {
          recovered = p.getValueAsBoolean(true);
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      throw malformed(e);
    }
    return new Page(messages, next, recovered);
  }

  /**
   * Parses one {@code <msg>} object from {@code body}, the parser on its START_OBJECT.
   *
   * @throws IOException for malformed JSON and for values no message can hold (an empty id, data
   *     that is not base64 under {@code "encoding":"base64"})
   * @throws SwitchboardException for a missing or invalid topic, an invalid event or content type
   */
  public static Message readMessage(JsonParser p, byte[] body) throws IOException {
    String id = null;
    String topic = null;
    String event = null;
    String contentType = Message.DEFAULT_CONTENT_TYPE;
    String encoding = null;
    String time = null;
    int dataStart = -1;
    int dataEnd = -1;
    String dataString = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String f = p.currentName();
      JsonToken t = p.nextToken();
      switch (f) {
        case "id": id = p.getValueAsString(); break;
        case "topic": topic = p.getValueAsString(); break;
        case "event": event = p.getValueAsString(); break;
        case "contentType": contentType = p.getValueAsString(); break;
        case "encoding": encoding = p.getValueAsString(); break;
        case "time": time = p.getValueAsString(); break;
        case "data":
          dataStart = (int) p.currentTokenLocation().getByteOffset();
          if (t == JsonToken.VALUE_STRING) {
            dataString = p.getText();
          }
          p.skipChildren();
          dataEnd = (int) p.currentLocation().getByteOffset();
          break;
        default:
          p.skipChildren();
      }
    }
    if (topic == null) {
      throw new SwitchboardException(Status.INTERNAL, "message without topic in response");
    }
    if (id != null && id.isEmpty()) {
      throw new IOException("message has an empty id");
    }
    Message.Builder b = Message.builder(topic).id(id).event(event).contentType(contentType)
        .time(time == null ? null : parseTime(time));
    byte[] payload;
    if ("base64".equals(encoding)) {
      try {
        payload = Base64.getDecoder().decode(dataString == null ? "" : dataString);
      } catch (IllegalArgumentException e) {
        throw new IOException("data is not base64: " + e.getMessage());
      }
    } else if (dataStart < 0) {
      payload = new byte[0];
    } else if (Message.builder(topic).contentType(contentType).build().isJson()) {
      payload = Arrays.copyOfRange(body, dataStart, dataEnd);
    } else {
      payload = (dataString == null ? "" : dataString).getBytes(StandardCharsets.UTF_8);
    }
    return b.payload(payload).build();
  }

  /** Parses an error body; falls back to the status's own code when the body is not ours. */
  public static SwitchboardException readError(int httpStatus, byte[] body, java.time.Duration retryAfter) {
    Status status = Status.fromHttpStatus(httpStatus);
    String code = status.code();
    String message = "HTTP " + httpStatus;
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String f = p.currentName();
          p.nextToken();
          if ("error".equals(f)) {
            code = p.getValueAsString(code);
          } else if ("message".equals(f)) {
            message = p.getValueAsString(message);
          } else {
            p.skipChildren();
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not our JSON (a proxy's HTML page, say): keep the status-derived code and message.
    }
    return new SwitchboardException(status, code, message, retryAfter, null);
  }

  /** Whether the bytes are valid UTF-8. */
  public static boolean isUtf8(byte[] bytes) {
    return invalidUtf8At(bytes) < 0;
  }

  /**
   * The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
   * forms, no surrogates, nothing above U+10FFFF), or -1 when all of it is. Allocates nothing.
   */
  public static int invalidUtf8At(byte[] b) {
    int i = 0;
    int n = b.length;
    while (i < n) {
      int c = b[i];
      if (c >= 0) {
        i++;
        continue;
      }
      c &= 0xff;
      int len;
      int min;
      if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
      } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
      } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
      } else {
        return i; // a continuation byte out of place, an overlong lead (C0, C1) or F5-FF
      }
      if (i + len > n) {
        return i;
      }
      int cp = c & (0xff >> (len + 1));
      for (int k = 1; k < len; k++) {
        int cc = b[i + k] & 0xff;
        if ((cc & 0xc0) != 0x80) {
          return i;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return i;
      }
      i += len;
    }
    return -1;
  }

  /** Writer callback for {@link #write}. */
  @FunctionalInterface
  public interface JsonWriter {
    void write(JsonGenerator g) throws IOException;
  }

  /** Runs {@code w} against a generator over a byte array. */
  public static byte[] write(JsonWriter w) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator g = JSON.createGenerator((OutputStream) out)) {
      w.write(g);
    } catch (IOException e) {
      throw new IllegalStateException("writing JSON to memory failed", e);
    }
    return out.toByteArray();
  }

  private static Instant parseTime(String s) {
    try {
      return s == null ? null : Instant.parse(s);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static void expect(JsonToken actual, JsonToken expected) throws IOException {
    if (actual != expected) {
      throw new IOException("expected " + expected + " but found " + actual);
    }
  }

  private static SwitchboardException malformed(IOException e) {
    return new SwitchboardException(Status.INTERNAL, "malformed response from server: "
        + firstLine(e.getMessage()), e);
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
