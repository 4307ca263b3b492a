package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The in-memory broker's memory bounds: per topic by count and bytes, over all topics by a budget. */
class InMemoryBrokerTest {
  private static Message publish(InMemoryBroker b, String topic, int payloadBytes) {
    return b.publish(Message.builder(topic).payload(new byte[payloadBytes]).build()).toCompletableFuture().join();
  }

  private static Broker.History history(InMemoryBroker b, String topic, String after) {
    return b.history(topic, after, 10_000).toCompletableFuture().join();
  }

  private static List<String> ids(Broker.History h) {
    return h.messages().stream().map(Message::id).toList();
  }

  private static SwitchboardException failure(Runnable r) {
    return SwitchboardException.from(assertThrows(CompletionException.class, r::run));
  }

  /** The estimated bytes of one message with this payload on this topic, as the broker counts them. */
  private static long size(String topic, int payloadBytes) {
    return InMemoryBroker.messageBytes(Message.builder(topic).payload(new byte[payloadBytes]).build());
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return best;
  }

  @Test
  void builder_defaults_andRefusesBadValues() {
    InMemoryBroker b = InMemoryBroker.builder().build();
    assertEquals(1000, b.historySize());
    assertEquals(16L << 20, b.maxBytesPerTopic());
    assertEquals(Runtime.getRuntime().maxMemory() / 4, b.maxTotalBytes());
    assertEquals(InMemoryBroker.defaultMaxTotalBytes(), new InMemoryBroker().maxTotalBytes());
    assertThrows(IllegalArgumentException.class, () -> InMemoryBroker.builder().maxMessagesPerTopic(0));
    assertThrows(IllegalArgumentException.class, () -> InMemoryBroker.builder().maxBytesPerTopic(0));
    assertThrows(IllegalArgumentException.class, () -> InMemoryBroker.builder().maxTotalBytes(0));
    assertThrows(IllegalArgumentException.class, () -> InMemoryBroker.builder().maxTopics(0));
    assertThrows(IllegalArgumentException.class, () -> new InMemoryBroker(0));
    assertThrows(NullPointerException.class, () -> InMemoryBroker.builder().clock(null));
  }

  /**
   * Memory grows with what is held, not with capacity: 20,000 topics with one byte each, kept with
   * room for 10,000 messages per topic, take well under a kilobyte each (a preallocated ring took
   * 40 KB), and the broker's own estimate does not undercount them.
   */
  @Test
  void tinyTopics_takeMemoryForWhatTheyHold_notForTheirCapacity() throws Exception {
    InMemoryBroker b = InMemoryBroker.builder().maxMessagesPerTopic(10_000).build();
    publish(b, "warm-up", 1);
    long held = b.heldBytes();
    long before = usedHeapAfterGc();
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      // Fresh strings per message, as a request makes them.
      b.publish(Message.builder(new String("topic-" + i)).payload(new byte[] {1}, new String("application/octet-stream"))
          .build()).toCompletableFuture().join();
    }
    long perTopic = (usedHeapAfterGc() - before) / n;
    long accounted = (b.heldBytes() - held) / n;
    System.out.println("heap per topic with one 1-byte message: " + perTopic + " bytes (estimated " + accounted + ")");
    assertEquals(n + 1, b.topicCount());
    assertTrue(perTopic < 1024, "bytes per topic: " + perTopic);
    assertTrue(accounted >= perTopic, "the estimate (" + accounted + ") covers the heap used (" + perTopic + ")");
  }

  @Test
  void perTopicCount_evictsTheOldest_andAResumeFromBeforeThemIsAGap() {
    InMemoryBroker b = InMemoryBroker.builder().maxMessagesPerTopic(3).build();
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      stored.add(publish(b, "t", 10));
    }
    assertEquals(ids(stored.subList(2, 5)), ids(history(b, "t", null)));
    Broker.History fromLastEvicted = history(b, "t", stored.get(1).id());
    assertTrue(fromLastEvicted.recovered(), "resuming right after the last evicted message misses nothing");
    assertEquals(ids(stored.subList(2, 5)), ids(fromLastEvicted));
    Broker.History fromEvicted = history(b, "t", stored.get(0).id());
    assertFalse(fromEvicted.recovered());
    assertEquals(ids(stored.subList(2, 5)), ids(fromEvicted), "a gap starts at the oldest retained");
    Broker.History fromNewest = history(b, "t", stored.get(4).id());
    assertTrue(fromNewest.recovered());
    assertEquals(List.of(), fromNewest.messages());
    assertEquals(stored.get(4).id(), fromNewest.latestId());
    assertEquals(3 * size("t", 10) + InMemoryBroker.topicBytes("t"), b.heldBytes());
  }

  private static List<String> ids(List<Message> messages) {
    return messages.stream().map(Message::id).toList();
  }

  @Test
  void perTopicBytes_evictTheOldest_butTheNewestMessageAlwaysStays() {
    long one = size("t", 1000);
    InMemoryBroker b = InMemoryBroker.builder().maxBytesPerTopic(2 * one + 10).build();
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      stored.add(publish(b, "t", 1000));
    }
    assertEquals(ids(stored.subList(2, 4)), ids(history(b, "t", null)));
    assertFalse(history(b, "t", stored.get(0).id()).recovered());

    Message big = publish(b, "t", 5000); // larger than the bound alone
    assertEquals(List.of(big.id()), ids(history(b, "t", null)));
    assertEquals(size("t", 5000) + InMemoryBroker.topicBytes("t"), b.heldBytes());
    Message small = publish(b, "t", 1000);
    assertEquals(List.of(small.id()), ids(history(b, "t", null)), "the big one went as soon as another came");
  }

  @Test
  void totalBudget_evictsTheOldestMessagesOfAllTopics_andDropsTopicsLeftEmpty() {
    long one = size("a", 1000); // topics a..f have one-letter names: same sizes
    long topic = InMemoryBroker.topicBytes("a");
    List<String> names = List.of("a", "b", "c", "d", "e", "f");
    // Room for five topics of three messages each, with messages published round-robin.
    InMemoryBroker b = InMemoryBroker.builder().maxTotalBytes(5 * (topic + 3 * one) + one / 2).build();
    List<Message> published = new ArrayList<>();
    for (int round = 0; round < 3; round++) {
      for (String t : names.subList(0, 5)) {
        published.add(publish(b, t, 1000));
      }
    }
    assertEquals(5 * (topic + 3 * one), b.heldBytes(), "all held so far");
    Message f = publish(b, "f", 1000);
    published.add(f);
    assertTrue(b.heldBytes() <= b.maxTotalBytes());

    List<String> retained = new ArrayList<>();
    for (String t : names) {
      retained.addAll(ids(history(b, t, null)));
    }
    List<String> evicted = ids(published).stream().filter(id -> !retained.contains(id)).toList();
    assertFalse(evicted.isEmpty());
    assertEquals(ids(published).subList(0, evicted.size()), evicted, "the oldest ids went first, whatever the topic");
    assertTrue(retained.contains(f.id()));
    assertEquals(heldByHistory(b, names, List.of()), b.heldBytes());

    // Make a drop certain: keep publishing to f until a's history is gone.
    while (!history(b, "a", null).messages().isEmpty()) {
      published.add(publish(b, "f", 1000));
    }
    assertNull(history(b, "a", null).latestId(), "a, emptied with no listener, is no longer held");
    assertEquals(heldByHistory(b, names, List.of()), b.heldBytes());
    String lastOfA = published.stream().filter(m -> m.topic().equals("a")).reduce((x, y) -> y).orElseThrow().id();
    assertFalse(history(b, "a", lastOfA).recovered(), "a dropped topic cannot be resumed exactly");

    // Published again, a dropped topic gets new ids: an old cursor is a gap, never a wrong resume.
    Message again = publish(b, "a", 10);
    assertTrue(b.idOrder().compare(again.id(), lastOfA) > 0);
    Broker.History resumed = history(b, "a", lastOfA);
    assertFalse(resumed.recovered());
    assertEquals(List.of(again.id()), ids(resumed));
  }

  /** What the broker should count for these topics, from what their history shows. */
  private static long heldByHistory(InMemoryBroker b, List<String> topics, List<String> listened) {
    long sum = 0;
    for (String t : topics) {
      List<Message> retained = history(b, t, null).messages();
      if (!retained.isEmpty() || listened.contains(t)) {
        sum += InMemoryBroker.topicBytes(t);
      }
      for (Message m : retained) {
        sum += InMemoryBroker.messageBytes(m);
      }
    }
    return sum;
  }

  @Test
  void totalBudget_whenNothingCanBeEvicted_refusesWithUnavailable_andStoresNothing() throws Exception {
    long topic = InMemoryBroker.topicBytes("t00");
    InMemoryBroker b = InMemoryBroker.builder().maxTotalBytes(10 * topic).build();
    List<AutoCloseable> listeners = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      listeners.add(b.subscribe(String.format("t%02d", i), m -> { })); // held, nothing to evict
    }
    long held = b.heldBytes();
    SwitchboardException e = failure(() -> publish(b, "t00", 10));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("history_budget_exhausted", e.errorCode());
    assertTrue(e.getMessage().contains(Long.toString(b.maxTotalBytes())), e.getMessage());
    assertEquals(held, b.heldBytes());
    assertEquals(List.of(), history(b, "t00", null).messages());
    assertNull(history(b, "t00", null).latestId());

    for (AutoCloseable l : listeners) {
      l.close();
    }
    assertEquals(0, b.topicCount());
    assertEquals(0, b.heldBytes());
    publish(b, "t00", 10); // room again
  }

  @Test
  void aMessageLargerThanTheWholeBudget_isTooLarge() {
    InMemoryBroker b = InMemoryBroker.builder().maxTotalBytes(4096).build();
    SwitchboardException e = failure(() -> publish(b, "t", 5000));
    assertEquals(Status.PAYLOAD_TOO_LARGE, e.status());
    assertEquals(0, b.heldBytes());
    assertEquals(0, b.topicCount());
  }

  /**
   * A sweep never waits for a topic whose lock is held (a listener may publish while holding it, so
   * waiting could deadlock): with the budget full of a busy topic's messages, a publish elsewhere is
   * refused at once, and succeeds once the topic is free.
   */
  @Test
  @Timeout(30)
  void totalBudget_skipsABusyTopic_insteadOfWaitingForIt() throws Exception {
    long one = size("busy", 1000);
    InMemoryBroker b = InMemoryBroker.builder()
        .maxTotalBytes(InMemoryBroker.topicBytes("busy") + InMemoryBroker.topicBytes("other") + 3 * one + 100).build();
    publish(b, "busy", 1000);
    publish(b, "busy", 1000);
    CountDownLatch inListener = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    b.subscribe("busy", m -> {
      inListener.countDown();
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<Message> blocked = pool.submit(() -> publish(b, "busy", 1000)); // holds busy's lock in the listener
      assertTrue(inListener.await(10, TimeUnit.SECONDS));
      SwitchboardException e = failure(() -> publish(b, "other", 1000));
      assertEquals("history_budget_exhausted", e.errorCode());
      release.countDown();
      Message newest = blocked.get(10, TimeUnit.SECONDS);
      Message other = publish(b, "other", 1000); // busy's oldest messages can go now
      assertEquals(List.of(other.id()), ids(history(b, "other", null)));
      List<String> busy = ids(history(b, "busy", null));
      assertEquals(newest.id(), busy.get(busy.size() - 1));
      assertTrue(busy.size() < 3, "busy's oldest went: " + busy);
      assertTrue(b.heldBytes() <= b.maxTotalBytes());
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  /** A listener that publishes to another topic while the budget is full still gets through. */
  @Test
  @Timeout(30)
  void aListenerPublishingWhileTheBudgetIsFull_evictsFromItsOwnTopic() {
    long one = size("in", 100);
    InMemoryBroker b = InMemoryBroker.builder()
        .maxTotalBytes(InMemoryBroker.topicBytes("in") + InMemoryBroker.topicBytes("out") + 4 * one).build();
    List<String> forwarded = Collections.synchronizedList(new ArrayList<>());
    b.subscribe("in", m -> forwarded.add(publish(b, "out", 100).id()));
    for (int i = 0; i < 20; i++) {
      publish(b, "in", 100);
    }
    assertEquals(20, forwarded.size());
    assertTrue(b.heldBytes() <= b.maxTotalBytes());
    assertEquals(heldByHistory(b, List.of("in", "out"), List.of("in")), b.heldBytes());
  }

  @Test
  void aTopicEmptiedWhileListenedTo_isHeldUntilTheLastListenerLeaves() throws Exception {
    long one = size("a", 100);
    InMemoryBroker b = InMemoryBroker.builder().maxTotalBytes(2 * InMemoryBroker.topicBytes("a") + 3 * one).build();
    List<Message> got = new ArrayList<>();
    AutoCloseable sub = b.subscribe("a", got::add);
    Message first = publish(b, "a", 100);
    for (int i = 0; i < 4; i++) {
      publish(b, "b", 100); // pushes a's message out
    }
    assertEquals(List.of(), history(b, "a", null).messages());
    assertEquals(2, b.topicCount(), "a is still listened to");
    Broker.History fromLast = history(b, "a", first.id());
    assertTrue(fromLast.recovered(), "nothing after the last id: nothing missed");
    assertEquals(first.id(), fromLast.latestId());
    assertEquals(List.of(first), got);
    sub.close();
    assertEquals(1, b.topicCount());
    assertEquals(heldByHistory(b, List.of("a", "b"), List.of()), b.heldBytes());
  }

  @Test
  void listenersGetMessagesInIdOrder_andOneThatThrowsDoesNotStopTheOthers() throws Exception {
    InMemoryBroker b = new InMemoryBroker();
    List<String> got = new ArrayList<>();
    b.subscribe("t", m -> {
      throw new IllegalStateException("boom");
    });
    AutoCloseable second = b.subscribe("t", m -> got.add(m.id()));
    List<String> stored = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      stored.add(publish(b, "t", 1).id());
    }
    assertEquals(stored, got);
    List<String> sorted = new ArrayList<>(stored);
    sorted.sort(b.idOrder());
    assertEquals(stored, sorted);
    second.close();
    second.close(); // closing twice is harmless
    publish(b, "t", 1);
    assertEquals(5, got.size());
  }

  /**
   * The ring that grows and shrinks against a plain model: random sizes and bounds, every read and
   * every resume checked after every publish.
   */
  @Test
  void historyMatchesAModel_underRandomSizesAndEvictions() {
    Random random = new Random(42);
    for (int round = 0; round < 20; round++) {
      int maxCount = 1 + random.nextInt(20);
      long maxBytes = size("t", 0) * (1 + random.nextInt(10)) + random.nextInt(3000);
      InMemoryBroker b = InMemoryBroker.builder().maxMessagesPerTopic(maxCount).maxBytesPerTopic(maxBytes).build();
      ArrayDeque<Message> model = new ArrayDeque<>();
      List<Message> all = new ArrayList<>();
      long modelBytes = 0;
      String lastEvicted = null;
      for (int i = 0; i < 200; i++) {
        Message m = publish(b, "t", random.nextInt(i % 50 == 0 ? 5000 : 500));
        all.add(m);
        if (model.size() == maxCount) {
          Message gone = model.removeFirst();
          modelBytes -= InMemoryBroker.messageBytes(gone);
          lastEvicted = gone.id();
        }
        model.addLast(m);
        modelBytes += InMemoryBroker.messageBytes(m);
        while (modelBytes > maxBytes && model.size() > 1) {
          Message gone = model.removeFirst();
          modelBytes -= InMemoryBroker.messageBytes(gone);
          lastEvicted = gone.id();
        }
        List<String> expected = ids(new ArrayList<>(model));
        assertEquals(expected, ids(history(b, "t", null)), "round " + round + " publish " + i);
        assertEquals(modelBytes + InMemoryBroker.topicBytes("t"), b.heldBytes());
        Message probe = all.get(random.nextInt(all.size()));
        int at = expected.indexOf(probe.id());
        Broker.History resumed = history(b, "t", probe.id());
        if (at >= 0) {
          assertTrue(resumed.recovered());
          assertEquals(expected.subList(at + 1, expected.size()), ids(resumed));
          assertEquals(probe, b.get("t", probe.id()).toCompletableFuture().join().orElseThrow());
        } else {
          assertEquals(probe.id().equals(lastEvicted), resumed.recovered(), probe.id());
          assertEquals(expected, ids(resumed));
          assertTrue(b.get("t", probe.id()).toCompletableFuture().join().isEmpty());
        }
        Broker.History page = b.history("t", null, 3).toCompletableFuture().join();
        assertEquals(expected.subList(0, Math.min(3, expected.size())), ids(page));
        assertEquals(m.id(), page.latestId());
      }
    }
  }

  /** Many threads over many topics with a small budget: the accounting stays exact and bounded. */
  @Test
  @Timeout(60)
  void concurrentPublishers_keepTheBudget_andTheAccountingExact() throws Exception {
    InMemoryBroker b = InMemoryBroker.builder().maxMessagesPerTopic(50).maxBytesPerTopic(40_000)
        .maxTotalBytes(400_000).build();
    int threads = 4;
    List<String> topics = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      topics.add("topic-" + i);
    }
    List<List<String>> delivered = new ArrayList<>();
    List<String> listened = new ArrayList<>();
    for (String t : topics) {
      List<String> got = Collections.synchronizedList(new ArrayList<>());
      delivered.add(got);
      if (listened.size() < topics.size() / 2) {
        listened.add(t);
        b.subscribe(t, m -> got.add(m.id()));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int th = 0; th < threads; th++) {
        int seed = th;
        results.add(pool.submit(() -> {
          Random r = new Random(seed);
          int refused = 0;
          for (int i = 0; i < 5000; i++) {
            try {
              publish(b, topics.get(r.nextInt(topics.size())), r.nextInt(2000));
            } catch (CompletionException e) {
              assertEquals("history_budget_exhausted", SwitchboardException.from(e).errorCode());
              refused++;
            }
            assertTrue(b.heldBytes() <= b.maxTotalBytes() + threads * (size("topic-00", 2000) + InMemoryBroker.topicBytes("topic-00")));
          }
          return refused;
        }));
      }
      for (Future<Integer> f : results) {
        f.get(50, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertTrue(b.heldBytes() <= b.maxTotalBytes());
    assertEquals(heldByHistory(b, topics, listened), b.heldBytes());
    for (List<String> got : delivered) {
      List<String> sorted = new ArrayList<>(got);
      sorted.sort(b.idOrder());
      assertEquals(sorted, got, "each listener got its topic's messages in id order");
    }
  }
}
