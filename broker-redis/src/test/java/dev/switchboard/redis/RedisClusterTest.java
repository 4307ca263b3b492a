package dev.switchboard.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import dev.switchboard.webhook.IdempotencyStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link RedisBroker} on a three-master Redis Cluster of local redis-server processes: topics spread
 * over the masters, each topic's stream and channel on one slot, live messages over sharded Pub/Sub
 * (only the topic's master carries them), and a stopped master: its topics fail fast with
 * UNAVAILABLE, the others keep working, and once it is back its topics resume without loss.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@ExtendWith(SharedRedisCluster.class)
class RedisClusterTest {
  private final String prefix = "sbtest:" + UUID.randomUUID() + ":";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    java.util.Collections.reverse(closeables);
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private RedisBroker broker(String uri) {
    RedisBroker b = RedisBroker.builder(uri).keyPrefix(prefix).commandTimeout(Duration.ofSeconds(1)).build();
    closeables.add(b);
    return b;
  }

  /** Topics named t0, t1, … by the master (0, 1, 2) their slot is on, {@code perNode} of each. */
  private Map<Integer, List<String>> topicsByNode(LocalRedisCluster cluster, int perNode) throws Exception {
    Map<Integer, List<String>> byNode = new HashMap<>();
    for (int i = 0; byNode.size() < cluster.size() || byNode.values().stream().anyMatch(l -> l.size() < perNode); i++) {
      String topic = "t" + i;
      List<String> l = byNode.computeIfAbsent(cluster.nodeOf(prefix + "stream:{" + topic + "}"), n -> new ArrayList<>());
      if (l.size() < perNode) {
        l.add(topic);
      }
    }
    return byNode;
  }

  @Test
  void topicsSpreadOverTheMasters_andLiveMessagesTravelOnlyOverTheirMastersShardChannel(LocalRedisCluster cluster)
      throws Exception {
    RedisBroker nodeA = broker(cluster.uri());
    RedisBroker nodeB = broker(cluster.uri());
    Map<Integer, List<String>> byNode = topicsByNode(cluster, 3);
    List<String> topics = byNode.values().stream().flatMap(List::stream).collect(Collectors.toList());
    for (String t : topics) {
      assertEquals(SlotHash.getSlot(prefix + "stream:{" + t + "}"), SlotHash.getSlot(prefix + "live:{" + t + "}"),
          "the stream and the channel of " + t + " share a slot");
    }
    Map<String, List<String>> got = new ConcurrentHashMap<>();
    for (String t : topics) {
      closeables.add(nodeB.subscribe(t, m -> got.computeIfAbsent(m.topic(), x -> new CopyOnWriteArrayList<>()).add(m.id())));
    }
    // Many publishes at once over all topics: batched per slot, each topic's order kept.
    Map<String, List<CompletableFuture<Message>>> sent = new HashMap<>();
    for (int i = 0; i < 40; i++) {
      for (String t : topics) {
        sent.computeIfAbsent(t, x -> new ArrayList<>()).add(nodeA.publish(Message.text(t, "m" + i)).toCompletableFuture());
      }
    }
    for (String t : topics) {
      List<String> ids = new ArrayList<>();
      for (CompletableFuture<Message> f : sent.get(t)) {
        ids.add(f.get(30, TimeUnit.SECONDS).id());
      }
      RedisTestSupport.await("40 messages of " + t + " on node B", () -> got.getOrDefault(t, List.of()).size() >= 40);
      assertEquals(ids, got.get(t), "topic " + t + ": every message once, in publish order");
      Broker.History h = nodeB.history(t, null, 100).toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertEquals(ids, h.messages().stream().map(Message::id).collect(Collectors.toList()));
      assertEquals("m39", h.messages().get(39).text());
    }
    // Sharded Pub/Sub: the topic's master has one shard subscriber (node B) and nobody uses classic
    // Pub/Sub, which a cluster would broadcast to every master.
    for (Map.Entry<Integer, List<String>> e : byNode.entrySet()) {
      for (int n = 0; n < cluster.size(); n++) {
        RedisClient c = RedisClient.create("redis://127.0.0.1:" + cluster.port(n));
        try (StatefulRedisConnection<String, String> conn = c.connect()) {
          for (String t : e.getValue()) {
            String channel = prefix + "live:{" + t + "}";
            assertEquals(n == e.getKey() ? 1L : 0L, conn.sync().pubsubShardNumsub(channel).getOrDefault(channel, 0L),
                "shard subscribers of " + channel + " on master " + n);
            assertEquals(0L, conn.sync().pubsubNumsub(channel).getOrDefault(channel, 0L));
          }
        } finally {
          c.shutdown(0, 2, TimeUnit.SECONDS);
        }
      }
    }
    RedisTestSupport.deleteKeys(cluster.uri(), prefix);
  }

  @Test
  void aRedisUriOfAClusterNode_isUsedAsTheCluster(LocalRedisCluster cluster) throws Exception {
    RedisBroker one = broker("redis://127.0.0.1:" + cluster.port(1));
    RedisBroker other = broker(cluster.uri());
    Map<Integer, List<String>> byNode = topicsByNode(cluster, 1);
    for (List<String> topics : byNode.values()) { // a topic on each master, whichever node the URI named
      String t = topics.get(0);
      LinkedBlockingQueue<Message> got = new LinkedBlockingQueue<>();
      closeables.add(other.subscribe(t, got::add));
      Message sent = one.publish(Message.text(t, "via one node")).toCompletableFuture().get(10, TimeUnit.SECONDS);
      Message received = got.poll(10, TimeUnit.SECONDS);
      assertTrue(received != null && received.id().equals(sent.id()), t + ": " + received);
    }
    try (RedisIdempotencyStore seen = RedisIdempotencyStore.create("redis://127.0.0.1:" + cluster.port(2), prefix)) {
      for (int i = 0; i < 20; i++) { // keys on every master
        assertEquals(IdempotencyStore.Claim.CLAIMED, seen.claim("k" + i, Duration.ofMinutes(1)));
      }
    }
    assertThrows(IllegalArgumentException.class,
        () -> RedisBroker.builder("redis://127.0.0.1:" + cluster.port(0)).keyPrefix("a{b}:").build());
    RedisTestSupport.deleteKeys(cluster.uri(), prefix);
  }

  @Test
  void aStoppedMaster_failsOnlyItsTopicsFast_andOnceBack_liveAndResumingClientsLoseNothing() throws Exception {
    LocalRedisCluster cluster = LocalRedisCluster.start(); // its own: this test stops a master
    closeables.add(cluster);
    Map<Integer, List<String>> byNode = topicsByNode(cluster, 1);
    String down = byNode.get(0).get(0); // on the master this test stops
    String up = byNode.get(1).get(0);
    Hub a = Hub.builder().broker(broker(cluster.uri())).build();
    Hub b = Hub.builder().broker(broker(cluster.uri())).build();
    closeables.add(a::shutdown);
    closeables.add(b::shutdown);
    EmbeddedJetty jettyA = EmbeddedJetty.start(0, List.of(new SseTransportFilter(a), new HttpTransportFilter(a)));
    EmbeddedJetty jettyB = EmbeddedJetty.start(0, List.of(new SseTransportFilter(b), new HttpTransportFilter(b)));
    closeables.add(jettyA);
    closeables.add(jettyB);

    Map<String, List<String>> published = new HashMap<>();
    Map<String, String> markers = new HashMap<>();
    for (String t : List.of(down, up)) {
      markers.put(t, b.publish(t, "marker").toCompletableFuture().get(10, TimeUnit.SECONDS).id());
      published.put(t, new CopyOnWriteArrayList<>());
    }
    // A live client on node A, subscribed to both topics all along.
    Map<String, List<String>> live = new ConcurrentHashMap<>();
    Channel liveClient = open(jettyA);
    for (String t : List.of(down, up)) {
      live.put(t, new CopyOnWriteArrayList<>());
      liveClient.subscribe(t, markers.get(t), (MessageListener) m -> live.get(m.topic()).add(m.id()));
    }
    // A client on node B that goes away and resumes later, after the master is back.
    List<String> resumed = new CopyOnWriteArrayList<>();
    Channel leaving = open(jettyB);
    var leavingSub = leaving.subscribe(down, markers.get(down), (MessageListener) m -> resumed.add(m.id()));
    RedisTestSupport.await("subscribed on both nodes", () -> a.subscriberCount() == 2 && b.subscriberCount() == 1);
    for (int i = 0; i < 10; i++) {
      for (String t : List.of(down, up)) {
        published.get(t).add(b.publish(t, "before" + i).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
      }
    }
    RedisTestSupport.await("the first messages on both clients",
        () -> live.get(down).size() == 10 && live.get(up).size() == 10 && resumed.size() == 10);
    leaving.close();
    String resumeFrom = leavingSub.lastId();
    for (int i = 0; i < 5; i++) { // stored while the resuming client is away
      published.get(down).add(b.publish(down, "away" + i).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
    }

    cluster.stopNode(0);
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> b.publish(down, "lost?").toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertEquals(Status.UNAVAILABLE, SwitchboardException.from(e.getCause()).status(), e.toString());
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        jettyA.url().resolve("/v1/topics/" + down + "/messages")).POST(HttpRequest.BodyPublishers.ofString("x"))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent());
    for (int i = 0; i < 10; i++) { // the other masters' topics go on working meanwhile
      published.get(up).add(b.publish(up, "during" + i).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
    }
    RedisTestSupport.await("messages of the topic on a running master still arrive", () -> live.get(up).size() == 20);

    cluster.startNode(0); // with its append-only file: what it stored is back
    cluster.awaitClusterOk(0);
    RedisTestSupport.await("publishing to the stopped master's topic works again", () -> {
      try {
        published.get(down).add(b.publish(down, "probe").toCompletableFuture().get(5, TimeUnit.SECONDS).id());
        return true;
      } catch (Exception x) {
        return false;
      }
    });
    for (int i = 0; i < 10; i++) {
      published.get(down).add(b.publish(down, "after" + i).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
      published.get(up).add(b.publish(up, "after" + i).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
    }
    Channel back = open(jettyA); // the client that left comes back, on the other node
    back.subscribe(down, resumeFrom, (MessageListener) m -> resumed.add(m.id()));
    for (String t : List.of(down, up)) {
      RedisTestSupport.await("everything on " + t + " reached the live client",
          () -> live.get(t).size() >= published.get(t).size());
    }
    RedisTestSupport.await("everything on " + down + " reached the resuming client",
        () -> resumed.size() >= published.get(down).size());
    Thread.sleep(200); // would reveal a late duplicate
    for (String t : List.of(down, up)) {
      // What the cluster holds after the marker (a probe that timed out may be stored too).
      List<String> stored = a.broker().history(t, markers.get(t), 1000).toCompletableFuture().get(10, TimeUnit.SECONDS)
          .messages().stream().map(Message::id).collect(Collectors.toList());
      assertTrue(stored.containsAll(published.get(t)), "topic " + t + ": every acknowledged publish is stored");
      assertEquals(stored, live.get(t), "live client, topic " + t + ": every message once, in order");
      if (t.equals(down)) {
        assertEquals(stored, resumed, "resuming client: every message once, in order");
      }
    }
  }

  private Channel open(EmbeddedJetty jetty) {
    Channel c = Transports.open(TransportConfig.builder().transport("sse").url(jetty.url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200))).build());
    closeables.add(c);
    return c;
  }
}
