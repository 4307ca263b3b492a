package dev.switchboard.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Brokers;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link KafkaBroker} against a real Kafka broker, each test on a Kafka topic of its own. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaBrokerTest {
  private final String topic = KafkaTestSupport.newTopic();
  private final List<KafkaBroker> brokers = new ArrayList<>();

  private KafkaBroker node(KafkaBroker.Builder b) {
    KafkaBroker k = b.build();
    brokers.add(k);
    return k;
  }

  private KafkaBroker node() {
    return node(KafkaTestSupport.node(topic));
  }

  @AfterEach
  void close() {
    brokers.forEach(KafkaBroker::close);
  }

  private static Message publish(Broker b, String t, String text) throws Exception {
    return b.publish(Message.text(t, text)).toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private static Broker.History history(Broker b, String t, String after, int limit) throws Exception {
    return b.history(t, after, limit).toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private static List<String> texts(Broker.History h) {
    return h.messages().stream().map(Message::text).collect(Collectors.toList());
  }

  private static List<String> numbered(String prefix, int from, int to) {
    List<String> l = new ArrayList<>();
    for (int i = from; i < to; i++) {
      l.add(prefix + i);
    }
    return l;
  }

  @Test
  void publish_isStoredWithAPartitionOffsetId_andHistoryAndGetReadItBack() throws Exception {
    KafkaBroker b = node();
    Message first = publish(b, "orders", "one");
    assertTrue(first.id().matches("\\d+-\\d+-[0-9a-f]{8}"), first.id());
    Topics.requireValidId(first.id());
    Message second = b.publish(Message.builder("orders").event("created").payload(new byte[] {0, 1, (byte) 255}, "application/x-thing")
        .header("trace", "abc").build()).toCompletableFuture().get(20, TimeUnit.SECONDS);

    Broker.History all = history(b, "orders", null, 100);
    assertTrue(all.recovered());
    assertEquals(List.of(first.id(), second.id()), all.messages().stream().map(Message::id).collect(Collectors.toList()));
    assertEquals(second.id(), all.latestId());
    Message back = all.messages().get(1);
    assertEquals("created", back.event());
    assertEquals("application/x-thing", back.contentType());
    assertEquals("abc", back.headers().get("trace"));
    assertEquals(second.time(), back.time());
    assertEquals(3, back.payloadSize());

    assertEquals(List.of(second.id()), history(b, "orders", first.id(), 100).messages().stream().map(Message::id)
        .collect(Collectors.toList()));
    assertEquals(second.id(), history(b, "orders", null, 0).latestId());
    assertEquals("one", b.get("orders", first.id()).toCompletableFuture().get().orElseThrow().text());
    assertFalse(b.get("orders", "garbage").toCompletableFuture().get().isPresent());
    Broker.History none = history(b, "nothing-here", null, 10);
    assertTrue(none.messages().isEmpty());
    assertNull(none.latestId());

    assertTrue(b.idOrder().compare(first.id(), second.id()) < 0);
    assertTrue(b.idOrder().compare("garbage", second.id()) > 0, "an id not ours is never taken for an old one");
  }

  @Test
  void ids_fromAnotherTopicIncarnation_orNeverIssued_orForeign_areGaps_neverErrors() throws Exception {
    KafkaBroker b = node();
    Message m = publish(b, "room", "r0");
    publish(b, "room", "r1");
    String[] parts = m.id().split("-");
    for (String foreign : List.of("not-an-id", parts[0] + "-" + parts[1] + "-00000000",
        parts[0] + "-99999999-" + parts[2], "1-1", "9999-0-" + parts[2])) {
      Broker.History h = history(b, "room", foreign, 10);
      assertFalse(h.recovered(), foreign);
      assertEquals(List.of("r0", "r1"), texts(h), foreign);
    }
    // An id of another Switchboard topic in the same partition is not this topic's either.
    String other = null;
    for (int i = 0; other == null; i++) {
      if (b.partitionOf("x" + i) == b.partitionOf("room")) {
        other = publish(b, "x" + i, "x").id();
      }
    }
    assertFalse(history(b, "room", other, 10).recovered());
  }

  @Test
  void resumeWindow_anIdOlderThanTheLastNMessagesIsAGap_theNewestDroppedOneIsStillExact() throws Exception {
    KafkaBroker b = node(KafkaTestSupport.node(topic).maxMessagesPerTopic(5));
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      stored.add(publish(b, "gap", "g" + i));
    }
    Broker.History gap = history(b, "gap", stored.get(0).id(), 100);
    assertFalse(gap.recovered());
    assertEquals(numbered("g", 15, 20), texts(gap));
    Broker.History edge = history(b, "gap", stored.get(14).id(), 100);
    assertTrue(edge.recovered());
    assertEquals(numbered("g", 15, 20), texts(edge));
    assertFalse(history(b, "gap", stored.get(13).id(), 100).recovered());
    assertEquals(numbered("g", 15, 20), texts(history(b, "gap", null, 100)));

    // A node started later has nothing indexed: the same answers, read from the log.
    KafkaBroker late = node(KafkaTestSupport.node(topic).maxMessagesPerTopic(5));
    Broker.History lateGap = history(late, "gap", stored.get(0).id(), 100);
    assertFalse(lateGap.recovered());
    assertEquals(numbered("g", 15, 20), texts(lateGap));
    Broker.History lateEdge = history(late, "gap", stored.get(14).id(), 100);
    assertTrue(lateEdge.recovered());
    assertEquals(numbered("g", 15, 20), texts(lateEdge));
    assertEquals(numbered("g", 15, 20), texts(history(late, "gap", null, 100)));
    assertEquals(numbered("g", 15, 17), texts(history(late, "gap", null, 2)));
  }

  @Test
  void aNodeStartedAfterTheIdsWereIssued_resumesExactlyFromTheLog_pageByPage() throws Exception {
    KafkaBroker first = node();
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      stored.add(publish(first, "feed", "f" + i));
      publish(first, "noise" + (i % 4), "n" + i); // other topics in the same log
    }
    first.close();

    KafkaBroker fresh = node(); // a hub restarted from scratch: empty index
    Broker.History h = history(fresh, "feed", stored.get(9).id(), 7);
    assertTrue(h.recovered());
    assertEquals(numbered("f", 10, 17), texts(h));
    assertEquals(stored.get(29).id(), h.latestId());
    Broker.History next = history(fresh, "feed", h.messages().get(6).id(), 100);
    assertEquals(numbered("f", 17, 30), texts(next));
    assertEquals(numbered("f", 0, 30), texts(history(fresh, "feed", null, 100)));
    assertEquals("f3", fresh.get("feed", stored.get(3).id()).toCompletableFuture().get().orElseThrow().text());
    assertFalse(fresh.get("noise1", stored.get(3).id()).toCompletableFuture().get().isPresent());

    // Then live messages and the index take over without a seam.
    Message live = publish(fresh, "feed", "f30");
    assertEquals(List.of("f30"), texts(history(fresh, "feed", stored.get(29).id(), 100)));
    assertEquals(live.id(), history(fresh, "feed", null, 0).latestId());
  }

  @Test
  void aSmallIndex_evictsOldMessages_andResumesFromFurtherBackReadTheLog() throws Exception {
    KafkaBroker b = node(KafkaTestSupport.node(topic).indexMaxBytes(8 * 1024));
    List<Message> stored = new ArrayList<>();
    String filler = "x".repeat(500);
    for (int i = 0; i < 60; i++) {
      stored.add(publish(b, "t" + (i % 3), i + ":" + filler));
    }
    KafkaTestSupport.await("the index to be bounded", () -> b.indexBytes() <= 8 * 1024 && b.indexBytes() > 0);
    Broker.History h = history(b, "t0", stored.get(0).id(), 100);
    assertTrue(h.recovered());
    List<String> expected = new ArrayList<>();
    for (int i = 3; i < 60; i += 3) {
      expected.add(i + ":" + filler);
    }
    assertEquals(expected, texts(h));
    assertEquals(20, history(b, "t1", null, 100).messages().size());
  }

  @Test
  void aLogTruncatedByRetention_isAGap_withWhatRemains() throws Exception {
    KafkaBroker b = node(KafkaTestSupport.node(topic).partitions(1));
    List<Message> stored = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      stored.add(publish(b, "old", "o" + i));
    }
    b.close();
    long cut = Long.parseLong(stored.get(6).id().split("-")[1]);
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", KafkaTestSupport.bootstrap()))) {
      admin.deleteRecords(Map.of(new TopicPartition(topic, 0), RecordsToDelete.beforeOffset(cut)))
          .all().get(20, TimeUnit.SECONDS);
    }
    KafkaBroker fresh = node(KafkaTestSupport.node(topic).partitions(1));
    Broker.History h = history(fresh, "old", stored.get(2).id(), 100);
    assertFalse(h.recovered());
    assertEquals(List.of("o6", "o7", "o8", "o9"), texts(h));
    Broker.History edge = history(fresh, "old", stored.get(6).id(), 100);
    assertTrue(edge.recovered());
    assertEquals(List.of("o7", "o8", "o9"), texts(edge));
  }

  @Test
  void liveListeners_onAnotherNode_getEveryMessageInOrder() throws Exception {
    KafkaBroker a = node();
    KafkaBroker b = node();
    LinkedBlockingQueue<Message> got = new LinkedBlockingQueue<>();
    AutoCloseable sub = b.subscribe("live", got::add);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ids.add(publish(a, "live", "m" + i).id());
    }
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      Message m = got.poll(20, TimeUnit.SECONDS);
      assertTrue(m != null, "message " + i + " arrived");
      seen.add(m.id());
      assertEquals("m" + i, m.text());
    }
    assertEquals(ids, seen);
    sub.close();
    publish(a, "live", "after close");
    assertEquals(List.of("after close"), texts(history(b, "live", ids.get(49), 10)));
    assertTrue(got.isEmpty(), "no delivery after the listener was removed: " + got);
  }

  @Test
  void brokerSpec_kafkaUri_withTopicAndPartitions_andBadSpecsAreNamed() throws Exception {
    try (Broker b = Brokers.create("kafka://" + KafkaTestSupport.bootstrap() + "?topic=" + topic + "&partitions=2&timeoutMs=10000")) {
      assertTrue(b instanceof KafkaBroker);
      assertEquals(2, ((KafkaBroker) b).partitions());
      assertTrue(publish(b, "spec", "x").id().matches("\\d+-\\d+-[0-9a-f]{8}"));
    }
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> Brokers.create("kafka://127.0.0.1:1?topics=x"));
    assertTrue(unknown.getMessage().contains("'topics'"), unknown.getMessage());
    IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
        () -> Brokers.create("kafka://127.0.0.1:1?partitions=many"));
    assertTrue(nan.getMessage().contains("partitions"), nan.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Brokers.create("kafka://"));
    SwitchboardException down = assertThrows(SwitchboardException.class,
        () -> KafkaBroker.builder("127.0.0.1:1").timeout(Duration.ofSeconds(1)).build());
    assertEquals(Status.UNAVAILABLE, down.status());
  }
}
