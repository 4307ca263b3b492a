package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.switchboard.transport.Message;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Fuzz tests of {@link SseParser} (what the SSE client reads from a server) and of its agreement with
 * {@link SseFormat} (what the server writes). In {@code mvn verify} they replay the corpus in
 * {@code SseParserFuzzTestInputs/}; README "Fuzzing" says how to fuzz them.
 */
class SseParserFuzzTest {
  /**
   * Any byte stream parses to the same callbacks however it is cut into chunks; the only failure is
   * the documented {@link IllegalStateException} for a line over the limit, at the same point.
   */
  @FuzzTest(maxDuration = "60s")
  void parse_isIndependentOfChunking(FuzzedDataProvider data) {
    int maxLine = data.consumeInt(1, 512);
    int cuts = data.consumeInt(0, 16);
    int[] at = new int[cuts];
    for (int i = 0; i < cuts; i++) {
      at[i] = data.consumeInt(0, 4096);
    }
    byte[] stream = data.consumeRemainingAsBytes();
    Recorder whole = new Recorder();
    String wholeError = feed(new SseParser(whole, maxLine), stream, new int[0]);
    Recorder chunked = new Recorder();
    String chunkedError = feed(new SseParser(chunked, maxLine), stream, at);
    assertEquals(whole.calls, chunked.calls);
    assertEquals(wholeError, chunkedError);
    for (String call : whole.calls) {
      // Line ends end fields: no value holds a CR, and only event data (lines joined by LF) an LF.
      assertFalse(call.contains("\r"), call);
      assertTrue(call.startsWith("event ") || !call.contains("\n"), call);
    }
  }

  /** Every message the server formats reads back as the same id, event, content type and payload. */
  @FuzzTest(maxDuration = "60s")
  void formattedMessages_roundTrip(FuzzedDataProvider data) {
    int cuts = data.consumeInt(0, 8);
    int[] at = new int[cuts];
    for (int i = 0; i < cuts; i++) {
      at[i] = data.consumeInt(0, 1024);
    }
    String id = "i" + data.consumeString(30).replaceAll("[^\\x21-\\x7e]", "");
    String event = data.consumeBoolean() ? "e" + data.consumeString(10).replaceAll("[^A-Za-z0-9._:-]", "") : null;
    String contentType = data.pickValue(new String[] {Message.TEXT_CONTENT_TYPE, Message.JSON_CONTENT_TYPE,
        Message.DEFAULT_CONTENT_TYPE, "text/csv", "application/x+json"});
    byte[] payload = data.consumeRemainingAsBytes();
    Message m = Message.builder("t").id(id).event(event).payload(payload, contentType).build();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SseFormat.message(out, m);
    Recorder r = new Recorder();
    SseParser parser = new SseParser(r, Integer.MAX_VALUE);
    assertEquals(null, feed(parser, out.toByteArray(), at));

    List<String> events = new ArrayList<>();
    String ct = Message.TEXT_CONTENT_TYPE;
    boolean base64 = false;
    for (String call : r.calls) {
      if (call.startsWith("field content-type=")) {
        ct = call.substring("field content-type=".length());
      } else if (call.equals("field encoding=base64")) {
        base64 = true;
      } else if (call.startsWith("event ")) {
        events.add(call);
      }
    }
    assertEquals(1, events.size(), r.calls.toString());
    assertEquals(id, parser.lastEventId());
    assertEquals(m.contentType(), ct);
    String expectedHead = "event " + id + " " + (event == null ? "message" : event) + " ";
    String e = events.get(0);
    assertTrue(e.startsWith(expectedHead), e);
    String d = e.substring(expectedHead.length());
    byte[] back = base64 ? Base64.getDecoder().decode(d) : d.getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(payload, back);
  }

  /** Feeds {@code stream} cut at the given offsets; returns the parser's error message, or null. */
  private static String feed(SseParser parser, byte[] stream, int[] cuts) {
    int[] sorted = cuts.clone();
    java.util.Arrays.sort(sorted);
    int from = 0;
    try {
      for (int cut : sorted) {
        int to = Math.min(cut, stream.length);
        if (to > from) {
          parser.feed(ByteBuffer.wrap(stream, from, to - from));
          from = to;
        }
      }
      parser.feed(stream, from, stream.length - from);
      return null;
    } catch (IllegalStateException e) {
      return e.getMessage();
    }
  }

  /** Every callback as one string, in order. */
  private static final class Recorder implements SseParser.Handler {
    final List<String> calls = new ArrayList<>();

    @Override
    public void onEvent(String lastEventId, String type, String data) {
      calls.add("event " + lastEventId + " " + type + " " + data);
    }

    @Override
    public void onRetry(long millis) {
      assertTrue(millis >= 0);
      calls.add("retry " + millis);
    }

    @Override
    public void onComment(String comment) {
      calls.add("comment " + comment);
    }

    @Override
    public void onField(String name, String value) {
      calls.add("field " + name + "=" + value);
    }
  }
}
