package dev.switchboard.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.webhook.Delivery;
import dev.switchboard.webhook.IdempotencyStore;
import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The webhook module's stores on Redis: several receiving nodes share one idempotency store, and
 * several sending nodes share one delivery queue, a crashed node's deliveries taken over when their
 * lease runs out, each processed once.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisWebhookStoresTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private final String prefix = "sbtest:" + UUID.randomUUID() + ":";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final Map<String, AtomicInteger> processed = new ConcurrentHashMap<>();

  /** The Redis the stores share (a cluster in {@link RedisClusterWebhookStoresTest}). */
  protected String redisUri() {
    return RedisBrokerTest.REDIS;
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    RedisTestSupport.deleteKeys(redisUri(), prefix);
  }

  private <T extends AutoCloseable> T closing(T c) {
    closeables.add(0, c);
    return c;
  }

  /** A receiving node: verifies, deduplicates through the shared Redis store, counts what it processes. */
  private URI receiver() throws Exception {
    RedisIdempotencyStore seen = closing(RedisIdempotencyStore.create(redisUri(), prefix));
    EmbeddedJetty jetty = closing(EmbeddedJetty.start(0, List.of(), ctx -> {
      ctx.addFilter(new FilterHolder(WebhookFilter.builder(WebhookVerifier.standardWebhooks(SECRET).build())
          .idempotencyStore(seen).build()), "/*", EnumSet.of(DispatcherType.REQUEST));
      ctx.addServlet(new ServletHolder(new HttpServlet() {
        private static final long serialVersionUID = 1L;

        @Override
        protected void doPost(HttpServletRequest req, HttpServletResponse res) {
          WebhookVerifier.Verified v = (WebhookVerifier.Verified) req.getAttribute(WebhookFilter.VERIFIED);
          processed.computeIfAbsent(v.id(), k -> new AtomicInteger()).incrementAndGet();
          res.setStatus(204);
        }
      }), "/*");
    }));
    return jetty.url().resolve("/hooks");
  }

  private WebhookSender sender(RedisDeliveryStore store, URI url) {
    WebhookSender s = WebhookSender.builder().store(store).allowPrivateTargets(true).build();
    s.register("shop", url, WebhookSigner.standardWebhooks(SECRET));
    return s;
  }

  @Test
  void idempotencyClaim_isExclusiveAcrossNodes_thenDone_andReleasable() throws Exception {
    RedisIdempotencyStore nodeA = closing(RedisIdempotencyStore.create(redisUri(), prefix));
    RedisIdempotencyStore nodeB = closing(RedisIdempotencyStore.create(redisUri(), prefix));
    for (int k = 0; k < 50; k++) {
      String key = "msg_" + k;
      CountDownLatch go = new CountDownLatch(1);
      List<IdempotencyStore.Claim> claims = new java.util.concurrent.CopyOnWriteArrayList<>();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        RedisIdempotencyStore store = t % 2 == 0 ? nodeA : nodeB;
        Thread th = new Thread(() -> {
          try {
            go.await();
            claims.add(store.claim(key, Duration.ofMinutes(1)));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        threads.add(th);
        th.start();
      }
      go.countDown();
      for (Thread th : threads) {
        th.join();
      }
      assertEquals(1, claims.stream().filter(c -> c == IdempotencyStore.Claim.CLAIMED).count(), "key " + key + ": " + claims);
      assertEquals(7, claims.stream().filter(c -> c == IdempotencyStore.Claim.IN_PROGRESS).count());
    }
    nodeA.complete("msg_0");
    assertEquals(IdempotencyStore.Claim.DONE, nodeB.claim("msg_0", Duration.ofMinutes(1)));
    nodeA.release("msg_1");
    assertEquals(IdempotencyStore.Claim.CLAIMED, nodeB.claim("msg_1", Duration.ofMinutes(1)));
    assertEquals(IdempotencyStore.Claim.CLAIMED, nodeA.claim("short", Duration.ofMillis(200)));
    RedisTestSupport.await("the short claim expires",
        () -> nodeB.claim("short", Duration.ofMillis(200)) == IdempotencyStore.Claim.CLAIMED);
  }

  @Test
  void deliveryStore_leasesPerEndpoint_andRemovesByIdAlone() {
    RedisDeliveryStore store = closing(RedisDeliveryStore.create(redisUri(), prefix, Duration.ofMinutes(1)));
    java.time.Instant now = java.time.Instant.parse("2026-11-24T00:00:00Z");
    URI url = URI.create("http://example.com/hooks");
    byte[] body = "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    for (int i = 0; i < 3; i++) {
      store.add(new Delivery("a" + i, "e", url, body, null, now, 0, now.plusMillis(i), null));
    }
    store.add(new Delivery("b0", "f", url, body, null, now, 0, now, null));
    java.time.Instant later = now.plusSeconds(1);
    assertEquals(List.of("a0", "a1"), ids(store.due("e", later, 2)));
    assertEquals(List.of("a2"), ids(store.due("e", later, 10)), "leased ones are not handed out again");
    assertEquals(List.of("b0"), ids(store.due("f", later, 10)), "per endpoint");
    store.release(new Delivery("a1", "e", url, body, null, now, 0, now.plusMillis(1), null));
    assertEquals(List.of("a1"), ids(store.due("e", later, 10)), "released: due again");
    store.remove("a0");
    store.remove("b0");
    assertEquals(2, store.pendingCount());
    assertEquals(List.of(), store.due("f", later.plus(Duration.ofHours(1)), 10), "removed from its endpoint's queue");
    assertEquals(List.of("a1", "a2"), ids(store.due("e", later.plus(Duration.ofHours(1)), 10)), "leases run out");
  }

  private static List<String> ids(List<Delivery> l) {
    return l.stream().map(Delivery::id).toList();
  }

  @Test
  void twoSenderNodesShareOneQueue_aCrashedNodesDeliveriesAreTakenOverAfterTheLease_eachProcessedOnce()
      throws Exception {
    URI url = receiver();
    URI url2 = receiver(); // a second receiving node behind the same endpoint name, sharing the dedup store
    RedisDeliveryStore storeA = closing(RedisDeliveryStore.create(redisUri(), prefix, Duration.ofSeconds(2)));
    RedisDeliveryStore storeB = closing(RedisDeliveryStore.create(redisUri(), prefix, Duration.ofSeconds(2)));
    WebhookSender nodeA = sender(storeA, url);
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 300; i++) {
      Delivery d = nodeA.newDelivery("shop", ("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8), "application/json");
      storeA.add(d);
      ids.add(d.id());
    }
    assertEquals(300, storeB.pendingCount(), "node B sees node A's queue");
    nodeA.start();
    RedisTestSupport.await("node A delivered some", () -> processed.size() >= 20);
    nodeA.close(); // crashed: whatever it had taken stays leased to it
    int before = processed.size();
    assertTrue(before < 300, "node A was stopped mid-run (" + before + " done)");

    WebhookSender nodeB = sender(storeB, url2).start();
    RedisTestSupport.await("node B delivered the rest, including node A's leased ones",
        () -> storeB.pendingCount() == 0 && processed.size() >= 300);
    nodeB.close();
    assertEquals(ids, processed.keySet(), "every pending delivery arrived");
    assertTrue(processed.values().stream().allMatch(n -> n.get() == 1), "none was processed twice");
    assertEquals(List.of(), storeB.deadLetters());
  }

  @Test
  void deadLetters_areShared_andReplayable_andDeliveriesRoundTrip() throws Exception {
    RedisDeliveryStore store = closing(RedisDeliveryStore.create(redisUri(), prefix, Duration.ofMinutes(1)));
    WebhookSender s = WebhookSender.builder().store(store).allowPrivateTargets(true)
        .schedule(List.of(Duration.ZERO)).build();
    s.register("gone", URI.create("http://127.0.0.1:1/nothing-listens-here"), WebhookSigner.standardWebhooks(SECRET));
    String id = s.send("gone", "{}".getBytes(StandardCharsets.UTF_8), null);
    s.runDue().get(30, TimeUnit.SECONDS);
    RedisDeliveryStore other = closing(RedisDeliveryStore.create(redisUri(), prefix, Duration.ofMinutes(1)));
    List<Delivery> dead = other.deadLetters();
    assertEquals(List.of(id), dead.stream().map(Delivery::id).toList());
    assertTrue(dead.get(0).lastError() != null && dead.get(0).attempts() == 1, dead.get(0).toString());
    s.register("gone", receiver(), WebhookSigner.standardWebhooks(SECRET));
    assertTrue(s.replay(id));
    s.runDue().get(30, TimeUnit.SECONDS);
    assertEquals(Set.of(id), processed.keySet());
    assertEquals(List.of(), other.deadLetters());
    s.close();
  }
}
