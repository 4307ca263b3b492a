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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A {@link MessageListener} that records every callback in order, for assertions. Thread-safe.
 * {@link #onSubscribed} is recorded apart (see {@link #subscribed}), so tests that do not look for
 * it are not disturbed by it.
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

  /**
   * One {@link #onSubscribed} call.
   *
   * @param eventsBefore how many other events were recorded before it
   */
  public record Subscribed(String topic, boolean recovered, int eventsBefore) {}

  private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final LinkedBlockingQueue<Subscribed> subscribed = new LinkedBlockingQueue<>();
  private final AtomicInteger recorded = new AtomicInteger();

  @Override
  public void onMessage(Message message) {
    add(new Event(message, null, null));
  }

  @Override
  public void onSubscribed(String topic, boolean recovered) {
    subscribed.add(new Subscribed(topic, recovered, recorded.get()));
  }

  @Override
  public void onReset(String topic, String reason) {
    add(new Event(null, reason, null));
  }

  @Override
  public void onError(SwitchboardException error) {
    add(new Event(null, null, error));
  }

  private void add(Event e) {
    recorded.incrementAndGet();
    events.add(e);
  }

  /** The next {@link #onSubscribed} call, failing after {@code timeout}. */
  public Subscribed subscribed(Duration timeout) {
    try {
      Subscribed s = subscribed.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (s == null) {
        fail("no onSubscribed within " + timeout);
      }
      return s;
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new AssertionError(ie);
    }
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
