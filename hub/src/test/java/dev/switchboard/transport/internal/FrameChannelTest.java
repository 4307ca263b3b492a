package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The session core's own rules, on a transport whose connections and writes the test drives (a
 * stalled connection cannot be forced reliably on a real socket); every real transport runs the
 * contract suite on top of it.
 */
class FrameChannelTest {
  /** Connections are strings; a write completes when the test says so (or at once). */
  static final class Fake extends FrameChannel<String, String> {
    final LinkedBlockingQueue<CompletableFuture<String>> attempts = new LinkedBlockingQueue<>();
    final List<String> written = new CopyOnWriteArrayList<>();
    final LinkedBlockingQueue<CompletableFuture<Void>> unfinished = new LinkedBlockingQueue<>();
    volatile boolean stalled;
    final List<String> closedConnections = new CopyOnWriteArrayList<>();
    volatile Runnable onWrite = () -> {};

    Fake(TransportConfig config) {
      super("fake", config, "fake://hub");
      start();
    }

    @Override
    protected void connect(CompletableFuture<String> attempt) {
      attempts.add(attempt);
    }

    @Override
    protected String publishFrame(Message draft, String ref) {
      return "publish " + ref + " " + draft.text();
    }

    @Override
    protected String subscribeFrame(String topic, String after, String ref) {
      return "subscribe " + topic + " " + after + " " + ref;
    }

    @Override
    protected String unsubscribeFrame(String topic) {
      return "unsubscribe " + topic;
    }

    @Override
    protected int frameBytes(String frame) {
      return frame.length();
    }

    @Override
    protected CompletionStage<?> write(String connection, String frame) {
      written.add(frame);
      onWrite.run();
      CompletableFuture<Void> done = new CompletableFuture<>();
      if (stalled) {
        unfinished.add(done);
      } else {
        done.complete(null);
      }
      return done;
    }

    @Override
    protected boolean isEnded(String connection) {
      return false;
    }

    @Override
    protected void closeConnection(String connection) {
      closedConnections.add(connection);
    }

    /** Answers the next connection attempt with {@code name}. */
    CompletableFuture<String> open(String name) throws InterruptedException {
      CompletableFuture<String> attempt = attempts.poll(10, TimeUnit.SECONDS);
      if (attempt == null) {
        fail("no connection attempt");
      }
      opened(attempt, name);
      return attempt;
    }
  }

  private static Fake channel(Consumer<TransportConfig.Builder> customize) {
    TransportConfig.Builder b = TransportConfig.builder().url("http://127.0.0.1:1")
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(1), Duration.ofMillis(5)));
    customize.accept(b);
    return new Fake(b.build());
  }

  private static SwitchboardException failure(CompletionStage<?> stage) throws Exception {
    try {
      stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return SwitchboardException.from(e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("still pending", e);
    }
    return fail("expected a failure");
  }

  @Test
  void aChannelClosedWhileItsConnectionOpens_endsThatConnection() throws Exception {
    Fake c = channel(b -> {});
    c.subscribe("t", new MessageListener() {
      @Override
      public void onMessage(Message message) {}
    });
    // close() lands while opened() resubscribes, after its own check of the state: the future is
    // not complete yet, so close() cannot end the connection; opened() must.
    c.onWrite = c::close;
    c.open("one");
    assertEquals(Channel.State.CLOSED, c.state());
    assertEquals(List.of("one"), c.closedConnections, "the connection that opened during close() is ended");

    Fake d = channel(b -> {});
    d.open("two");
    d.close();
    assertEquals(List.of("two"), d.closedConnections, "an open connection is ended once by close()");
  }

  @Test
  void aFullSendQueue_refusesThePublishAtOnce_andTakesMoreOnceItDrains() throws Exception {
    Fake c = channel(b -> b.maxSendQueueBytes(100));
    c.stalled = true;
    c.open("one");
    String sixty = "x".repeat(60);
    CompletionStage<Message> first = c.send(Message.text("t", sixty));
    SwitchboardException e = failure(c.send(Message.text("t", sixty)));
    assertEquals(Status.TOO_MANY_REQUESTS, e.status());
    assertEquals("send_queue_full", e.errorCode());
    assertEquals(1, c.written.size(), "the refused publish was never written");
    c.unfinished.take().complete(null);
    c.send(Message.text("t", sixty));
    assertEquals(2, c.written.size());
    assertFalse(first.toCompletableFuture().isDone(), "written, still waiting for its ack");
    c.close();
  }

  @Test
  void publishesAwaitingAnAnswer_areBounded() throws Exception {
    Fake c = channel(b -> b.maxPendingPublishes(2));
    c.open("one");
    CompletionStage<Message> p1 = c.send(Message.text("t", "a"));
    c.send(Message.text("t", "b"));
    SwitchboardException e = failure(c.send(Message.text("t", "c")));
    assertEquals("too_many_pending", e.errorCode());
    c.onAckFrame("p1", "id-1", null);
    assertEquals("id-1", p1.toCompletableFuture().get(10, TimeUnit.SECONDS).id());
    c.send(Message.text("t", "d"));
    assertEquals(List.of("publish p1 a", "publish p2 b", "publish p3 d"), c.written);
    c.close();
  }

  @Test
  void aPublishWithoutAnswer_failsAtTheRequestTimeout_evenWhileNoConnectionIsUp() throws Exception {
    Fake c = channel(b -> b.requestTimeout(Duration.ofMillis(50)));
    SwitchboardException e = failure(c.send(Message.text("t", "a")));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("deadline_exceeded", e.errorCode());
    c.close();
  }

  @Test
  void aRetryableDisconnect_reconnectsAndResubscribes_aPayloadTooLargeOneEndsTheChannel() throws Exception {
    Fake c = channel(b -> {});
    List<SwitchboardException> errors = new CopyOnWriteArrayList<>();
    c.subscribe("t", "id-0", new MessageListener() {
      @Override
      public void onMessage(Message message) {}

      @Override
      public void onError(SwitchboardException error) {
        errors.add(error);
      }
    });
    CompletableFuture<String> first = c.open("one");
    c.onMessageFrame(Message.builder("t").id("id-5").text("m").build());
    c.disconnected(first, new SwitchboardException(Status.SLOW_CONSUMER, "slow"));
    assertEquals(Channel.State.RECONNECTING, c.state());
    CompletableFuture<String> second = c.open("two");
    assertEquals(List.of("subscribe t id-0 s1", "subscribe t id-5 s2"), c.written, "resumes after the last delivered");
    c.disconnected(second, new SwitchboardException(Status.PAYLOAD_TOO_LARGE, "too big"));
    assertEquals(Channel.State.CLOSED, c.state());
    assertEquals(1, errors.size());
    assertEquals(Status.PAYLOAD_TOO_LARGE, errors.get(0).status());
    assertEquals(Status.PAYLOAD_TOO_LARGE, failure(c.send(Message.text("t", "late"))).status());
  }

  @Test
  void onSubscribed_isRecoveredOnlyWhenAResumeWasAskedAndTheServerHadIt() throws Exception {
    Fake c = channel(b -> {});
    List<String> placed = new CopyOnWriteArrayList<>();
    MessageListener l = new MessageListener() {
      @Override
      public void onMessage(Message message) {}

      @Override
      public void onSubscribed(String topic, boolean recovered) {
        placed.add(topic + " " + recovered);
      }
    };
    c.subscribe("live", l);
    c.subscribe("resumed", "id-1", l);
    c.subscribe("gap", "id-1", l);
    c.open("one");
    c.onSubscribedFrame("live", true);
    c.onSubscribedFrame("resumed", true);
    c.onSubscribedFrame("gap", false);
    assertEquals(List.of("live false", "resumed true", "gap false"), placed);
    assertTrue(c.written.stream().allMatch(f -> f.startsWith("subscribe")));
    c.close();
  }
}
