package dev.switchboard.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link RedisBroker} against the local Redis (127.0.0.1:6379), each test under its own key prefix. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisBrokerTest {
  static final String REDIS = System.getProperty("switchboard.test.redis", "redis://127.0.0.1:6379");

  private final String prefix = "sbtest:" + UUID.randomUUID() + ":";
  private final List<RedisBroker> brokers = new ArrayList<>();

  private RedisBroker broker(int maxLength) {
    RedisBroker b = RedisBroker.builder(REDIS).keyPrefix(prefix).maxLength(maxLength).exactTrimming(true).build();
    brokers.add(b);
    return b;
  }

  @AfterEach
  void close() {
    brokers.forEach(RedisBroker::close);
    RedisTestSupport.deleteKeys(REDIS, prefix);
  }

  private static Message publish(Broker b, String topic, String text) throws Exception {
    return b.publish(Message.text(topic, text)).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static List<String> texts(List<Message> ms) {
    return ms.stream().map(Message::text).collect(Collectors.toList());
  }

  @Test
  void publish_storesWithTheStreamId_andHistoryAndGetReadItBack() throws Exception {
    RedisBroker b = broker(1000);
    Message first = publish(b, "orders", "one");
    assertTrue(first.id().matches("\\d+-\\d+"), first.id());
    Message second = b.publish(Message.builder("orders").event("created").payload(new byte[] {0, 1, (byte) 255}, "application/x-thing")
        .header("trace", "abc").build()).toCompletableFuture().get(10, TimeUnit.SECONDS);

    Broker.History all = b.history("orders", null, 100).toCompletableFuture().get();
    assertTrue(all.recovered());
    assertEquals(List.of(first.id(), second.id()), all.messages().stream().map(Message::id).collect(Collectors.toList()));
    assertEquals(second.id(), all.latestId());
    Message back = all.messages().get(1);
    assertEquals("created", back.event());
    assertEquals("application/x-thing", back.contentType());
    assertEquals("abc", back.headers().get("trace"));
    assertEquals(second.time(), back.time());
    assertEquals(3, back.payloadSize());

    Broker.History after = b.history("orders", first.id(), 100).toCompletableFuture().get();
    assertEquals(List.of(second.id()), after.messages().stream().map(Message::id).collect(Collectors.toList()));
    assertEquals(0, b.history("orders", null, 0).toCompletableFuture().get().messages().size());
    assertEquals(second.id(), b.history("orders", null, 0).toCompletableFuture().get().latestId());
    assertEquals("one", b.get("orders", first.id()).toCompletableFuture().get().orElseThrow().text());
    assertFalse(b.get("orders", "1-1").toCompletableFuture().get().isPresent());
    assertFalse(b.get("orders", "garbage").toCompletableFuture().get().isPresent());

    Broker.History none = b.history("nothing-here", null, 10).toCompletableFuture().get();
    assertTrue(none.messages().isEmpty());
    assertNull(none.latestId());
  }

  @Test
  void idOrder_isStreamOrder_soTheHubCanDropLiveCopiesOfReplayedMessages() throws Exception {
    RedisBroker b = broker(1000);
    java.util.Comparator<String> order = b.idOrder();
    assertTrue(order.compare("1-2", "1-10") < 0, "sequence compares as a number");
    assertTrue(order.compare("2-0", "1-99") > 0);
    assertEquals(0, order.compare("5-1", "5-1"));
    String first = b.publish(Message.builder("ord").text("a").build()).toCompletableFuture().get().id();
    String second = b.publish(Message.builder("ord").text("b").build()).toCompletableFuture().get().id();
    assertTrue(order.compare(first, second) < 0, first + " before " + second);
    assertTrue(order.compare("garbage", second) > 0, "an id not ours is never taken for an old one");
  }

  @Test
  void resumeIsExact_aTrimmedIdIsAGap_aNeverIssuedOrForeignIdIsAGap() throws Exception {
    RedisBroker b = broker(5);
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      stored.add(publish(b, "gap", "g" + i));
    }
    Broker.History gap = b.history("gap", stored.get(0).id(), 100).toCompletableFuture().get();
    assertFalse(gap.recovered());
    assertEquals(List.of("g15", "g16", "g17", "g18", "g19"), texts(gap.messages()));

    // The newest trimmed id is still a clean resume point: nothing after it is gone.
    Broker.History edge = b.history("gap", stored.get(14).id(), 100).toCompletableFuture().get();
    assertTrue(edge.recovered());
    assertEquals(List.of("g15", "g16", "g17", "g18", "g19"), texts(edge.messages()));
    Broker.History one = b.history("gap", stored.get(13).id(), 100).toCompletableFuture().get();
    assertFalse(one.recovered(), "g14 was trimmed");

    assertFalse(b.history("gap", "99999999999999-0", 10).toCompletableFuture().get().recovered());
    // Not a stream id (another broker's, or garbage): a gap from the oldest retained, not an error.
    Broker.History foreign = b.history("gap", "not-an-id", 10).toCompletableFuture().get();
    assertFalse(foreign.recovered());
    assertEquals(List.of("g15", "g16", "g17", "g18", "g19"), texts(foreign.messages()));
  }

  @Test
  void liveListeners_onAnotherNode_getEveryMessageInOrder_andTheChannelIsDroppedWithTheLastOne() throws Exception {
    RedisBroker nodeA = broker(1000);
    RedisBroker nodeB = broker(1000);
    LinkedBlockingQueue<Message> got = new LinkedBlockingQueue<>();
    AutoCloseable sub = nodeB.subscribe("live", got::add);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ids.add(publish(nodeA, "live", "m" + i).id());
    }
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      Message m = got.poll(10, TimeUnit.SECONDS);
      assertTrue(m != null, "message " + i + " arrived");
      seen.add(m.id());
      assertEquals("m" + i, m.text());
    }
    assertEquals(ids, seen);
    assertEquals(1, RedisTestSupport.numsub(REDIS, prefix + "live:live"));
    sub.close();
    RedisTestSupport.await("the node unsubscribed", () -> RedisTestSupport.numsub(REDIS, prefix + "live:live") == 0);
  }

  @Test
  void brokerSpec_memoryOrRedisUri_andBadSpecsAreNamed() throws Exception {
    try (dev.switchboard.hub.Broker b = dev.switchboard.hub.Brokers.create(REDIS)) {
      assertTrue(b instanceof RedisBroker);
      assertTrue(b.publish(Message.text(prefix.replace(":", "-") + "spec", "x")).toCompletableFuture()
          .get(10, TimeUnit.SECONDS).id().matches("\\d+-\\d+"));
    } finally {
      RedisTestSupport.deleteKeys(REDIS, "switchboard:stream:" + prefix.replace(":", "-"));
    }
    try (dev.switchboard.hub.Broker b = dev.switchboard.hub.Brokers.create("memory")) {
      assertTrue(b instanceof dev.switchboard.hub.InMemoryBroker);
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> dev.switchboard.hub.Brokers.create("kafka://x:1"));
    assertTrue(e.getMessage().contains("kafka"), e.getMessage());
    SwitchboardException down = assertThrows(SwitchboardException.class,
        () -> RedisBroker.builder("redis://127.0.0.1:1").commandTimeout(java.time.Duration.ofSeconds(1)).build());
    assertEquals(Status.UNAVAILABLE, down.status());
    SwitchboardException clusterDown = assertThrows(SwitchboardException.class,
        () -> dev.switchboard.hub.Brokers.create("redis-cluster://127.0.0.1:1,127.0.0.1:2"));
    assertEquals(Status.UNAVAILABLE, clusterDown.status());
    assertTrue(clusterDown.getMessage().contains("127.0.0.1:1,127.0.0.1:2"), clusterDown.getMessage());
    IllegalArgumentException noNodes = assertThrows(IllegalArgumentException.class, () -> RedisBroker.builder("redis-cluster://"));
    assertTrue(noNodes.getMessage().contains("names no node"), noNodes.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RedisBroker.builder("redis://127.0.0.1:6379").maxBatchSize(0));
    IllegalArgumentException braces = assertThrows(IllegalArgumentException.class,
        () -> RedisBroker.builder("redis-cluster://127.0.0.1:1").keyPrefix("app{1}:"));
    assertTrue(braces.getMessage().contains("braces"), braces.getMessage());
  }

  @Test
  void concurrentPublishesBeyondTheQueueBound_failFastWithUnavailable_andEveryAcceptedOneIsStoredInOrder() throws Exception {
    RedisBroker b = RedisBroker.builder(REDIS).keyPrefix(prefix).maxBatchSize(2).maxBatchesInFlight(1)
        .maxQueuedPublishBytes(10_000).build();
    brokers.add(b);
    List<java.util.concurrent.CompletableFuture<Message>> sent = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      sent.add(b.publish(Message.text("burst", "m" + i)).toCompletableFuture());
    }
    List<String> accepted = new ArrayList<>();
    int rejected = 0;
    for (java.util.concurrent.CompletableFuture<Message> f : sent) {
      try {
        accepted.add(f.get(30, TimeUnit.SECONDS).id());
      } catch (java.util.concurrent.ExecutionException e) {
        SwitchboardException x = SwitchboardException.from(e.getCause());
        assertEquals(Status.UNAVAILABLE, x.status());
        assertTrue(x.getMessage().contains("10000 bytes"), x.getMessage());
        rejected++;
      }
    }
    assertTrue(rejected > 0, "2000 publishes at once overflow a 10 kB queue");
    List<String> stored = b.history("burst", null, 5000).toCompletableFuture().get(10, TimeUnit.SECONDS).messages()
        .stream().map(Message::id).collect(Collectors.toList());
    assertEquals(accepted, stored, "what was accepted is stored, in the order it was published; nothing else");
  }

  /**
   * One publisher's burst, default batching: the ids Redis gave, in publish order, must be its stream
   * order. Batches complete on Lettuce's event loop, which then sends the next one; had it sent it
   * itself (Netty writes at once on the connection's own event loop but queues a write from any
   * other thread), it overtook the batch this thread had just handed over: 2,000 publishes came
   * back out of order on most runs.
   */
  @Test
  void aBurstFromOneThread_isStoredInPublishOrder_whateverThreadSendsTheNextBatch() throws Exception {
    RedisBroker b = broker(10_000);
    for (int round = 0; round < 3; round++) {
      String topic = "order" + round;
      List<java.util.concurrent.CompletableFuture<Message>> sent = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        sent.add(b.publish(Message.text(topic, "m" + i)).toCompletableFuture());
        if (i % 200 == 0) {
          Thread.yield(); // let batches complete while later ones are being handed over
        }
      }
      List<String> acked = new ArrayList<>();
      for (java.util.concurrent.CompletableFuture<Message> f : sent) {
        acked.add(f.get(30, TimeUnit.SECONDS).id());
      }
      List<String> stored = b.history(topic, null, 5000).toCompletableFuture().get(10, TimeUnit.SECONDS)
          .messages().stream().map(Message::id).collect(Collectors.toList());
      assertEquals(acked, stored, "round " + round + ": stored in the order published");
    }
  }
}
