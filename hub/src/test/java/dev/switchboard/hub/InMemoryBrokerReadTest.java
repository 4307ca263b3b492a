package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/**
 * The in-memory broker as its readers see it: ids and their order, history pages and cursors, single
 * lookups, what another epoch's or a foreign id means, and the topic and close limits.
 */
class InMemoryBrokerReadTest {
  private static final Instant NOW = Instant.parse("2026-11-30T12:00:00Z");

  private static InMemoryBroker broker() {
    return InMemoryBroker.builder().clock(Clock.fixed(NOW, ZoneOffset.UTC)).build();
  }

  private static List<Message> publish(InMemoryBroker b, String topic, int n) {
    List<Message> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(b.publish(Message.text(topic, "m" + i)).toCompletableFuture().join());
    }
    return out;
  }

  private static Broker.History page(InMemoryBroker b, String topic, String after, int limit) {
    return b.history(topic, after, limit).toCompletableFuture().join();
  }

  private static List<String> texts(Broker.History h) {
    return h.messages().stream().map(Message::text).toList();
  }

  @Test
  void publish_stampsIdAndTime_andIdsOrderAsPublishedAcrossTopics() {
    InMemoryBroker b = broker();
    Message first = publish(b, "a", 1).get(0);
    Message second = publish(b, "b", 1).get(0);
    Message third = publish(b, "a", 1).get(0);
    assertEquals(NOW, first.time());
    assertEquals("m0", first.text());
    assertEquals("a", first.topic());
    assertTrue(first.id().matches("[^-]+-\\d+"), first.id());
    assertTrue(b.idOrder().compare(first.id(), second.id()) < 0);
    assertTrue(b.idOrder().compare(second.id(), third.id()) < 0);
    // A foreign id sorts after every id of ours: it is never taken for an old message.
    assertTrue(b.idOrder().compare(third.id(), "garbage") < 0);
  }

  @Test
  void history_pagesFromACursor_andNamesTheNewestId() {
    InMemoryBroker b = broker();
    List<Message> stored = publish(b, "t", 5);
    Broker.History first = page(b, "t", null, 2);
    assertEquals(List.of("m0", "m1"), texts(first));
    assertTrue(first.recovered());
    assertEquals(stored.get(4).id(), first.latestId());
    Broker.History next = page(b, "t", first.messages().get(1).id(), 2);
    assertEquals(List.of("m2", "m3"), texts(next));
    assertTrue(next.recovered());
    Broker.History atTheEnd = page(b, "t", stored.get(4).id(), 2);
    assertEquals(List.of(), texts(atTheEnd));
    assertTrue(atTheEnd.recovered(), "resuming from the newest id misses nothing");
    assertEquals(List.of(), texts(page(b, "t", null, 0)), "limit 0 answers just the cursor");
    assertEquals(stored.get(4).id(), page(b, "t", null, 0).latestId());
    assertThrows(IllegalArgumentException.class, () -> b.history("t", null, -1));
  }

  @Test
  void history_ofAnUnknownTopic_isEmpty_andACursorIntoItIsAGap() {
    InMemoryBroker b = broker();
    Broker.History none = page(b, "nothing", null, 10);
    assertEquals(List.of(), none.messages());
    assertTrue(none.recovered());
    assertNull(none.latestId());
    assertFalse(page(b, "nothing", "x-1", 10).recovered());
  }

  @Test
  void foreignOrOtherEpochIds_areAGap_answeredFromTheOldestRetained() {
    InMemoryBroker b = broker();
    List<Message> stored = publish(b, "t", 3);
    String otherEpoch = "zz" + stored.get(0).id();
    for (String cursor : new String[] {"garbage", otherEpoch, stored.get(0).id() + "9"}) {
      Broker.History h = page(b, "t", cursor, 10);
      assertFalse(h.recovered(), cursor);
      assertEquals(List.of("m0", "m1", "m2"), texts(h), cursor);
    }
    // Another broker instance is another epoch: its ids never resume here.
    InMemoryBroker restarted = broker();
    publish(restarted, "t", 1);
    assertFalse(page(restarted, "t", stored.get(2).id(), 10).recovered());
  }

  @Test
  void get_findsRetainedMessagesOnly() {
    InMemoryBroker b = InMemoryBroker.builder().maxMessagesPerTopic(2).build();
    List<Message> stored = publish(b, "t", 3);
    assertEquals("m2", b.get("t", stored.get(2).id()).toCompletableFuture().join().orElseThrow().text());
    assertTrue(b.get("t", stored.get(0).id()).toCompletableFuture().join().isEmpty(), "evicted");
    assertTrue(b.get("other", stored.get(2).id()).toCompletableFuture().join().isEmpty(), "wrong topic");
    assertTrue(b.get("t", "garbage").toCompletableFuture().join().isEmpty());
  }

  @Test
  void topicLimit_refusesNewTopicsWithUnavailable_butExistingOnesGoOn() {
    InMemoryBroker b = InMemoryBroker.builder().maxTopics(2).build();
    publish(b, "a", 1);
    publish(b, "b", 1);
    SwitchboardException e = SwitchboardException.from(assertThrows(CompletionException.class,
        () -> publish(b, "c", 1)));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("too_many_topics", e.errorCode());
    assertEquals("the broker holds its limit of 2 topics", e.getMessage());
    assertEquals(2, publish(b, "a", 2).size());
    assertEquals(2, b.topicCount());
  }

  @Test
  void closed_refusesPublishes() {
    InMemoryBroker b = broker();
    b.close();
    SwitchboardException e = SwitchboardException.from(assertThrows(CompletionException.class,
        () -> publish(b, "t", 1)));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("broker is closed", e.getMessage());
  }
}
