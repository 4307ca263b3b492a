package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The WHATWG "event stream interpretation" rules, one by one. */
class SseParserTest {
  private final List<String> out = new ArrayList<>();
  private final SseParser parser = new SseParser(new SseParser.Handler() {
    @Override
    public void onEvent(String lastEventId, String type, String data) {
      out.add(type + "|" + lastEventId + "|" + data);
    }

    @Override
    public void onRetry(long millis) {
      out.add("retry " + millis);
    }

    @Override
    public void onComment(String comment) {
      out.add("comment " + comment);
    }

    @Override
    public void onField(String name, String value) {
      out.add("field " + name + "=" + value);
    }
  }, 1 << 20);

  private List<String> parse(String... chunks) {
    for (String c : chunks) {
      byte[] b = c.getBytes(StandardCharsets.UTF_8);
      parser.feed(b, 0, b.length);
    }
    return out;
  }

  @Test
  void lfCrAndCrlfLineEnds_allWork() {
    assertEquals(List.of("message||a", "message||b", "message||c"),
        parse("data: a\n\n", "data: b\r\r", "data: c\r\n\r\n"));
  }

  @Test
  void crlfSplitAcrossChunks_isOneLineEnd() {
    assertEquals(List.of("message||x"), parse("data: x\r", "\n\r", "\n"));
  }

  @Test
  void leadingBom_isSkippedOnce() {
    byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    parser.feed(bom, 0, 3);
    parse("data: one\n\n");
    parser.feed(bom, 0, 3); // a BOM later is content, not skipped: here it starts an unknown field
    parse("data: two\n\n");
    assertEquals(List.of("message||one", "field \uFEFFdata=two"), out.subList(0, 2));
  }

  @Test
  void multiLineData_isJoinedWithLf_andOneLeadingSpaceIsStripped() {
    assertEquals(List.of("message||first\n second\n"),
        parse("data: first\ndata:  second\ndata\n\n"));
  }

  @Test
  void eventTypeAndId_applyToTheEvent_andIdPersists() {
    assertEquals(List.of("price|7|a", "message|7|b", "message||c"),
        parse("event: price\nid: 7\ndata: a\n\n", "data: b\n\n", "id\ndata: c\n\n"));
    assertEquals("", parser.lastEventId());
  }

  @Test
  void idContainingNul_isIgnored() {
    assertEquals(List.of("message|1|a", "message|1|b"), parse("id: 1\ndata: a\n\n", "id: 2\u00003\ndata: b\n\n"));
  }

  @Test
  void retry_acceptsOnlyAsciiDigits() {
    assertEquals(List.of("retry 1500"), parse("retry: 1500\n", "retry: 15a\n", "retry: -1\n", "retry:\n", "retry: 1.5\n"));
  }

  @Test
  void comments_areReported_andNotDispatched() {
    assertEquals(List.of("comment  heartbeat", "comment "), parse(": heartbeat\n", ":\n\n"));
  }

  @Test
  void eventWithoutData_isNotDispatched_butItsIdIsKept() {
    assertEquals(List.of(), parse("id: 5\nevent: x\n\n"));
    assertEquals("5", parser.lastEventId());
    assertEquals(List.of("message|5|d"), parse("data: d\n\n"));
  }

  @Test
  void unterminatedEventAtEndOfStream_isNotDispatched() {
    assertEquals(List.of(), parse("data: half\n"));
  }

  @Test
  void emptyDataLine_dispatchesAnEmptyString() {
    assertEquals(List.of("message||"), parse("data:\n\n"));
  }

  @Test
  void lineWithoutColon_isAFieldWithEmptyValue_andUnknownFieldsAreReported() {
    assertEquals(List.of("field foo=", "field content-type=application/json", "message||"),
        parse("foo\ncontent-type: application/json\ndata\n\n"));
  }

  @Test
  void multiByteUtf8SplitAcrossChunks_decodesCorrectly() {
    byte[] b = "data: ✓é\n\n".getBytes(StandardCharsets.UTF_8);
    for (byte x : b) {
      parser.feed(new byte[] {x}, 0, 1);
    }
    assertEquals(List.of("message||✓é"), out);
  }

  @Test
  void overlongLine_isRefused() {
    SseParser small = new SseParser((id, t, d) -> {}, 16);
    byte[] b = "data: 0123456789abcdef\n".getBytes(StandardCharsets.UTF_8);
    assertThrows(IllegalStateException.class, () -> small.feed(b, 0, b.length));
  }
}
