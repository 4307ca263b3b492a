package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link MessageJson#invalidUtf8At} agrees with the JDK's strict decoder, without allocating. */
class Utf8ValidationTest {
  private static boolean jdkValid(byte[] b) {
    try {
      StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  @Test
  void agreesWithTheJdkDecoder_onEdgeCasesAndRandomBytes() {
    byte[][] cases = {
        {}, {'a'}, {(byte) 0x80}, {(byte) 0xc1, (byte) 0xbf}, {(byte) 0xc2, (byte) 0x80},
        {(byte) 0xe0, (byte) 0x9f, (byte) 0xbf}, {(byte) 0xe0, (byte) 0xa0, (byte) 0x80},
        {(byte) 0xed, (byte) 0x9f, (byte) 0xbf}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
        {(byte) 0xef, (byte) 0xbf, (byte) 0xbf}, {(byte) 0xf0, (byte) 0x8f, (byte) 0xbf, (byte) 0xbf},
        {(byte) 0xf0, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xf4, (byte) 0x8f, (byte) 0xbf, (byte) 0xbf},
        {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xf5, (byte) 0x80, (byte) 0x80, (byte) 0x80},
        {(byte) 0xe2, (byte) 0x82}, {(byte) 0xe2, 'a', 'b'}, {(byte) 0xff},
    };
    for (byte[] c : cases) {
      assertEquals(jdkValid(c), MessageJson.isUtf8(c), java.util.Arrays.toString(c));
    }
    Random random = new Random(7);
    int valid = 0;
    for (int i = 0; i < 200_000; i++) {
      byte[] b = new byte[random.nextInt(8)];
      for (int k = 0; k < b.length; k++) {
        // Mostly bytes around the interesting boundaries, so valid sequences come up too.
        int r = random.nextInt(4);
        b[k] = (byte) (r == 0 ? random.nextInt(0x80) : r == 1 ? 0x80 + random.nextInt(0x40) : 0xc0 + random.nextInt(0x40));
      }
      boolean expected = jdkValid(b);
      valid += expected ? 1 : 0;
      assertEquals(expected, MessageJson.isUtf8(b), java.util.Arrays.toString(b));
    }
    assertEquals(true, valid > 1000, "the random cases include valid UTF-8 too: " + valid);
  }

  @Test
  void namesTheOffsetOfTheFirstBadByte() {
    assertEquals(-1, MessageJson.invalidUtf8At("héllo".getBytes(StandardCharsets.UTF_8)));
    assertEquals(3, MessageJson.invalidUtf8At(new byte[] {'a', (byte) 0xc3, (byte) 0xa9, (byte) 0xff}));
    assertEquals(1, MessageJson.invalidUtf8At(new byte[] {'a', (byte) 0xe2, (byte) 0x82}));
  }
}
