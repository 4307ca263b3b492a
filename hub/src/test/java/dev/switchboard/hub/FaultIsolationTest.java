package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What one failing subscriber can do to the others and to the publisher: nothing. */
class FaultIsolationTest {
  private final Hub hub = Hub.builder().build();

  @AfterEach
  void stop() {
    hub.shutdown();
  }

  /** Records closes; throws from onReady from its {@code throwFrom}-th call on (0: never). */
  static final class Sink implements Connection.Sink {
    final int throwFrom;
    final boolean throwOnClose;
    final AtomicInteger ready = new AtomicInteger();
    final AtomicReference<Status> closed = new AtomicReference<>();

    Sink(int throwFrom, boolean throwOnClose) {
      this.throwFrom = throwFrom;
      this.throwOnClose = throwOnClose;
    }

    @Override
    public void onReady() {
      if (ready.incrementAndGet() >= throwFrom && throwFrom > 0) {
        // What Tomcat's async remote does on a session closed under us.
        throw new IllegalStateException("The WebSocket session has been closed");
      }
    }

    @Override
    public void onClose(Status status, String reason) {
      closed.set(status);
      if (throwOnClose) {
        throw new IllegalStateException("closed twice");
      }
    }
  }

  private static List<String> texts(Connection c) {
    List<String> out = new ArrayList<>();
    Connection.Event e;
    while ((e = c.poll()) != null) {
      if (e instanceof Connection.Delivery d) {
        out.add(d.message().text());
      }
    }
    return out;
  }

  private static List<String> expected(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add("m" + i);
    }
    return out;
  }

  @Test
  void sinkThatThrows_isClosedWithInternalAndCounted_othersGetEveryMessageInOrder() {
    Sink firstSink = new Sink(0, false);
    Sink throwerSink = new Sink(6, true); // Subscribed + 4 messages, then throws on the 5th
    Sink lastSink = new Sink(0, false);
    Connection first = hub.connect(Authenticator.ANONYMOUS, "test", firstSink);
    Connection thrower = hub.connect(Authenticator.ANONYMOUS, "test", throwerSink);
    Connection last = hub.connect(Authenticator.ANONYMOUS, "test", lastSink);
    for (Connection c : List.of(first, thrower, last)) {
      c.subscribe("t", null).toCompletableFuture().join();
    }
    List<String> firstGot = new ArrayList<>();
    List<String> lastGot = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      // Completes normally: the failure stays with the thrower.
      hub.publish("t", "m" + i).toCompletableFuture().join();
      firstGot.addAll(texts(first));
      lastGot.addAll(texts(last));
    }
    assertEquals(expected(50), firstGot);
    assertEquals(expected(50), lastGot, "the member after the thrower missed nothing");
    assertTrue(thrower.isClosed());
    assertEquals(Status.INTERNAL, thrower.closeStatus());
    assertEquals(Status.INTERNAL, throwerSink.closed.get(), "its sink was told, and that threw too");
    assertEquals(1, hub.deliveryFailures());
    assertEquals(0, hub.slowConsumerDisconnects());
    assertEquals(2, hub.subscriberCount(), "the thrower's subscription is gone");
    assertEquals(6, throwerSink.ready.get(), "no more deliveries after it failed");
    hub.shutdown();
    assertEquals(Status.UNAVAILABLE, firstSink.closed.get());
    assertEquals(Status.UNAVAILABLE, lastSink.closed.get());
  }

  @Test
  void memberWhoseDeliveryThrows_doesNotCostTheMembersAfterItTheMessage() {
    Connection before = hub.connect(Authenticator.ANONYMOUS, "test", new Sink(0, false));
    before.subscribe("t", null).toCompletableFuture().join();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    Hub.Member broken = new Hub.Member() {
      @Override
      public void deliver(Message m) {
        throw new IllegalStateException("broken member");
      }

      @Override
      public void failed(Throwable cause) {
        failures.add(cause);
        throw new IllegalStateException("and its failure handler too");
      }
    };
    hub.join("t", broken);
    Connection after = hub.connect(Authenticator.ANONYMOUS, "test", new Sink(0, false));
    after.subscribe("t", null).toCompletableFuture().join();
    for (int i = 0; i < 20; i++) {
      hub.publish("t", "m" + i).toCompletableFuture().join();
    }
    assertEquals(expected(20), texts(before));
    assertEquals(expected(20), texts(after));
    assertEquals(20, failures.size());
    assertSame(IllegalStateException.class, failures.get(0).getClass());
    hub.leave("t", broken);
  }

  @Test
  void repeatedDeliveryFailures_closeAndCountTheConnectionOnce() {
    Connection ok = hub.connect(Authenticator.ANONYMOUS, "test", new Sink(0, false));
    ok.subscribe("t", null).toCompletableFuture().join();
    Sink sink = new Sink(0, false);
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", sink);
    c.subscribe("t", null).toCompletableFuture().join();
    c.deliveryFailed(new IllegalStateException("forced"));
    c.deliveryFailed(new IllegalStateException("again")); // counted and logged once
    assertEquals(1, hub.deliveryFailures());
    assertEquals(Status.INTERNAL, sink.closed.get());
    hub.publish("t", "x").toCompletableFuture().join();
    assertEquals(List.of("x"), texts(ok));
    assertFalse(ok.isClosed());
  }
}
