package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Connection.Phase;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The subscription state machine of {@link Connection} (NEW → REPLAY ⇄ FETCHING → SEAM → DEDUP →
 * LIVE, CANCELLED), driven step by step: history reads are held until the test releases them, so
 * live messages can be published while a page or the seam's read is in flight.
 */
class SubscriptionPhaseTest {
  /** An in-memory broker whose history reads wait for {@link #release()}. */
  static final class GatedBroker implements Broker {
    final InMemoryBroker store;
    /** Reads the store when released (true) or when called (false): late or early against publishes. */
    boolean readOnRelease = true;
    /** The next read fails with UNAVAILABLE. */
    boolean failNext;
    private final List<Runnable> pending = new ArrayList<>();

    GatedBroker(int historySize) {
      store = new InMemoryBroker(historySize);
    }

    @Override
    public synchronized CompletionStage<History> history(String topic, String afterId, int limit) {
      CompletableFuture<History> f = new CompletableFuture<>();
      if (failNext) {
        failNext = false;
        pending.add(() -> f.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "store down")));
        return f;
      }
      Supplier<History> read = () -> store.history(topic, afterId, limit).toCompletableFuture().join();
      if (readOnRelease) {
        pending.add(() -> f.complete(read.get()));
      } else {
        History h = read.get();
        pending.add(() -> f.complete(h));
      }
      return f;
    }

    /** Completes the reads in flight (not the ones their completion starts); how many there were. */
    int release() {
      List<Runnable> now;
      synchronized (this) {
        now = new ArrayList<>(pending);
        pending.clear();
      }
      now.forEach(Runnable::run);
      return now.size();
    }

    @Override
    public CompletionStage<Message> publish(Message draft) {
      return store.publish(draft);
    }

    @Override
    public AutoCloseable subscribe(String topic, Listener listener) {
      return store.subscribe(topic, listener);
    }

    @Override
    public CompletionStage<Optional<Message>> get(String topic, String id) {
      return store.get(topic, id);
    }

    @Override
    public Comparator<String> idOrder() {
      return store.idOrder();
    }

    @Override
    public void close() {
      store.close();
    }
  }

  private static List<String> drain(Connection c) {
    List<String> out = new ArrayList<>();
    for (Connection.Event e; (e = c.poll()) != null; ) {
      if (e instanceof Connection.Delivery d) {
        out.add(d.message().text());
      } else if (e instanceof Connection.Reset r) {
        out.add("reset:" + r.reason());
      } else if (e instanceof Connection.Subscribed s) {
        out.add("subscribed:" + s.recovered());
      }
    }
    return out;
  }

  private final GatedBroker broker = new GatedBroker(1000);
  private final HubTest.Sink sink = new HubTest.Sink();
  private Hub hub;
  private String start;

  @AfterEach
  void shutdown() {
    if (hub != null) {
      hub.shutdown();
    }
  }

  /** A hub over the gated broker with topic t holding "start", then {@code history}; a new connection. */
  private Connection connect(int maxQueuedMessages, String... history) {
    hub = Hub.builder().broker(broker).maxQueuedMessages(maxQueuedMessages).build();
    start = publish("t", "start");
    for (String text : history) {
      publish("t", text);
    }
    return hub.connect(Authenticator.ANONYMOUS, "test", sink);
  }

  private String publish(String topic, String text) {
    return hub.publish(topic, text).toCompletableFuture().join().id();
  }

  private static SwitchboardException failure(CompletionStage<?> stage) {
    return SwitchboardException.from(assertThrows(CompletionException.class, () -> stage.toCompletableFuture().join()));
  }

  @Test
  void liveMessagesPublishedWhileReadsAreInFlight_areQueuedOnceInOrder() {
    List<String> expected = new ArrayList<>(List.of("subscribed:true"));
    for (int i = 0; i < 10; i++) {
      expected.add("h" + i);
    }
    Connection c = connect(8, expected.subList(1, 11).toArray(new String[0])); // pages of 4
    CompletionStage<Void> subscribed = c.subscribe("t", start);
    assertEquals(Phase.FETCHING, c.phase("t"));
    assertFalse(subscribed.toCompletableFuture().isDone(), "complete with the first page");
    List<Phase> phases = new ArrayList<>();
    List<String> got = new ArrayList<>();
    for (int round = 0; c.phase("t") != Phase.DEDUP && c.phase("t") != Phase.LIVE; round++) {
      assertTrue(round < 20, "stuck in " + c.phase("t"));
      phases.add(c.phase("t"));
      expected.add("live" + round);
      publish("t", "live" + round); // stored while the page read (or the seam's) is in flight
      assertEquals(1, broker.release());
      got.addAll(drain(c)); // taking events makes room: the next page is read
    }
    assertTrue(subscribed.toCompletableFuture().isDone());
    assertEquals(Phase.FETCHING, phases.get(0));
    assertEquals(Phase.SEAM, phases.get(phases.size() - 1), "the last read in flight was the seam's");
    assertEquals(0, c.replayingSubscriptions());
    publish("t", "after");
    expected.add("after");
    got.addAll(drain(c));
    assertEquals(Phase.LIVE, c.phase("t"));
    assertEquals(expected, got);
  }

  @Test
  void liveMessagesHeldAtTheSeam_followItsHistoryRead() {
    broker.readOnRelease = false; // the seam's read misses what is published while it is in flight
    Connection c = connect(100, "h0");
    c.subscribe("t", start);
    broker.release(); // the only page: joins the live group, reads the seam
    assertEquals(Phase.SEAM, c.phase("t"));
    assertEquals(List.of("subscribed:true", "h0"), drain(c));
    publish("t", "live0");
    publish("t", "live1");
    assertEquals(List.of(), drain(c), "held until the seam's read is queued");
    broker.release();
    assertEquals(List.of("live0", "live1"), drain(c));
    assertEquals(Phase.LIVE, c.phase("t"));
  }

  @Test
  void lateLiveCopiesOfReplayedMessages_areDroppedInDedup_untilANewerOne() {
    HubTest.LaggingBroker lagging = new HubTest.LaggingBroker();
    hub = Hub.builder().broker(lagging).build();
    String start = publish("t", "start");
    Connection early = hub.connect(Authenticator.ANONYMOUS, "test", new HubTest.Sink());
    early.subscribe("t", null).toCompletableFuture().join();
    lagging.holding = true;
    publish("t", "m0");
    publish("t", "m1");
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", new HubTest.Sink());
    c.subscribe("t", start).toCompletableFuture().join();
    assertEquals(Phase.DEDUP, c.phase("t"));
    lagging.release(); // live copies of m0, m1 arrive after the replay sent them
    assertEquals(Phase.DEDUP, c.phase("t"));
    publish("t", "m2");
    assertEquals(Phase.LIVE, c.phase("t"));
    assertEquals(List.of("subscribed:true", "m0", "m1", "m2"), drain(c));
  }

  @Test
  void resumeBeyondHistory_queuesAHistoryGapBeforeTheOldestRetained() {
    hub = Hub.builder().broker(new InMemoryBroker(3)).build();
    String evicted = publish("t", "evicted");
    for (int i = 0; i < 5; i++) {
      publish("t", "m" + i);
    }
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", new HubTest.Sink());
    c.subscribe("t", evicted).toCompletableFuture().join();
    assertEquals(List.of("subscribed:false", "reset:history_gap", "m2", "m3", "m4"), drain(c));
    publish("t", "m5");
    assertEquals(List.of("m5"), drain(c));
    assertEquals(Phase.LIVE, c.phase("t"));
    // A topic with nothing retained: the gap, then everything from its first message on.
    c.subscribe("empty", evicted).toCompletableFuture().join();
    assertEquals(Phase.LIVE, c.phase("empty"));
    publish("empty", "first");
    assertEquals(List.of("subscribed:false", "reset:history_gap", "first"), drain(c));
  }

  @Test
  void unsubscribeWhileAPageIsRead_queuesNothingMore_andStopsReplaying() {
    Connection c = connect(100, "h0");
    CompletionStage<Void> subscribed = c.subscribe("t", start);
    assertEquals(1, c.replayingSubscriptions());
    assertTrue(c.unsubscribe("t"));
    assertNull(c.phase("t"));
    assertEquals(0, c.replayingSubscriptions(), "poll() stops looking for pages to read");
    assertEquals(0, hub.subscriberCount());
    assertEquals(Status.UNAVAILABLE, failure(subscribed).status());
    broker.release();
    publish("t", "later");
    assertEquals(List.of(), drain(c));
    assertFalse(c.isClosed());
    c.subscribe("t", null).toCompletableFuture().join(); // the topic is free again
    assertEquals(Phase.LIVE, c.phase("t"));
  }

  @Test
  void unsubscribeWhileTheSeamIsRead_leavesTheLiveGroup_andQueuesNothingMore() {
    Connection c = connect(100, "h0");
    c.subscribe("t", start);
    broker.release();
    assertEquals(Phase.SEAM, c.phase("t"));
    publish("t", "held");
    assertEquals(List.of("subscribed:true", "h0"), drain(c));
    assertTrue(c.unsubscribe("t"));
    broker.release(); // the seam's read (with "held") answers after the unsubscribe
    publish("t", "later");
    assertEquals(List.of(), drain(c));
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void failedReads_failTheSubscribeBeforeTheFirstPage_andCloseTheConnectionAfterIt() {
    Connection c = connect(2, "h0", "h1"); // pages of 1
    broker.failNext = true;
    CompletionStage<Void> first = c.subscribe("t", start);
    broker.release();
    assertEquals(Status.UNAVAILABLE, failure(first).status());
    assertNull(c.phase("t"));
    assertEquals(0, c.replayingSubscriptions());
    assertFalse(c.isClosed(), "the client can retry the subscribe");

    c.subscribe("t", start);
    broker.release(); // first page: the client is told it is subscribed
    assertEquals(List.of("subscribed:true", "h0"), drain(c));
    assertEquals(Phase.FETCHING, c.phase("t"));
    broker.failNext = true; // the read in flight already has its answer: fail the next one
    broker.release();
    assertEquals(List.of("h1"), drain(c));
    broker.release();
    assertEquals(Status.UNAVAILABLE, sink.closed.get());
    assertTrue(c.closeReason().startsWith("resume failed: "), c.closeReason());
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void phases_moveOnlyAlongTheMachinesEdges() {
    for (Phase p : Phase.values()) {
      assertEquals(p != Phase.CANCELLED, p.canMoveTo(Phase.CANCELLED), p.name());
      assertFalse(p.canMoveTo(Phase.NEW), p.name());
    }
    assertFalse(Phase.LIVE.canMoveTo(Phase.SEAM));
    assertFalse(Phase.REPLAY.canMoveTo(Phase.SEAM), "only the last page read goes to the seam");
    assertFalse(Phase.DEDUP.canMoveTo(Phase.SEAM));
    assertTrue(Phase.FETCHING.canMoveTo(Phase.REPLAY));
  }
}
