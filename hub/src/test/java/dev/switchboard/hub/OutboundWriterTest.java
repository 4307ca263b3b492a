package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The shared outbound writer against a scripted transport, without a container. */
class OutboundWriterTest {
  private Hub hub = Hub.builder().build();
  private final List<ExecutorService> executors = new ArrayList<>();

  @AfterEach
  void stop() {
    hub.shutdown();
    executors.forEach(ExecutorService::shutdownNow);
  }

  /**
   * A transport that records what it is asked to do, in order: frames written and
   * {@code close:<code>}; it fails on a chosen frame, and, when asynchronous, completes each send
   * through {@link #completion} (inline, later by the test, or on another thread).
   */
  static class Transport extends OutboundWriter<String> {
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger closes = new AtomicInteger();
    final AtomicBoolean writing = new AtomicBoolean();
    final AtomicBoolean overlapped = new AtomicBoolean();
    volatile boolean ready = true;
    volatile String failOnWrite;
    volatile String failOnEncode;
    volatile Consumer<Transport> completion = t -> t.sent(null);
    volatile SwitchboardException closedWith;

    final boolean asynchronous;

    Transport(boolean asynchronous) {
      super(asynchronous);
      this.asynchronous = asynchronous;
    }

    @Override
    protected String encode(Connection.Event e) {
      if (e instanceof Connection.Delivery d) {
        if (d.message().text().equals(failOnEncode)) {
          throw new IllegalArgumentException("cannot encode " + failOnEncode);
        }
        return d.message().text();
      }
      if (e instanceof Connection.Reset r) {
        return "reset:" + r.reason();
      }
      return null; // Subscribed: nothing on this transport
    }

    @Override
    protected boolean isReady() {
      return ready;
    }

    @Override
    protected void write(String frame) throws IOException {
      if (!writing.compareAndSet(false, true)) {
        overlapped.set(true);
      }
      try {
        if (frame.equals(failOnWrite)) {
          throw new IllegalStateException("The WebSocket session has been closed");
        }
        log.add(frame);
      } finally {
        writing.set(false);
      }
      if (asynchronous) {
        completion.accept(this);
      }
    }

    @Override
    protected void close(SwitchboardException error) {
      closes.incrementAndGet();
      closedWith = error;
      log.add("close:" + (error == null ? "normal" : error.errorCode()));
    }

    void complete() {
      sent(null);
    }

    List<String> frames() {
      synchronized (log) {
        return log.stream().filter(s -> !s.startsWith("close:")).toList();
      }
    }
  }

  private Transport open(Transport t, String topic) {
    t.connect(hub, Authenticator.ANONYMOUS, "test");
    t.start();
    if (topic != null) {
      t.connection().subscribe(topic, null).toCompletableFuture().join();
    }
    return t;
  }

  private void publish(String topic, int from, int to) {
    for (int i = from; i < to; i++) {
      hub.publish(topic, "m" + i).toCompletableFuture().join();
    }
  }

  private static List<String> range(int from, int to) {
    List<String> out = new ArrayList<>();
    for (int i = from; i < to; i++) {
      out.add("m" + i);
    }
    return out;
  }

  @Test
  void repliesGoBeforeQueuedEvents_andNothingIsWrittenWhileNotReady() {
    Transport t = open(new Transport(false), "t");
    t.ready = false;
    publish("t", 0, 3);
    t.reply("ack");
    assertEquals(List.of(), t.log);
    t.ready = true;
    t.drain();
    List<String> want = new ArrayList<>(List.of("ack"));
    want.addAll(range(0, 3));
    assertEquals(want, t.log);
  }

  @Test
  void asynchronousWrites_keepOneFrameInFlight_andTheCompletionWritesTheNext() {
    Transport t = new Transport(true);
    t.completion = x -> { }; // the test completes each send
    open(t, "t");
    publish("t", 0, 3);
    assertEquals(List.of("m0"), t.log);
    t.complete();
    assertEquals(List.of("m0", "m1"), t.log);
    t.complete();
    t.complete();
    assertEquals(range(0, 3), t.log);
    Transport inline = open(new Transport(true), "t"); // completions run inside write()
    publish("t", 3, 10);
    assertEquals(range(3, 10), inline.log);
  }

  @Test
  void writeThatThrows_endsOnlyThatConnection_andNeverReachesThePublisher() {
    Transport broken = open(new Transport(false), "t");
    broken.failOnWrite = "m3";
    Transport asyncBroken = new Transport(true);
    asyncBroken.failOnWrite = "m5";
    open(asyncBroken, "t");
    Transport ok = open(new Transport(true), "t");
    publish("t", 0, 20); // join() would throw if a write failure escaped into the fan-out
    assertEquals(range(0, 20), ok.log);
    assertEquals(List.of("m0", "m1", "m2", "close:internal"), broken.log);
    assertEquals(List.of("m0", "m1", "m2", "m3", "m4", "close:internal"), asyncBroken.log);
    assertTrue(broken.connection().isClosed());
    assertTrue(broken.isEnded());
    assertNull(broken.connection().closeStatus(), "released (the client went away), not closed by the hub");
    assertEquals(0, hub.deliveryFailures(), "a client that went away is not a delivery failure");
    assertEquals(1, hub.subscriberCount());
    assertFalse(ok.isEnded());
  }

  @Test
  void failedAsynchronousCompletion_endsTheConnection() {
    Transport t = new Transport(true);
    t.completion = x -> { };
    open(t, "t");
    publish("t", 0, 3);
    t.sent(new IOException("Broken pipe"));
    assertEquals(List.of("m0", "close:internal"), t.log);
    assertTrue(t.connection().isClosed());
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void encodeThatThrows_closesWithInternal_andIsCountedAsADeliveryFailure() {
    Transport t = open(new Transport(false), "t");
    t.failOnEncode = "m2";
    Transport ok = open(new Transport(false), "t");
    publish("t", 0, 5);
    assertEquals(range(0, 5), ok.log);
    assertEquals(List.of("m0", "m1", "close:internal"), t.log);
    assertEquals(Status.INTERNAL, t.connection().closeStatus());
    assertEquals(1, hub.deliveryFailures());
  }

  @Test
  void tooManyUnreadReplies_isASlowConsumer_countedByTheHub_andDropsWhatIsQueued() {
    hub.shutdown();
    hub = Hub.builder().maxQueuedMessages(4).build();
    Transport t = open(new Transport(false), "t");
    t.ready = false;
    for (int i = 0; i < 4; i++) {
      assertTrue(t.reply("ack" + i));
    }
    assertFalse(t.reply("ack4"));
    assertEquals(List.of("close:slow_consumer"), t.log, "closed at once, though not ready, queued replies dropped");
    assertEquals(1, hub.slowConsumerDisconnects());
    assertEquals(Status.SLOW_CONSUMER, t.connection().closeStatus());
    assertFalse(t.reply("late"));
  }

  @Test
  void slowConsumer_dropsQueuedEvents_andClosesAtOnceEvenWithASendInFlight() {
    hub.shutdown();
    hub = Hub.builder().maxQueuedMessages(4).build();
    Transport t = new Transport(true);
    t.completion = x -> { }; // the client never reads: the first send never completes
    open(t, "t");
    publish("t", 0, 10);
    assertEquals(List.of("m0", "close:slow_consumer"), t.log);
    assertEquals(1, hub.slowConsumerDisconnects());
    t.complete(); // a late completion changes nothing
    assertEquals(1, t.closes.get());
    assertEquals(List.of("m0", "close:slow_consumer"), t.log);
  }

  @Test
  void hubClose_writesWhatIsQueuedFirst_thenCloses_afterTheLastSendCompleted() {
    Transport sync = open(new Transport(false), "t");
    Transport async = new Transport(true);
    async.completion = x -> { };
    open(async, "t");
    sync.ready = false;
    publish("t", 0, 3);
    hub.shutdown();
    assertEquals(List.of(), sync.log, "not ready: waits");
    sync.ready = true;
    sync.drain();
    assertEquals(List.of("m0", "m1", "m2", "close:unavailable"), sync.log);
    assertEquals(Status.UNAVAILABLE, sync.closedWith.status());
    assertEquals(List.of("m0"), async.log);
    async.complete();
    async.complete();
    assertEquals(List.of("m0", "m1", "m2"), async.log);
    async.complete();
    assertEquals(List.of("m0", "m1", "m2", "close:unavailable"), async.log);
  }

  @Test
  void closeAfterFlush_releasesTheConnection_writesWhatIsQueued_thenClosesWithTheError() {
    Transport t = open(new Transport(false), "t");
    t.ready = false;
    publish("t", 0, 2);
    t.reply("ack");
    t.closeAfterFlush(new SwitchboardException(Status.NOT_FOUND, "gone"));
    assertTrue(t.connection().isClosed());
    assertEquals(0, hub.subscriberCount());
    publish("t", 2, 4); // after the release: not for this connection
    t.ready = true;
    t.drain();
    assertEquals(List.of("ack", "m0", "m1", "close:not_found"), t.log);
    Transport normal = open(new Transport(false), null);
    normal.closeAfterFlush(null);
    assertEquals(List.of("close:normal"), normal.log);
  }

  @Test
  void closeNow_dropsWhatIsQueued() {
    Transport t = open(new Transport(false), "t");
    t.ready = false;
    publish("t", 0, 2);
    t.closeNow(SwitchboardException.of(Status.UNAVAILABLE, "ping_timeout", "no pong"));
    assertEquals(List.of("close:ping_timeout"), t.log);
  }

  @Test
  void released_stopsWriting_andNeverCallsClose() {
    Transport t = open(new Transport(false), "t");
    publish("t", 0, 1);
    assertTrue(t.released());
    assertFalse(t.released());
    publish("t", 1, 3);
    t.drain();
    assertEquals(List.of("m0"), t.log);
    assertEquals(0, t.closes.get());
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void nothingIsWrittenBeforeStart() {
    Transport t = new Transport(false);
    t.connect(hub, Authenticator.ANONYMOUS, "test");
    t.reply("hello");
    t.connection().subscribe("t", null).toCompletableFuture().join();
    publish("t", 0, 1);
    assertEquals(List.of(), t.log);
    t.start();
    assertEquals(List.of("hello", "m0"), t.log);
  }

  @Test
  void concurrentPublishersAndCompletionsOnOtherThreads_oneWriterAtATime_nothingLostOrReordered()
      throws Exception {
    hub.shutdown();
    hub = Hub.builder().maxQueuedMessages(100_000).build(); // no slow-consumer cut in this test
    ExecutorService completions = Executors.newSingleThreadExecutor();
    executors.add(completions);
    Transport async = new Transport(true);
    async.completion = x -> completions.execute(x::complete);
    open(async, "t");
    Transport sync = open(new Transport(false), "t");
    int publishers = 4;
    int each = 2000;
    ExecutorService pool = Executors.newFixedThreadPool(publishers);
    executors.add(pool);
    for (int p = 0; p < publishers; p++) {
      int id = p;
      pool.execute(() -> {
        for (int i = 0; i < each; i++) {
          hub.publish("t", id + ":" + i).toCompletableFuture().join();
        }
      });
    }
    pool.shutdown();
    assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (async.log.size() < publishers * each && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    for (Transport t : List.of(async, sync)) {
      assertFalse(t.overlapped.get(), "two threads wrote at once");
      assertFalse(t.isEnded());
      assertEquals(publishers * each, t.log.size());
      int[] next = new int[publishers];
      for (String f : t.frames()) {
        String[] parts = f.split(":");
        int p = Integer.parseInt(parts[0]);
        assertEquals(next[p]++, Integer.parseInt(parts[1]), "publisher " + p + "'s messages in order");
      }
    }
  }

  @Test
  void resumeFromBeyondHistory_theResetReachesTheTransportBeforeTheMessages() {
    hub.shutdown();
    hub = Hub.builder().broker(new InMemoryBroker(2)).build();
    String first = hub.publish(Message.text("t", "old")).toCompletableFuture().join().id();
    publish("t", 0, 3);
    Transport t = open(new Transport(false), null);
    t.connection().subscribe("t", first).toCompletableFuture().join();
    assertEquals(List.of("reset:history_gap", "m1", "m2"), t.log);
  }
}
