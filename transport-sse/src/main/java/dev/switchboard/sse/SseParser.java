package dev.switchboard.sse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An incremental {@code text/event-stream} parser that follows the WHATWG HTML "event stream
 * interpretation" processing model exactly: UTF-8 decoding with a leading BOM skipped; CR, LF and
 * CRLF line ends (also when CR and LF arrive in different chunks); comments; {@code data} lines
 * joined with LF; {@code id} values containing NUL ignored; {@code retry} only when all ASCII
 * digits; the last event id kept across events; dispatch on a blank line, and nothing dispatched
 * for an event without data or for an unterminated event at end of stream. Unknown fields are
 * reported to {@link Handler#onField} (the spec ignores them; Switchboard's client reads its
 * {@code content-type} and {@code encoding} extensions there).
 *
 * <p>Not thread-safe: feed one stream from one thread at a time.
 */
public final class SseParser {
  /** Receives parsed events. */
  public interface Handler {
    /**
     * A dispatched event.
     *
     * @param lastEventId the stream's last event id after this event ("" when none)
     * @param type the event type ({@code message} when the event named none)
     * @param data the data lines joined with LF
     */
    void onEvent(String lastEventId, String type, String data);

    /** A valid {@code retry} field: the new reconnection time in milliseconds. */
    default void onRetry(long millis) {}

    /** A comment line (without the leading colon). */
    default void onComment(String comment) {}

    /** A field the spec does not know, for extensions; called before the event dispatches. */
    default void onField(String name, String value) {}
  }

  private final Handler handler;
  private final int maxLineBytes;
  private byte[] line = new byte[256];
  private int lineLength;
  private boolean lastWasCr;
  private boolean started;
  private int bomMatched;
  private final StringBuilder data = new StringBuilder();
  private boolean hasData;
  private String eventType = "";
  private String lastEventIdBuffer = "";
  private String lastEventId = "";

  /**
   * @param maxLineBytes the longest line accepted; a longer one throws {@link IllegalStateException}
   */
  public SseParser(Handler handler, int maxLineBytes) {
    this.handler = handler;
    this.maxLineBytes = maxLineBytes;
  }

  /** The stream's last event id so far ("" when none), to send as {@code Last-Event-ID}. */
  public String lastEventId() {
    return lastEventId;
  }

  /** Feeds the next chunk of the stream. */
  public void feed(ByteBuffer chunk) {
    while (chunk.hasRemaining()) {
      accept(chunk.get());
    }
  }

  /** Feeds the next chunk of the stream. */
  public void feed(byte[] bytes, int offset, int length) {
    for (int i = offset; i < offset + length; i++) {
      accept(bytes[i]);
    }
  }

  private void accept(byte b) {
    if (!started) {
      // A leading UTF-8 BOM (EF BB BF) is skipped once, at the start of the stream only.
      final byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
      if (b == bom[bomMatched]) {
        bomMatched++;
        if (bomMatched == 3) {
          started = true;
        }
        return;
      }
      started = true;
      for (int i = 0; i < bomMatched; i++) {
        append(bom[i]);
      }
    }
    if (b == '\n') {
      if (lastWasCr) {
        lastWasCr = false; // the LF of a CRLF pair
        return;
      }
      endLine();
    } else if (b == '\r') {
      lastWasCr = true;
      endLine();
    } else {
      lastWasCr = false;
      append(b);
    }
  }

  private void append(byte b) {
    if (lineLength >= maxLineBytes) {
      throw new IllegalStateException("event-stream line longer than " + maxLineBytes + " bytes");
    }
    if (lineLength == line.length) {
      line = Arrays.copyOf(line, Math.min(maxLineBytes, line.length * 2));
    }
    line[lineLength++] = b;
  }

  private void endLine() {
    String text = new String(line, 0, lineLength, StandardCharsets.UTF_8);
    lineLength = 0;
    if (line.length > 64 * 1024) {
      line = new byte[256]; // do not keep a huge buffer after one long line
    }
    processLine(text);
  }

  private void processLine(String text) {
    if (text.isEmpty()) {
      dispatch();
      return;
    }
    if (text.charAt(0) == ':') {
      handler.onComment(text.substring(1));
      return;
    }
    int colon = text.indexOf(':');
    String field;
    String value;
    if (colon >= 0) {
      field = text.substring(0, colon);
      value = text.substring(colon + 1);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
    } else {
      field = text;
      value = "";
    }
    switch (field) {
      case "event":
        eventType = value;
        break;
      case "data":
        data.append(value).append('\n');
        hasData = true;
        break;
      case "id":
        if (value.indexOf('\u0000') < 0) {
          lastEventIdBuffer = value;
        }
        break;
      case "retry":
        if (!value.isEmpty() && value.chars().allMatch(c -> c >= '0' && c <= '9')) {
          try {
            handler.onRetry(Long.parseLong(value));
          } catch (NumberFormatException e) {
            handler.onRetry(Long.MAX_VALUE); // all digits but too large for a long
          }
        }
        break;
      default:
        handler.onField(field, value);
    }
  }

  private void dispatch() {
    lastEventId = lastEventIdBuffer;
    if (!hasData) {
      data.setLength(0);
      eventType = "";
      return;
    }
    String d = data.substring(0, data.length() - 1); // drop the final LF
    String type = eventType.isEmpty() ? "message" : eventType;
    data.setLength(0);
    hasData = false;
    eventType = "";
    handler.onEvent(lastEventId, type, d);
  }
}
