package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Client values in error messages: bounded, and never a raw control character (no forged log lines). */
class PrintableTest {
  @Test
  void quote_escapesControlCharactersAndDelete() {
    assertEquals("'a\\u000d\\u000aINFO forged'", Printable.quote("a\r\nINFO forged"));
    assertEquals("'\\u0000\\u001f\\u007f'", Printable.quote("\u0000\u001f\u007f"));
    assertEquals("'tab\\u0009 \u00e9'", Printable.quote("tab\t \u00e9")); // non-ASCII text stays as it is
  }

  @Test
  void quote_cutsAtSixtyCharacters() {
    assertEquals("'" + "x".repeat(60) + "'", Printable.quote("x".repeat(60)));
    assertEquals("'" + "x".repeat(60) + "...'", Printable.quote("x".repeat(61)));
    // The cut counts characters of the input, so escaping cannot push a long value past the bound.
    assertEquals("'" + "\\u000a".repeat(60) + "...'", Printable.quote("\n".repeat(100)));
  }

  @Test
  void quote_saysNoneForNull_andQuotesEmpty() {
    assertEquals("(none)", Printable.quote(null));
    assertEquals("''", Printable.quote(""));
  }
}
