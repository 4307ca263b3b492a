package dev.switchboard.transport;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * An immutable message on a topic. A message built by an application is a <em>draft</em> (no
 * {@link #id()} and no {@link #time()}); the broker assigns both when it stores it, and every
 * subscriber receives the stored form. Ids are opaque strings, ordered within a topic.
 *
 * <p>Instances are immutable and thread-safe; {@link #payload()} returns a copy.
 */
public final class Message {
  /** The content type of payloads that declare none. */
  public static final String DEFAULT_CONTENT_TYPE = "application/octet-stream";
  /** The content type {@link Builder#text(String)} sets. */
  public static final String TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";
  /** The content type {@link Builder#json(String)} sets. */
  public static final String JSON_CONTENT_TYPE = "application/json";

  private final String topic;
  private final String id;
  private final String event;
  private final byte[] payload;
  private final String contentType;
  private final Map<String, String> headers;
  private final Instant time;

  private Message(Builder b) {
    this.topic = b.topic;
    this.id = b.id;
    this.event = b.event;
    this.payload = b.payload;
    this.contentType = b.contentType;
    this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
    this.time = b.time;
  }

  /** A builder for a message on {@code topic}; the topic is validated by {@link Builder#build()}. */
  public static Builder builder(String topic) {
    return new Builder(topic);
  }

  /** A UTF-8 text draft. */
  public static Message text(String topic, String text) {
    return builder(topic).text(text).build();
  }

  public String topic() {
    return topic;
  }

  /** The broker-assigned id, or {@code null} for a draft. */
  public String id() {
    return id;
  }

  /** The optional event type name (SSE {@code event:}), or {@code null}. */
  public String event() {
    return event;
  }

  /** A copy of the payload bytes. */
  public byte[] payload() {
    return payload.clone();
  }

  /** The payload size in bytes, without copying. */
  public int payloadSize() {
    return payload.length;
  }

  /** The payload decoded as UTF-8. */
  public String text() {
    return new String(payload, StandardCharsets.UTF_8);
  }

  public String contentType() {
    return contentType;
  }

  /** Whether the content type is JSON ({@code application/json} or {@code +json}). */
  public boolean isJson() {
    String base = mediaType(contentType);
    return base.equals("application/json") || base.endsWith("+json");
  }

  /** Whether the content type is textual ({@code text/*}) and so carried as a string. */
  public boolean isText() {
    return mediaType(contentType).startsWith("text/");
  }

  /** Application headers (string to string), never null. */
  public Map<String, String> headers() {
    return headers;
  }

  /** The time the broker stored the message, or {@code null} for a draft. */
  public Instant time() {
    return time;
  }

  /** A builder initialised with every field of this message. */
  public Builder toBuilder() {
    Builder b = new Builder(topic);
    b.id = id;
    b.event = event;
    b.payload = payload;
    b.contentType = contentType;
    b.headers.putAll(headers);
    b.time = time;
    return b;
  }

  /** Lower-case media type without parameters, e.g. {@code text/plain}. */
  public static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semi = contentType.indexOf(';');
    String base = semi < 0 ? contentType : contentType.substring(0, semi);
    return base.trim().toLowerCase(Locale.ROOT);
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Message)) {
      return false;
    }
    Message m = (Message) o;
    return topic.equals(m.topic) && Objects.equals(id, m.id) && Objects.equals(event, m.event)
        && Arrays.equals(payload, m.payload) && contentType.equals(m.contentType)
        && headers.equals(m.headers) && Objects.equals(time, m.time);
  }

  @Override
  public int hashCode() {
    return Objects.hash(topic, id, event, contentType, headers, time) * 31 + Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return "Message{topic=" + topic + ", id=" + id + (event == null ? "" : ", event=" + event)
        + ", contentType=" + contentType + ", " + payload.length + " bytes}";
  }

  /**
   * Builds a {@link Message}. Not thread-safe. Setters reject values no message may hold at once:
   * with {@link SwitchboardException} (status INVALID_ARGUMENT or UNSUPPORTED_MEDIA_TYPE, so a
   * server answers a client's bad field as a client error on every transport) for the event name,
   * content type and headers; {@link IllegalArgumentException} for an empty id;
   * {@link NullPointerException} for a null payload. What depends on the server's limits (payload
   * size, header count and bytes) and on the payload itself (JSON that parses, UTF-8 text) is
   * checked when the message is published.
   */
  public static final class Builder {
    private final String topic;
    private String id;
    private String event;
    private byte[] payload = new byte[0];
    private String contentType = DEFAULT_CONTENT_TYPE;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private Instant time;

    private Builder(String topic) {
      this.topic = Objects.requireNonNull(topic, "topic");
    }

    /** Sets the id; normally only brokers do this. */
    public Builder id(String id) {
      if (id != null && id.isEmpty()) {
        throw new IllegalArgumentException("id must not be empty");
      }
      this.id = id;
      return this;
    }

    /** Sets the optional event type name (same character rules as topics). */
    public Builder event(String event) {
      this.event = Topics.requireValidEvent(event);
      return this;
    }

    /** Sets the payload (copied). */
    public Builder payload(byte[] payload) {
      this.payload = Objects.requireNonNull(payload, "payload").clone();
      return this;
    }

    /** Sets the payload and content type together (the array is copied). */
    public Builder payload(byte[] payload, String contentType) {
      return payload(payload).contentType(contentType);
    }

    /** A UTF-8 text payload with content type {@value #TEXT_CONTENT_TYPE}. */
    public Builder text(String text) {
      this.payload = Objects.requireNonNull(text, "text").getBytes(StandardCharsets.UTF_8);
      this.contentType = TEXT_CONTENT_TYPE;
      return this;
    }

    /** A JSON payload (the text is not parsed here; servers validate it) typed application/json. */
    public Builder json(String json) {
      this.payload = Objects.requireNonNull(json, "json").getBytes(StandardCharsets.UTF_8);
      this.contentType = JSON_CONTENT_TYPE;
      return this;
    }

    /**
     * Sets the content type (trimmed). The full media-type rules (syntax, length, charset) are
     * checked when the message is published; here only what no message may ever hold is refused.
     *
     * @throws SwitchboardException UNSUPPORTED_MEDIA_TYPE ({@code unsupported_media_type}) when it
     *     is null, blank or contains control characters
     */
    public Builder contentType(String contentType) {
      if (contentType == null || contentType.isBlank() || hasControl(contentType)) {
        throw SwitchboardException.of(Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
            "content type " + Printable.quote(contentType) + " is not a media type"
                + (contentType != null && hasControl(contentType) ? " (it contains control characters)" : ""));
      }
      this.contentType = contentType.trim();
      return this;
    }

    /**
     * Adds an application header. Count, size and name syntax are checked when the message is
     * published.
     *
     * @throws SwitchboardException INVALID_ARGUMENT ({@code invalid_header}) when the name is null
     *     or empty, or the name or value is null or contains control characters
     */
    public Builder header(String name, String value) {
      if (name == null || name.isEmpty() || hasControl(name) || value == null || hasControl(value)) {
        throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_header",
            "header " + Printable.quote(name) + " is invalid: names and values must be non-null text"
                + " without control characters" + (name == null || name.isEmpty() ? " and names non-empty" : ""));
      }
      headers.put(name, value);
      return this;
    }

    /** Replaces all headers. */
    public Builder headers(Map<String, String> headers) {
      this.headers.clear();
      headers.forEach(this::header);
      return this;
    }

    public Builder time(Instant time) {
      this.time = time;
      return this;
    }

    /** Builds the message; throws {@link SwitchboardException} (400) if the topic is invalid. */
    public Message build() {
      Topics.requireValid(topic);
      return new Message(this);
    }

    private static boolean hasControl(String s) {
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          return true;
        }
      }
      return false;
    }
  }
}
