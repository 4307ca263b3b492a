package dev.switchboard.webhook.subscriptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.kafka.KafkaBroker;
import dev.switchboard.kafka.testbroker.KafkaTestBroker;
import dev.switchboard.transport.SwitchboardException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Resume through Kafka: endpoints and cursors in an endpoint store shared across the "restarts",
 * messages in a {@link KafkaBroker} on a real Kafka broker (one per test JVM, started by the
 * kafka-test-broker module); the hub (subscriptions and broker) stops, another node publishes, a new
 * one resumes from the cursor by reading the log; a cursor the log has dropped (records deleted as
 * retention would) yields one history_gap, then what the log still holds.
 */
@Timeout(180)
class KafkaResumeTest {
  private static String bootstrap;

  @BeforeAll
  static void kafka() {
    bootstrap = KafkaTestBroker.shared().bootstrapServers();
  }

  private static KafkaBroker broker(String kafkaTopic) {
    return KafkaBroker.builder(bootstrap).topic(kafkaTopic).partitions(1).timeout(Duration.ofSeconds(10)).build();
  }

  /** The first node: Kafka's port opens a little before it answers, so retry until it does. */
  private static KafkaBroker firstBroker(String kafkaTopic) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (true) {
      try {
        return broker(kafkaTopic);
      } catch (SwitchboardException e) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("Kafka at " + bootstrap + " does not answer; see "
              + KafkaTestBroker.shared().directory(), e);
        }
        Thread.sleep(200);
      }
    }
  }

  private static List<String> ids(Receiver rx, int n) throws InterruptedException {
    return rx.take(n).stream().map(r -> r.header("webhook-id")).toList();
  }

  @Test
  void resumesFromTheCursorAcrossNodesAndReportsACursorDroppedByRetentionAsAGap() throws Exception {
    String kafkaTopic = "sbtest-whsub-" + UUID.randomUUID();
    EndpointStore store = EndpointStore.inMemory(); // outlives the nodes, as a durable store would
    try (Receiver rx = new Receiver()) {
      String id;
      try (KafkaBroker b1 = firstBroker(kafkaTopic); WebhookSubscriptions s1 = RedisResumeTest.start(b1, store)) {
        id = s1.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
        List<String> first = RedisResumeTest.publish(b1, 2);
        assertEquals(first, ids(rx, 2));
        WebhookSubscriptionsTest.await(() -> first.get(1).equals(store.cursors(id).get("t")));
      }
      List<String> whileDown;
      try (KafkaBroker other = broker(kafkaTopic)) { // another node publishes while this hub is down
        whileDown = RedisResumeTest.publish(other, 3);
      }
      try (KafkaBroker b2 = broker(kafkaTopic); WebhookSubscriptions s2 = RedisResumeTest.start(b2, store)) {
        assertEquals(whileDown, ids(rx, 3), "resumed from the cursor, through the Kafka log");
        WebhookSubscriptionsTest.await(() -> whileDown.get(2).equals(store.cursors(id).get("t")));
        assertTrue(rx.received.isEmpty(), "exactly those three");
      }
      List<String> trimmed;
      try (KafkaBroker other = broker(kafkaTopic)) {
        trimmed = RedisResumeTest.publish(other, 8);
      }
      long cut = Long.parseLong(trimmed.get(3).split("-")[1]); // ids are <partition>-<offset>-<tag>
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
        admin.deleteRecords(Map.of(new TopicPartition(kafkaTopic, 0), RecordsToDelete.beforeOffset(cut)))
            .all().get(30, TimeUnit.SECONDS); // the log now starts after the cursor, as after retention
      }
      try (KafkaBroker b3 = broker(kafkaTopic); WebhookSubscriptions s3 = RedisResumeTest.start(b3, store)) {
        Receiver.Request gap = rx.take();
        assertTrue(gap.text().contains("\"type\":\"history_gap\"") && gap.text().contains(whileDown.get(2))
            && gap.text().contains(trimmed.get(3)), gap.text());
        assertEquals(trimmed.subList(3, 8), ids(rx, 5), "then what the log still holds, in order");
        WebhookSubscriptionsTest.await(() -> trimmed.get(7).equals(store.cursors(id).get("t")));
      }
    } finally {
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
        admin.deleteTopics(List.of(kafkaTopic)).all().get(30, TimeUnit.SECONDS);
      }
    }
  }
}
