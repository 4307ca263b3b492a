package dev.switchboard.testkit;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.SwitchboardException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@link MessageListener} that records every callback in order, for assertions. Thread-safe.
 */
public class RecordingListener implements MessageListener {
  /** One recorded callback: exactly one of the fields is set. */
  public record Event(Message message, String reset, SwitchboardException error) {
    @Override
    public String toString() {
      return message != null ? "message " + message.id() + " " + message.text()
          : reset != null ? "reset " + reset : "error " + error;
    }
  }

  private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();

  @Override
  public void onMessage(Message message) {
    events.add(new Event(message, null, null));
  }

  @Override
  public void onReset(String topic, String reason) {
    events.add(new Event(null, reason, null));
  }

  @Override
  public void onError(SwitchboardException error) {
    events.add(new Event(null, null, error));
  }

  /** The next event, failing after {@code timeout}. */
  public Event next(Duration timeout) {
    try {
      Event e = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (e == null) {
        fail("no event within " + timeout);
      }
      return e;
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new AssertionError(ie);
    }
  }

  /** The next {@code n} events, which must all be messages. */
  public List<Message> messages(int n, Duration timeout) {
    List<Message> out = new ArrayList<>(n);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (out.size() < n) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        fail("received " + out.size() + " of " + n + " messages within " + timeout);
      }
      Event e = next(Duration.ofNanos(left));
      if (e.message() == null) {
        fail("expected a message but got " + e + " after " + out.size() + " messages");
      }
      out.add(e.message());
    }
    return out;
  }

  /** Skips messages until one matches, and returns it. */
  public Message skipUntil(Predicate<Message> p, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        fail("no matching message within " + timeout);
      }
      Event e = next(Duration.ofNanos(left));
      if (e.message() != null && p.test(e.message())) {
        return e.message();
      }
      if (e.message() == null) {
        fail("expected messages but got " + e);
      }
    }
  }

  /** Fails if any event was recorded and not consumed. */
  public void assertNoMoreEvents() {
    assertNull(events.poll(), "unexpected extra event");
  }

  /** Fails if an event arrives within {@code quiet}. */
  public void assertNoMoreEvents(Duration quiet) {
    try {
      assertNull(events.poll(quiet.toMillis(), TimeUnit.MILLISECONDS), "unexpected extra event");
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new AssertionError(ie);
    }
  }
}
