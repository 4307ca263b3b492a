package dev.switchboard.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import dev.switchboard.ws.WebSocketTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several hubs, each on its own embedded Jetty on port 0 with its own {@link RedisBroker}, sharing
 * the local Redis: what one node publishes, every node's subscribers get, in the same order, over
 * any transport; a client resumes on another node, over another transport, without loss or
 * duplicates.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MultiNodeTest {
  private final String prefix = "sbtest:" + UUID.randomUUID() + ":";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  /** One node: hub + Redis broker + Jetty with REST, long polling, SSE and WebSocket. */
  private record Node(Hub hub, RedisBroker broker, EmbeddedJetty jetty) {}

  /** The Redis the nodes share (a cluster in {@link RedisClusterMultiNodeTest}). */
  protected String redisUri() {
    return RedisBrokerTest.REDIS;
  }

  private Node node() throws Exception {
    RedisBroker broker = RedisBroker.builder(redisUri()).keyPrefix(prefix).build();
    Hub hub = Hub.builder().broker(broker).build();
    WebSocketTransport ws = WebSocketTransport.builder(hub).build();
    EmbeddedJetty jetty = EmbeddedJetty.start(0, List.of(new SseTransportFilter(hub), new HttpTransportFilter(hub)),
        context -> JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(container)));
    closeables.add(() -> {
      jetty.close();
      hub.shutdown();
      broker.close();
    });
    return new Node(hub, broker, jetty);
  }

  private Channel open(Node n, String transport) {
    Channel c = Transports.open(TransportConfig.builder().transport(transport).url(n.jetty().url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(500)))
        .longPollWait(Duration.ofSeconds(2)).build());
    closeables.add(c);
    return c;
  }

  @AfterEach
  void stop() throws Exception {
    Collections.reverse(closeables);
    for (AutoCloseable c : closeables) {
      c.close();
    }
    RedisTestSupport.deleteKeys(redisUri(), prefix);
  }

  private static List<String> await(List<Message> got, int n) throws InterruptedException {
    RedisTestSupport.await(n + " messages (have " + got.size() + ")", () -> got.size() >= n);
    return got.stream().map(Message::id).collect(Collectors.toList());
  }

  @Test
  void threeNodes_subscribersOnEveryNodeOverDifferentTransports_getEveryMessageInTheSameOrder() throws Exception {
    Node a = node();
    Node b = node();
    Node c = node();
    Message marker = a.hub().publish("room", "marker").toCompletableFuture().get();
    List<Message> onA = new CopyOnWriteArrayList<>();
    List<Message> onB = new CopyOnWriteArrayList<>();
    List<Message> onC = new CopyOnWriteArrayList<>();
    Channel sse = open(a, "sse");
    Channel ws = open(b, "ws");
    Channel poll = open(c, "longpoll");
    sse.subscribe("room", marker.id(), (MessageListener) onA::add);
    ws.subscribe("room", marker.id(), (MessageListener) onB::add);
    poll.subscribe("room", marker.id(), (MessageListener) onC::add);

    List<String> published = new ArrayList<>();
    Node[] nodes = {a, b, c};
    Channel[] senders = {sse, ws, poll};
    for (int i = 0; i < 60; i++) {
      if (i % 2 == 0) {
        published.add(nodes[i % 3].hub().publish("room", "h" + i).toCompletableFuture().get().id());
      } else {
        published.add(senders[i % 3].send(Message.text("room", "c" + i)).toCompletableFuture().get(30, TimeUnit.SECONDS).id());
      }
    }
    List<String> sorted = new ArrayList<>(published);
    assertEquals(60, sorted.stream().distinct().count(), "one id per message, the same on every node");
    assertEquals(await(onA, 60), await(onB, 60), "node A (SSE) and node B (WebSocket) saw the same sequence");
    assertEquals(await(onA, 60), await(onC, 60), "node A (SSE) and node C (long polling) saw the same sequence");
    assertTrue(await(onA, 60).containsAll(published));
  }

  @Test
  void aClientThatMovesToAnotherNodeAndTransport_resumesWithoutLossOrDuplicates_whilePublishingGoesOn() throws Exception {
    Node a = node();
    Node b = node();
    Message marker = a.hub().publish("ticks", "marker").toCompletableFuture().get();
    AtomicBoolean publishing = new AtomicBoolean(true);
    List<String> published = new CopyOnWriteArrayList<>();
    Thread publisher = new Thread(() -> {
      int i = 0;
      while (publishing.get() && i < 5000) {
        Node n = i % 2 == 0 ? a : b;
        published.add(n.hub().publish("ticks", "t" + i++).toCompletableFuture().join().id());
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    publisher.start();

    List<Message> seen = new CopyOnWriteArrayList<>();
    Channel first = open(a, "sse");
    var sub = first.subscribe("ticks", marker.id(), (MessageListener) seen::add);
    RedisTestSupport.await("some messages on node A", () -> seen.size() >= 50);
    first.close(); // the client drops...
    String last = sub.lastId();
    Channel second = open(b, "ws"); // ...and comes back on node B over WebSocket
    second.subscribe("ticks", last, (MessageListener) seen::add);
    int before = seen.size();
    RedisTestSupport.await("more messages on node B", () -> seen.size() >= before + 50);
    publishing.set(false);
    publisher.join();
    RedisTestSupport.await("everything published", () -> seen.size() >= published.size());
    Thread.sleep(200); // would reveal a duplicate arriving late
    List<String> ids = seen.stream().map(Message::id).collect(Collectors.toList());
    assertEquals(published, ids, "every message once, in publish order, across the switch");
  }

  @Test
  void killingTheHubAClientIsOn_losesNothingOnceItResumesOnAnotherNode() throws Exception {
    Node a = node();
    Node b = node();
    Message marker = b.hub().publish("orders", "marker").toCompletableFuture().get();
    List<Message> seen = new CopyOnWriteArrayList<>();
    Channel onA = open(a, "ws");
    var sub = onA.subscribe("orders", marker.id(), (MessageListener) seen::add);
    List<String> published = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      published.add(b.hub().publish("orders", "o" + i).toCompletableFuture().get().id());
    }
    RedisTestSupport.await("node A delivered the first 20", () -> seen.size() == 20);
    a.jetty().close(); // node A dies
    a.hub().shutdown();
    for (int i = 20; i < 40; i++) { // meanwhile node B goes on publishing
      published.add(b.hub().publish("orders", "o" + i).toCompletableFuture().get().id());
    }
    onA.close();
    Channel onB = open(b, "sse"); // the client reconnects through the load balancer, to node B
    onB.subscribe("orders", sub.lastId(), (MessageListener) seen::add);
    for (int i = 40; i < 50; i++) {
      published.add(b.hub().publish("orders", "o" + i).toCompletableFuture().get().id());
    }
    RedisTestSupport.await("all 50", () -> seen.size() >= 50);
    Thread.sleep(200); // would reveal a late duplicate
    assertEquals(published, seen.stream().map(Message::id).collect(Collectors.toList()));
  }

  @Test
  void longPolling_alternatingBetweenNodesWithoutAffinity_missesNothing() throws Exception {
    Node a = node();
    Node b = node();
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    String next = a.hub().publish("feed", "marker").toCompletableFuture().get().id();
    List<String> got = new ArrayList<>();
    List<String> published = new ArrayList<>();
    for (int round = 0; round < 6; round++) {
      Node publishOn = round % 3 == 0 ? a : b;
      published.add(publishOn.hub().publish("feed", "f" + round).toCompletableFuture().get().id());
      Node pollOn = round % 2 == 0 ? a : b; // a load balancer without sticky sessions
      var res = http.send(java.net.http.HttpRequest.newBuilder(pollOn.jetty().url()
          .resolve("/v1/topics/feed/messages?after=" + next + "&wait=10")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(200, res.statusCode());
      var page = dev.switchboard.transport.internal.MessageJson.readPage(res.body());
      page.messages().forEach(m -> got.add(m.id()));
      next = page.next();
    }
    assertEquals(published, got);
  }
}
