package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The hub and in-memory broker without any transport. */
class HubTest {
  /** A sink that records what the hub tells it. */
  static final class Sink implements Connection.Sink {
    int ready;
    final AtomicReference<Status> closed = new AtomicReference<>();

    @Override
    public void onReady() {
      ready++;
    }

    @Override
    public void onClose(Status status, String reason) {
      closed.set(status);
    }
  }

  private static List<Connection.Event> drain(Connection c) {
    List<Connection.Event> out = new ArrayList<>();
    Connection.Event e;
    while ((e = c.poll()) != null) {
      out.add(e);
    }
    return out;
  }

  private static List<String> texts(List<Connection.Event> events) {
    List<String> out = new ArrayList<>();
    for (Connection.Event e : events) {
      if (e instanceof Connection.Delivery d) {
        out.add(d.message().text());
      } else if (e instanceof Connection.Reset r) {
        out.add("reset:" + r.reason());
      }
    }
    return out;
  }

  @Test
  void broker_assignsOrderedIdsAndKeepsBoundedHistory() {
    InMemoryBroker b = new InMemoryBroker(3);
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      stored.add(b.publish(Message.text("t", "m" + i)).toCompletableFuture().join());
    }
    Broker.History all = b.history("t", null, 10).toCompletableFuture().join();
    assertEquals(List.of("m2", "m3", "m4"), all.messages().stream().map(Message::text).toList());
    assertEquals(stored.get(4).id(), all.latestId());
    Broker.History fromKept = b.history("t", stored.get(2).id(), 10).toCompletableFuture().join();
    assertTrue(fromKept.recovered());
    assertEquals(List.of("m3", "m4"), fromKept.messages().stream().map(Message::text).toList());
    Broker.History fromEvicted = b.history("t", stored.get(0).id(), 10).toCompletableFuture().join();
    assertFalse(fromEvicted.recovered());
    assertTrue(b.get("t", stored.get(0).id()).toCompletableFuture().join().isEmpty());
    assertEquals("m4", b.get("t", stored.get(4).id()).toCompletableFuture().join().orElseThrow().text());
  }

  @Test
  void broker_idsFromAnotherEpochOrGarbageAreAGap_fromTheOldestRetained() {
    InMemoryBroker before = new InMemoryBroker();
    String oldId = before.publish(Message.text("t", "x")).toCompletableFuture().join().id();
    InMemoryBroker after = new InMemoryBroker();
    after.publish(Message.text("t", "y")).toCompletableFuture().join();
    Broker.History foreign = after.history("t", oldId, 10).toCompletableFuture().join();
    assertFalse(foreign.recovered());
    assertEquals("y", foreign.messages().get(0).text());
    Broker.History garbage = after.history("t", "garbage", 10).toCompletableFuture().join();
    assertFalse(garbage.recovered());
    assertEquals("y", garbage.messages().get(0).text());
  }

  @Test
  void answeredLongPolls_leaveNoTimeoutQueuedOnTheTimer() throws Exception {
    Hub hub = Hub.builder().build();
    try {
      java.util.concurrent.ScheduledThreadPoolExecutor timer =
          (java.util.concurrent.ScheduledThreadPoolExecutor) hub.scheduler();
      int before = timer.getQueue().size();
      List<java.util.concurrent.CompletableFuture<Broker.History>> polls = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        polls.add(hub.poll(() -> "u", "t", null, 10, Duration.ofSeconds(60)).toCompletableFuture());
      }
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (timer.getQueue().size() < before + 200 && System.nanoTime() < deadline) {
        Thread.sleep(5); // each waiting poll schedules its 60 s timeout once its history read is done
      }
      assertEquals(before + 200, timer.getQueue().size(), "every waiting poll has its timeout queued");
      hub.publish(Message.text("t", "wake")).toCompletableFuture().join();
      for (java.util.concurrent.CompletableFuture<Broker.History> p : polls) {
        assertEquals("wake", p.get(30, java.util.concurrent.TimeUnit.SECONDS).messages().get(0).text());
      }
      // Answered early, each poll cancels its timeout (as it completes, maybe just after get() returns),
      // and the timer drops it at once; it would otherwise stay queued for its whole minute, longer
      // than this wait: thousands of dead tasks under load.
      long cleared = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (timer.getQueue().size() > before && System.nanoTime() < cleared) {
        Thread.sleep(5);
      }
      assertEquals(before, timer.getQueue().size());
    } finally {
      hub.shutdown();
    }
  }

  @Test
  void malformedResumeIds_areInvalidArgument_onSubscribeAndPoll() {
    Hub hub = Hub.builder().build();
    Connection c = hub.connect(() -> "u", "test", new Connection.Sink() {
      @Override
      public void onReady() {}

      @Override
      public void onClose(dev.switchboard.transport.Status status, String reason) {}
    });
    for (String bad : new String[] {"has space", "x".repeat(129), "\u0000", "caf\u00e9"}) {
      CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
          () -> c.subscribe("t", bad).toCompletableFuture().join(), bad);
      assertEquals("invalid_id", ((SwitchboardException) e.getCause()).errorCode());
      CompletionException p = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
          () -> hub.poll(() -> "u", "t", bad, 10, java.time.Duration.ZERO).toCompletableFuture().join(), bad);
      assertEquals("invalid_id", ((SwitchboardException) p.getCause()).errorCode());
    }
    hub.shutdown();
  }

  @Test
  void overflowingTheQueue_closesAsSlowConsumer_andOthersAreUnaffected() {
    Hub hub = Hub.builder().maxQueuedMessages(4).build();
    Sink slowSink = new Sink();
    Sink fastSink = new Sink();
    Connection slow = hub.connect(Authenticator.ANONYMOUS, "test", slowSink);
    Connection fast = hub.connect(Authenticator.ANONYMOUS, "test", fastSink);
    slow.subscribe("t", null).toCompletableFuture().join();
    fast.subscribe("t", null).toCompletableFuture().join();
    assertEquals(2, hub.subscriberCount());
    List<String> fastGot = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      hub.publish("t", "m" + i).toCompletableFuture().join();
      fastGot.addAll(texts(drain(fast)));
    }
    assertEquals(Status.SLOW_CONSUMER, slowSink.closed.get());
    assertEquals(1, hub.slowConsumerDisconnects());
    assertTrue(slow.isClosed());
    assertNull(fastSink.closed.get());
    assertEquals(List.of("m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"), fastGot);
    assertEquals(1, hub.subscriberCount(), "the slow consumer's subscription is gone");
    hub.shutdown();
    assertEquals(Status.UNAVAILABLE, fastSink.closed.get());
  }

  @Test
  void subscribed_isQueuedOnlyOnceLive_soAPublishTheMomentItIsReadIsDelivered() {
    // The writer here reads inside onReady and answers Subscribed at once with a publish, as fast as
    // any client could: a Subscribed queued before the subscription joins the topic loses it.
    Hub hub = Hub.builder().build();
    List<String> got = new ArrayList<>();
    AtomicReference<Connection> connection = new AtomicReference<>();
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", new Connection.Sink() {
      boolean reading; // onReady re-enters from the publish below; the outer loop reads on

      @Override
      public void onReady() {
        if (reading) {
          return;
        }
        reading = true;
        try {
          for (Connection.Event e; (e = connection.get().poll()) != null; ) {
            if (e instanceof Connection.Subscribed s) {
              got.add("subscribed");
              hub.publish(s.topic(), "right after subscribed").toCompletableFuture().join();
            } else if (e instanceof Connection.Delivery d) {
              got.add(d.message().text());
            }
          }
        } finally {
          reading = false;
        }
      }

      @Override
      public void onClose(Status status, String reason) {}
    });
    connection.set(c);
    c.subscribe("t", null).toCompletableFuture().join();
    hub.publish("t", "later").toCompletableFuture().join();
    assertEquals(List.of("subscribed", "right after subscribed", "later"), got);
    assertEquals(1, hub.subscriberCount());
    hub.shutdown();
  }

  @Test
  void resume_replaysHistoryPageByPageWithoutOverflowing_thenGoesLive() {
    Hub hub = Hub.builder().broker(new InMemoryBroker(5000)).maxQueuedMessages(8).build();
    String from = hub.publish("t", "start").toCompletableFuture().join().id();
    for (int i = 0; i < 1000; i++) {
      hub.publish("t", "h" + i).toCompletableFuture().join();
    }
    Sink sink = new Sink();
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", sink);
    c.subscribe("t", from).toCompletableFuture().join();
    List<String> got = new ArrayList<>();
    Connection.Event e;
    int live = 0;
    while ((e = c.poll()) != null || live < 3) {
      if (e == null) {
        hub.publish("t", "live" + live++).toCompletableFuture().join();
        continue;
      }
      got.addAll(texts(List.of(e)));
    }
    assertNull(sink.closed.get(), "a backlog larger than the queue is not a slow consumer");
    assertEquals(1003, got.size());
    assertEquals("h0", got.get(0));
    assertEquals("h999", got.get(999));
    assertEquals(List.of("live0", "live1", "live2"), got.subList(1000, 1003));
  }

  @Test
  void publishChecks_topicPayloadAndAuthorisation() {
    Hub hub = Hub.builder().maxPayloadBytes(10)
        .authorizer((p, topic, action) -> action != Authorizer.Action.PUBLISH || !topic.equals("ro")).build();
    SwitchboardException big = SwitchboardException.from(org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class,
        () -> hub.publish(Message.builder("t").payload(new byte[11]).build()).toCompletableFuture().join()));
    assertEquals(Status.PAYLOAD_TOO_LARGE, big.status());
    SwitchboardException denied = SwitchboardException.from(org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class,
        () -> hub.publish(Authenticator.ANONYMOUS, Message.text("ro", "x")).toCompletableFuture().join()));
    assertEquals(Status.PERMISSION_DENIED, denied.status());
    assertTrue(denied.getMessage().contains("anonymous may not publish on topic ro"), denied.getMessage());
  }

  @Test
  void poll_waitsForTheNextMessage_andCleansUpWhenCancelled() {
    Hub hub = Hub.builder().build();
    var waiting = hub.poll(Authenticator.ANONYMOUS, "p", null, 10, Duration.ofSeconds(30)).toCompletableFuture();
    assertEquals(1, hub.subscriberCount());
    hub.publish("p", "hi").toCompletableFuture().join();
    assertEquals("hi", waiting.join().messages().get(0).text());
    assertEquals(0, hub.subscriberCount());
    var cancelled = hub.poll(Authenticator.ANONYMOUS, "p", waiting.join().latestId(), 10, Duration.ofSeconds(30))
        .toCompletableFuture();
    assertEquals(1, hub.subscriberCount());
    cancelled.cancel(false);
    assertEquals(0, hub.subscriberCount());
  }

  @Test
  void broker_holdsAtMostMaxTopics_andForgetsTopicsThatWereOnlySubscribedTo() throws Exception {
    InMemoryBroker b = new InMemoryBroker(10, 2, java.time.Clock.systemUTC());
    b.publish(Message.text("a", "1")).toCompletableFuture().join();
    b.publish(Message.text("b", "1")).toCompletableFuture().join();
    SwitchboardException e = SwitchboardException.from(org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class, () -> b.publish(Message.text("c", "1")).toCompletableFuture().join()));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("too_many_topics", e.errorCode());
    b.publish(Message.text("a", "2")).toCompletableFuture().join(); // existing topics still take messages
    for (int i = 0; i < 50; i++) {
      b.subscribe("only-subscribed-" + i, m -> { }).close();
    }
    assertEquals(2, b.topicCount(), "topics with no message and no listener are not kept");
    AutoCloseable live = b.subscribe("x", m -> { });
    assertEquals(3, b.topicCount());
    live.close();
    assertEquals(2, b.topicCount());
  }

  @Test
  void subscriptionsPerConnection_areLimited() {
    Hub hub = Hub.builder().maxSubscriptionsPerConnection(2).build();
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", new Sink());
    c.subscribe("a", null).toCompletableFuture().join();
    c.subscribe("b", null).toCompletableFuture().join();
    SwitchboardException e = SwitchboardException.from(org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class, () -> c.subscribe("c", null).toCompletableFuture().join()));
    assertEquals(Status.TOO_MANY_REQUESTS, e.status());
    assertEquals("too_many_subscriptions", e.errorCode());
    c.unsubscribe("a");
    c.subscribe("c", null).toCompletableFuture().join();
  }

  @Test
  void connectionLimit_refusesWith503AndARetryHint() {
    Hub hub = Hub.builder().maxConnections(1).build();
    hub.connect(Authenticator.ANONYMOUS, "test", new Sink());
    SwitchboardException e = org.junit.jupiter.api.Assertions.assertThrows(SwitchboardException.class,
        () -> hub.connect(Authenticator.ANONYMOUS, "test", new Sink()));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("too_many_connections", e.errorCode());
    assertEquals(Duration.ofSeconds(1), e.retryAfter().orElseThrow());
  }

  @Test
  void resumeWhilePublishersRace_deliversEveryMessageOnceInOrder() throws Exception {
    for (int round = 0; round < 20; round++) {
      Hub hub = Hub.builder().broker(new InMemoryBroker(100_000)).build();
      Message marker = hub.publish("race", "marker").toCompletableFuture().join();
      List<Message> got = java.util.Collections.synchronizedList(new ArrayList<>());
      List<String> closes = java.util.Collections.synchronizedList(new ArrayList<>());
      Connection[] c = new Connection[1];
      Object lock = new Object();
      Connection.Sink sink = new Connection.Sink() {
        @Override
        public void onReady() {
          synchronized (lock) {
            Connection.Event e;
            while (c[0] != null && (e = c[0].poll()) != null) {
              if (e instanceof Connection.Delivery d) {
                got.add(d.message());
              }
            }
          }
        }

        @Override
        public void onClose(Status status, String reason) {
          closes.add(status + " " + reason);
        }
      };
      c[0] = hub.connect(Authenticator.ANONYMOUS, "test", sink);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int tt = t;
        Thread th = new Thread(() -> {
          for (int i = 0; i < 200; i++) {
            hub.publish("race", tt + "/" + i).toCompletableFuture().join();
          }
        });
        threads.add(th);
        th.start();
      }
      c[0].subscribe("race", marker.id()).toCompletableFuture().join();
      for (Thread th : threads) {
        th.join();
      }
      sink.onReady();
      List<Message> all = hub.broker().history("race", marker.id(), 10_000).toCompletableFuture().join().messages();
      List<String> ids = new ArrayList<>();
      synchronized (got) {
        got.forEach(m -> ids.add(m.id()));
      }
      assertEquals(List.of(), closes, "round " + round);
      assertEquals(all.stream().map(Message::id).collect(java.util.stream.Collectors.toList()), ids, "round " + round);
      hub.shutdown();
    }
  }

  /** An in-memory broker whose live delivery can be held back, as a broker spanning nodes lags. */
  static final class LaggingBroker implements Broker {
    final InMemoryBroker store = new InMemoryBroker(1000);
    final List<Runnable> held = new ArrayList<>();
    boolean holding;

    @Override
    public java.util.concurrent.CompletionStage<Message> publish(Message draft) {
      return store.publish(draft);
    }

    @Override
    public AutoCloseable subscribe(String topic, Listener listener) {
      return store.subscribe(topic, m -> {
        synchronized (held) {
          if (holding) {
            held.add(() -> listener.onMessage(m));
            return;
          }
        }
        listener.onMessage(m);
      });
    }

    void release() {
      List<Runnable> late;
      synchronized (held) {
        holding = false;
        late = new ArrayList<>(held);
        held.clear();
      }
      late.forEach(Runnable::run);
    }

    @Override
    public java.util.concurrent.CompletionStage<History> history(String topic, String afterId, int limit) {
      return store.history(topic, afterId, limit);
    }

    @Override
    public java.util.concurrent.CompletionStage<java.util.Optional<Message>> get(String topic, String id) {
      return store.get(topic, id);
    }

    @Override
    public java.util.Comparator<String> idOrder() {
      return store.idOrder();
    }

    @Override
    public void close() {
      store.close();
    }
  }

  @Test
  void resume_liveCopiesLaggingBehindTheReplay_areNotDeliveredTwice() {
    LaggingBroker broker = new LaggingBroker();
    Hub hub = Hub.builder().broker(broker).build();
    String from = hub.publish("t", "start").toCompletableFuture().join().id();
    Connection early = hub.connect(Authenticator.ANONYMOUS, "test", new Sink());
    early.subscribe("t", null).toCompletableFuture().join(); // the topic's live feed is up on this node
    broker.holding = true;
    for (int i = 0; i < 3; i++) {
      hub.publish("t", "m" + i).toCompletableFuture().join(); // stored; live copies still on their way
    }
    Connection c = hub.connect(Authenticator.ANONYMOUS, "test", new Sink());
    c.subscribe("t", from).toCompletableFuture().join(); // replays m0..m2 from the store, then joins live
    broker.release(); // the live copies of m0..m2 arrive after the replay sent them
    hub.publish("t", "m3").toCompletableFuture().join();
    assertEquals(List.of("m0", "m1", "m2", "m3"), texts(drain(c)));
    assertEquals(List.of("m0", "m1", "m2", "m3"), texts(drain(early)));
  }
}
