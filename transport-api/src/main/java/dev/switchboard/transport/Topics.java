package dev.switchboard.transport;


/**
 * Validation of topic names and event names: 1–200 characters of {@code A–Z a–z 0–9 . _ - :}, but
 * not {@code .} or {@code ..} (as path segments, which topics are in every URL, clients and proxies
 * normalise those away: {@code /v1/topics/../messages} would reach another resource). The one check
 * every transport uses; a percent-encoded {@code %2e} decodes to the same refused name.
 *
 * <p>Thread-safe (stateless).
 */
public final class Topics {
  /** The longest allowed topic or event name. */
  public static final int MAX_LENGTH = 200;

  private Topics() {}

  /** Whether {@code name} is a valid topic (or event) name; {@code .} and {@code ..} are not. */
  public static boolean isValid(String name) {
    if (name == null || name.isEmpty() || name.length() > MAX_LENGTH || name.equals(".") || name.equals("..")) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == '-' || c == ':';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /**
   * Returns {@code topic} if valid.
   *
   * @throws SwitchboardException with {@link Status#INVALID_ARGUMENT} and code {@code invalid_topic}
   */
  public static String requireValid(String topic) {
    if (!isValid(topic)) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_topic",
          "invalid topic " + Printable.quote(topic) + ": use 1-" + MAX_LENGTH
              + " characters of A-Z a-z 0-9 . _ - : (not '.' or '..')");
    }
    return topic;
  }

  /**
   * Returns {@code event} if null or valid.
   *
   * @throws SwitchboardException with {@link Status#INVALID_ARGUMENT} and code {@code invalid_event}
   */
  public static String requireValidEvent(String event) {
    if (event != null && !isValid(event)) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_event",
          "invalid event name " + Printable.quote(event) + ": use 1-" + MAX_LENGTH
              + " characters of A-Z a-z 0-9 . _ - : (not '.' or '..')");
    }
    return event;
  }

  /** The longest message id (resume cursor) accepted from a client. */
  public static final int MAX_ID_LENGTH = 128;

  /**
   * Returns {@code id} if null or a plausible message id: 1-{@value #MAX_ID_LENGTH} visible ASCII
   * characters. This is the one syntax check for resume cursors on every transport ({@code after},
   * {@code Last-Event-ID}, {@code lastEventId}); an id that passes it but that the broker never
   * issued (another epoch or node, a restarted in-memory broker, plain garbage) is not an error but
   * a {@code history_gap}: the subscriber gets what history still holds, the same on every transport.
   *
   * @throws SwitchboardException with {@link Status#INVALID_ARGUMENT} and code {@code invalid_id}
   */
  public static String requireValidId(String id) {
    if (id == null) {
      return null;
    }
    boolean ok = !id.isEmpty() && id.length() <= MAX_ID_LENGTH;
    for (int i = 0; ok && i < id.length(); i++) {
      char c = id.charAt(i);
      ok = c >= 0x21 && c <= 0x7e;
    }
    if (!ok) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_id", "invalid message id "
          + Printable.quote(id) + ": use the id of a message received (1-" + MAX_ID_LENGTH
          + " visible ASCII characters)");
    }
    return id;
  }
}
