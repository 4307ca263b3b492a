package dev.switchboard.hub;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Printable;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.MessageJson;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * The one validation of a draft before it is stored, applied by {@link Hub#publish(Message)} and so
 * alike on every publish path (REST, WebSocket, gRPC Publish/PublishStream/Connect, Java):
 *
 * <ul>
 *   <li>payload at most the hub's limit (413 {@code payload_too_large});
 *   <li>content type a media type ({@code type/subtype} of token characters, then {@code ;
 *       name=value} parameters, values a token or a quoted string, ASCII only), at most
 *       {@value #MAX_CONTENT_TYPE_LENGTH} characters (415 {@code unsupported_media_type}); for
 *       text and JSON a {@code charset} parameter, if any, is {@code utf-8} or {@code us-ascii} (415
 *       {@code unsupported_charset});
 *   <li>JSON ({@code application/json}, {@code *}{@code /*+json}) exactly one JSON value in UTF-8
 *       (400 {@code invalid_json}), so it can be embedded verbatim in the JSON envelopes;
 *   <li>text ({@code text/*}) valid UTF-8 (400 {@code invalid_text});
 *   <li>headers: at most so many, names tokens, their names and values (UTF-8) together at most so
 *       many bytes (400 {@code too_many_headers}, {@code invalid_header}, {@code headers_too_large}).
 * </ul>
 *
 * Topic and event names and the absence of control characters are invariants of {@link Message}
 * itself. Thread-safe (stateless).
 */
final class PublishRules {
  /** The longest accepted content type, in characters. */
  static final int MAX_CONTENT_TYPE_LENGTH = 255;
  /** Default limit on a message's application headers. */
  static final int DEFAULT_MAX_HEADERS = 64;
  /** Default limit on the UTF-8 bytes of a message's header names and values together. */
  static final int DEFAULT_MAX_HEADER_BYTES = 8 * 1024;

  private PublishRules() {}

  /**
   * Checks {@code draft} against every rule.
   *
   * @throws SwitchboardException PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE or INVALID_ARGUMENT,
   *     with a short code and a message naming the problem
   */
  static void check(Message draft, int maxPayloadBytes, int maxHeaders, int maxHeaderBytes) {
    if (draft.payloadSize() > maxPayloadBytes) {
      throw new SwitchboardException(Status.PAYLOAD_TOO_LARGE, "payload of " + draft.payloadSize()
          + " bytes is over the limit of " + maxPayloadBytes + " bytes");
    }
    String contentType = draft.contentType();
    String charset = mediaTypeCharset(contentType);
    String media = Message.mediaType(contentType);
    boolean json = draft.isJson();
    if (json || draft.isText()) {
      if (charset != null && !charset.equals("utf-8") && !charset.equals("us-ascii")) {
        throw SwitchboardException.of(Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_charset",
            "charset " + Printable.quote(charset) + " is not supported; send text and JSON as UTF-8");
      }
      byte[] payload = draft.payload();
      if (json) {
        MessageJson.requireValidJson(payload);
      } else {
        int bad = MessageJson.invalidUtf8At(payload);
        if (bad >= 0) {
          throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_text",
              "payload is declared " + media + " but is not valid UTF-8 (at byte " + bad + ")");
        }
      }
    }
    checkHeaders(draft.headers(), maxHeaders, maxHeaderBytes);
  }

  private static void checkHeaders(Map<String, String> headers, int maxHeaders, int maxHeaderBytes) {
    if (headers.size() > maxHeaders) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "too_many_headers",
          headers.size() + " headers are over the limit of " + maxHeaders);
    }
    long bytes = 0;
    for (Map.Entry<String, String> h : headers.entrySet()) {
      String name = h.getKey();
      for (int i = 0; i < name.length(); i++) {
        if (!isTokenChar(name.charAt(i))) {
          throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_header",
              "header name " + Printable.quote(name) + " is not a token: use letters, digits and !#$%&'*+-.^_`|~");
        }
      }
      bytes += name.length() + utf8Length(h.getValue());
    }
    if (bytes > maxHeaderBytes) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "headers_too_large",
          "headers of " + bytes + " bytes are over the limit of " + maxHeaderBytes + " bytes");
    }
  }

  /**
   * Parses {@code type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )} (RFC
   * 9110 §8.3.1, ASCII only) and returns the {@code charset} parameter's value in lower case, or null.
   */
  private static String mediaTypeCharset(String ct) {
    if (ct.length() > MAX_CONTENT_TYPE_LENGTH) {
      throw notAMediaType(ct, "it is " + ct.length() + " characters, over the limit of " + MAX_CONTENT_TYPE_LENGTH);
    }
    int n = ct.length();
    int i = token(ct, 0);
    if (i == 0 || i >= n || ct.charAt(i) != '/') {
      throw notAMediaType(ct, "use type/subtype, e.g. application/json");
    }
    int j = token(ct, i + 1);
    if (j == i + 1) {
      throw notAMediaType(ct, "use type/subtype, e.g. application/json");
    }
    String charset = null;
    i = j;
    while (true) {
      i = skipSpace(ct, i);
      if (i == n) {
        return charset;
      }
      if (ct.charAt(i) != ';') {
        throw notAMediaType(ct, "unexpected " + Printable.quote(String.valueOf(ct.charAt(i))) + " at " + i);
      }
      i = skipSpace(ct, i + 1);
      if (i == n || ct.charAt(i) == ';') {
        continue; // an empty parameter is allowed
      }
      int nameEnd = token(ct, i);
      if (nameEnd == i || nameEnd == n || ct.charAt(nameEnd) != '=') {
        throw notAMediaType(ct, "a parameter must be name=value (at " + i + ")");
      }
      String name = ct.substring(i, nameEnd);
      int valueStart = nameEnd + 1;
      String value;
      if (valueStart < n && ct.charAt(valueStart) == '"') {
        StringBuilder sb = new StringBuilder();
        int k = valueStart + 1;
        while (true) {
          if (k >= n) {
            throw notAMediaType(ct, "unterminated quoted string (at " + valueStart + ")");
          }
          char c = ct.charAt(k);
          if (c == '"') {
            break;
          }
          if (c == '\\') {
            k++;
            if (k >= n) {
              throw notAMediaType(ct, "unterminated quoted string (at " + valueStart + ")");
            }
            c = ct.charAt(k);
          }
          if (!(c == '\t' || (c >= 0x20 && c <= 0x7e))) {
            throw notAMediaType(ct, "character not allowed in a quoted string (at " + k + ")");
          }
          sb.append(c);
          k++;
        }
        value = sb.toString();
        i = k + 1;
      } else {
        int valueEnd = token(ct, valueStart);
        if (valueEnd == valueStart) {
          throw notAMediaType(ct, "parameter " + name + " has no value");
        }
        value = ct.substring(valueStart, valueEnd);
        i = valueEnd;
      }
      if (name.equalsIgnoreCase("charset")) {
        charset = value.toLowerCase(Locale.ROOT);
      }
    }
  }

  private static SwitchboardException notAMediaType(String ct, String problem) {
    return SwitchboardException.of(Status.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
        "content type " + Printable.quote(ct) + " is not a media type: " + problem);
  }

  /** The end of the token starting at {@code from} ({@code from} itself when there is none). */
  private static int token(String s, int from) {
    int i = from;
    while (i < s.length() && isTokenChar(s.charAt(i))) {
      i++;
    }
    return i;
  }

  private static int skipSpace(String s, int from) {
    int i = from;
    while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
      i++;
    }
    return i;
  }

  /** RFC 9110 tchar. */
  private static boolean isTokenChar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      return true;
    }
    return c < 0x80 && "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }

  private static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
