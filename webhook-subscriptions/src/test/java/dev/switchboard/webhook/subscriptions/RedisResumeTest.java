package dev.switchboard.webhook.subscriptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Broker;
import dev.switchboard.redis.RedisBroker;
import dev.switchboard.transport.Message;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Resume through Redis Streams: endpoints and cursors in Redis, messages in a Redis broker; the
 * hub (subscriptions and broker) stops, another node publishes, a new one resumes from the cursor;
 * a cursor the stream has trimmed away yields one history_gap.
 */
@Timeout(60)
class RedisResumeTest {
  private static final String REDIS = "redis://127.0.0.1:6379";

  /** Publishes {@code n} messages on topic {@code t}; their ids (KafkaResumeTest too). */
  static List<String> publish(Broker broker, int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(broker.publish(Message.builder("t").json("{\"n\":" + i + "}").build()).toCompletableFuture().join().id());
    }
    return ids;
  }

  /** Subscriptions on {@code broker} that flush cursors quickly (KafkaResumeTest too). */
  static WebhookSubscriptions start(Broker broker, EndpointStore store) {
    return WebhookSubscriptions.builder(broker, store).sender(b -> b.allowPrivateTargets(true))
        .cursorFlushInterval(Duration.ofMillis(50)).build().start();
  }

  private static RedisBroker broker(String prefix) {
    return RedisBroker.builder(REDIS).keyPrefix(prefix).maxLength(5).exactTrimming(true).build();
  }

  @Test
  void resumesFromTheCursorAcrossNodesAndReportsATrimmedCursorAsAGap() throws Exception {
    String prefix = "sbtest:whsub:" + UUID.randomUUID() + ":";
    RedisClient client = RedisClient.create(REDIS);
    try (StatefulRedisConnection<String, String> conn = client.connect(); Receiver rx = new Receiver()) {
      EndpointStore store = new RedisEndpointStore(conn, prefix + "endpoints:");
      String id;
      try (RedisBroker b1 = broker(prefix); WebhookSubscriptions s1 = start(b1, store)) {
        id = s1.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
        List<String> first = publish(b1, 2);
        assertEquals(first, List.of(rx.take().header("webhook-id"), rx.take().header("webhook-id")));
        WebhookSubscriptionsTest.await(() -> first.get(1).equals(store.cursors(id).get("t")));
      }
      List<String> whileDown;
      try (RedisBroker other = broker(prefix)) { // another node publishes while this hub is down
        whileDown = publish(other, 3);
      }
      try (RedisBroker b2 = broker(prefix); WebhookSubscriptions s2 = start(b2, store)) {
        assertEquals(whileDown, List.of(rx.take().header("webhook-id"), rx.take().header("webhook-id"),
            rx.take().header("webhook-id")), "resumed from the cursor in Redis, through the stream");
        WebhookSubscriptionsTest.await(() -> whileDown.get(2).equals(store.cursors(id).get("t")));
      }
      List<String> trimmed;
      try (RedisBroker other = broker(prefix)) {
        trimmed = publish(other, 8); // the stream keeps 5: the cursor is gone
      }
      try (RedisBroker b3 = broker(prefix); WebhookSubscriptions s3 = start(b3, store)) {
        Receiver.Request gap = rx.take();
        assertTrue(gap.text().contains("\"type\":\"history_gap\"") && gap.text().contains(whileDown.get(2)), gap.text());
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          rest.add(rx.take().header("webhook-id"));
        }
        assertEquals(trimmed.subList(3, 8), rest, "then what the stream still holds");
      }
    } finally {
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        List<String> keys = c.sync().keys(prefix + "*");
        if (!keys.isEmpty()) {
          c.sync().del(keys.toArray(new String[0]));
        }
      }
      client.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }
}
