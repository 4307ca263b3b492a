package dev.switchboard.sse;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.internal.FanoutCache;
import dev.switchboard.transport.internal.MessageJson;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Writes Switchboard messages as {@code text/event-stream} events: {@code id:}, {@code event:} (when
 * the message has one), one {@code data:} line per payload line. Payloads that are not UTF-8 text
 * (or that contain CR, which SSE cannot carry) go as base64 with an {@code encoding: base64} line;
 * a content type other than UTF-8 text is named in a {@code content-type:} line. EventSource ignores
 * both extension fields. Ids and event names are validated upstream and never contain CR or LF, so
 * no field can inject an event.
 */
final class SseFormat {
  static final String TEXT = Message.TEXT_CONTENT_TYPE;

  private SseFormat() {}

  static void retry(ByteArrayOutputStream out, long millis) {
    ascii(out, "retry: " + millis + "\n\n");
  }

  /** A comment line: keeps an idle stream (and the proxies on its way) alive. */
  static byte[] heartbeat() {
    return ":\n\n".getBytes(StandardCharsets.US_ASCII);
  }

  /** The comment that starts {@link #subscribed}; clients other than Switchboard's ignore comments. */
  static final String SUBSCRIBED = "subscribed recovered=";

  /**
   * {@code : subscribed recovered=true|false}, a comment line saying the subscription is in place
   * ({@code recovered} false when a resume hit a history gap; a reset event follows). EventSource
   * and other third-party clients ignore comments.
   */
  static byte[] subscribed(boolean recovered) {
    return (": " + SUBSCRIBED + recovered + "\n\n").getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] reset(String reason) {
    return ("event: reset\ndata: {\"reason\":\"" + reason + "\"}\n\n").getBytes(StandardCharsets.UTF_8);
  }

  private static final FanoutCache<Message, byte[]> ENCODED = FanoutCache.ofMessages(m -> {
    ByteArrayOutputStream out = new ByteArrayOutputStream(m.payloadSize() + 64);
    message(out, m);
    return out.toByteArray();
  });

  /** The event bytes of a message, formatted once per fan-out rather than once per subscriber. */
  static byte[] encoded(Message m) {
    return ENCODED.get(m);
  }

  static void message(ByteArrayOutputStream out, Message m) {
    ascii(out, "id: ");
    ascii(out, m.id());
    if (m.event() != null) {
      ascii(out, "\nevent: ");
      ascii(out, m.event());
    }
    byte[] payload = m.payload();
    boolean textual = m.isText() || m.isJson();
    boolean base64 = !textual || contains(payload, (byte) '\r') || !MessageJson.isUtf8(payload);
    if (!m.contentType().equalsIgnoreCase(TEXT)) {
      ascii(out, "\ncontent-type: ");
      ascii(out, m.contentType());
    }
    if (base64) {
      ascii(out, "\nencoding: base64\ndata: ");
      ascii(out, Base64.getEncoder().encodeToString(payload));
      ascii(out, "\n\n");
      return;
    }
    ascii(out, "\ndata: ");
    int start = 0;
    for (int i = 0; i < payload.length; i++) {
      if (payload[i] == '\n') {
        out.write(payload, start, i - start);
        ascii(out, "\ndata: ");
        start = i + 1;
      }
    }
    out.write(payload, start, payload.length - start);
    ascii(out, "\n\n");
  }

  private static boolean contains(byte[] a, byte b) {
    for (byte x : a) {
      if (x == b) {
        return true;
      }
    }
    return false;
  }

  private static void ascii(ByteArrayOutputStream out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.write(b, 0, b.length);
  }
}
