package dev.switchboard.transport;

/**
 * Untrusted values rendered for error messages: quoted, at most 60 characters, control characters
 * escaped, so a client's input can neither flood a message nor forge a line of a log. Use it when a
 * {@link SwitchboardException}'s message (from an authenticator, say) names a value a client sent.
 * Stateless and thread-safe.
 */
public final class Printable {
  private Printable() {}

  /** {@code 'value'} (cut to 60 characters with {@code ...}), or {@code (none)} for null. */
  public static String quote(String value) {
    if (value == null) {
      return "(none)";
    }
    StringBuilder sb = new StringBuilder("'");
    int n = Math.min(value.length(), 60);
    for (int i = 0; i < n; i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    if (value.length() > n) {
      sb.append("...");
    }
    return sb.append('\'').toString();
  }
}
