package dev.switchboard.webhook.subscriptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Message;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The three stores against one contract, the durable ones on the machine's PostgreSQL
 * (127.0.0.1:5432, database test) and Redis (127.0.0.1:6379, a random key prefix removed after).
 */
@Timeout(60)
class EndpointStoresTest {
  private static Endpoint endpoint(String id, String owner, Instant created) {
    return new Endpoint(id, owner, "https://example.com/hook/" + id, List.of("orders", "invoices:eu"),
        Endpoint.SignatureScheme.STRIPE,
        List.of(new Endpoint.Secret("whsec_a", created, created.plusSeconds(60)), new Endpoint.Secret("whsec_b", created.plusSeconds(60), null)),
        false, "disabled by its owner", 10, 2, Map.of("team", "billing", "note", "ünïcødé \"quoted\""), created);
  }

  /** The contract every store keeps. */
  static void contract(EndpointStore store) {
    Instant t = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    Endpoint a = endpoint("ep_a", "alice", t);
    Endpoint b = endpoint("ep_b", "bob", t.plusSeconds(1));
    Endpoint c = endpoint("ep_c", "alice", t.plusSeconds(2));
    store.save(c);
    store.save(a);
    store.save(b);
    assertEquals(a, store.get("ep_a").orElseThrow(), "every field round-trips");
    assertEquals(List.of(a, b, c), store.list(), "oldest first");
    assertEquals(List.of(a, c), store.list("alice"));
    Endpoint enabled = a.withEnabled(true, null);
    store.save(enabled);
    assertEquals(enabled, store.get("ep_a").orElseThrow(), "save replaces");
    assertTrue(store.cursors("ep_a").isEmpty());
    store.saveCursors("ep_a", Map.of("orders", "1-5", "invoices:eu", ""));
    store.saveCursors("ep_a", Map.of("orders", "1-9"));
    assertEquals(Map.of("orders", "1-9", "invoices:eu", ""), store.cursors("ep_a"));
    store.deleteCursor("ep_a", "invoices:eu");
    assertEquals(Map.of("orders", "1-9"), store.cursors("ep_a"));
    assertTrue(store.delete("ep_a"));
    assertFalse(store.delete("ep_a"));
    assertTrue(store.get("ep_a").isEmpty());
    assertTrue(store.cursors("ep_a").isEmpty(), "cursors go with the endpoint");
    assertEquals(List.of(b, c), store.list());
  }

  @Test
  void inMemory() {
    contract(EndpointStore.inMemory());
  }

  private static HikariDataSource postgres() {
    HikariConfig c = new HikariConfig();
    c.setJdbcUrl("jdbc:postgresql://127.0.0.1:5432/test");
    c.setUsername("postgres");
    c.setMaximumPoolSize(4);
    return new HikariDataSource(c);
  }

  private static void drop(HikariDataSource ds, String prefix) throws Exception {
    try (Connection conn = ds.getConnection(); Statement s = conn.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + prefix + "_endpoints");
      s.execute("DROP TABLE IF EXISTS " + prefix + "_cursors");
    }
  }

  @Test
  void jdbcOnPostgres() throws Exception {
    String prefix = "sb_whsub_" + Long.toHexString(System.nanoTime());
    try (HikariDataSource ds = postgres()) {
      try {
        contract(new JdbcEndpointStore(ds, prefix).createTables());
      } finally {
        drop(ds, prefix);
      }
    }
  }

  @Test
  void redis() {
    String prefix = "sbtest:whsub:" + Long.toHexString(System.nanoTime()) + ":";
    RedisClient client = RedisClient.create("redis://127.0.0.1:6379");
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      try {
        contract(new RedisEndpointStore(conn, prefix));
      } finally {
        List<String> keys = conn.sync().keys(prefix + "*");
        if (!keys.isEmpty()) {
          conn.sync().del(keys.toArray(new String[0]));
        }
      }
    } finally {
      client.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRestartWithTheJdbcStoreResumesFromTheStoredCursor() throws Exception {
    String prefix = "sb_whsub_" + Long.toHexString(System.nanoTime());
    try (HikariDataSource ds = postgres(); Receiver rx = new Receiver(); InMemoryBroker broker = new InMemoryBroker()) {
      try {
        JdbcEndpointStore store = new JdbcEndpointStore(ds, prefix).createTables();
        String id;
        String last;
        try (WebhookSubscriptions s = WebhookSubscriptions.builder(broker, store).sender(b -> b.allowPrivateTargets(true))
            .cursorFlushInterval(Duration.ofMillis(50)).build().start()) {
          id = s.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
          last = broker.publish(Message.text("t", "one")).toCompletableFuture().join().id();
          assertEquals(last, rx.take().header("webhook-id"));
          WebhookSubscriptionsTest.await(() -> last.equals(store.cursors(id).get("t")));
        }
        String down = broker.publish(Message.text("t", "two")).toCompletableFuture().join().id();
        try (WebhookSubscriptions s = WebhookSubscriptions.builder(broker, new JdbcEndpointStore(ds, prefix))
            .sender(b -> b.allowPrivateTargets(true)).build().start()) {
          assertEquals(down, rx.take().header("webhook-id"));
          assertEquals("alice", s.get(id).orElseThrow().endpoint().owner());
        }
      } finally {
        drop(ds, prefix);
      }
    }
  }
}
