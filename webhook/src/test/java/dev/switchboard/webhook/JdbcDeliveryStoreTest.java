package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The JDBC store against the machine's PostgreSQL (127.0.0.1:5432, database test, trust auth). */
@Timeout(120)
class JdbcDeliveryStoreTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static com.zaxxer.hikari.HikariDataSource ds;
  private final String table = "sb_webhooks_" + Long.toHexString(System.nanoTime());
  private final Map<String, AtomicInteger> processed = new ConcurrentHashMap<>();
  private JdbcDeliveryStore store;
  private Server receiver;
  private URI url;

  @BeforeAll
  static void pool() {
    com.zaxxer.hikari.HikariConfig c = new com.zaxxer.hikari.HikariConfig();
    c.setJdbcUrl("jdbc:postgresql://127.0.0.1:5432/test");
    c.setUsername("postgres");
    c.setMaximumPoolSize(8);
    ds = new com.zaxxer.hikari.HikariDataSource(c);
  }

  @AfterAll
  static void closePool() {
    ds.close();
  }

  @BeforeEach
  void setUp() throws Exception {
    store = new JdbcDeliveryStore(ds, table);
    store.createTable();
    receiver = new Server();
    ServerConnector c = new ServerConnector(receiver);
    c.setHost("127.0.0.1");
    c.setPort(0);
    receiver.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    // A receiver that deduplicates by webhook id, as WebhookFilter does.
    ctx.addFilter(new FilterHolder(WebhookFilter.builder(WebhookVerifier.standardWebhooks(SECRET).build()).build()),
        "/*", EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) {
        WebhookVerifier.Verified v = (WebhookVerifier.Verified) req.getAttribute(WebhookFilter.VERIFIED);
        processed.computeIfAbsent(v.id(), k -> new AtomicInteger()).incrementAndGet();
        res.setStatus(204);
      }
    }), "/*");
    receiver.setHandler(ctx);
    receiver.start();
    url = URI.create("http://127.0.0.1:" + c.getLocalPort() + "/hooks");
  }

  @AfterEach
  void tearDown() throws Exception {
    receiver.stop();
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
    }
  }

  private WebhookSender sender() {
    WebhookSender s = WebhookSender.builder().store(store).allowPrivateTargets(true).build();
    s.register("shop", url, WebhookSigner.standardWebhooks(SECRET));
    return s;
  }

  @Test
  void outbox_aRolledBackTransactionQueuesNothing_aCommittedOneIsSent() throws Exception {
    WebhookSender s = sender();
    Delivery rolledBack = s.newDelivery("shop", "{\"order\":1}".getBytes(StandardCharsets.UTF_8), "application/json");
    Delivery committed = s.newDelivery("shop", "{\"order\":2}".getBytes(StandardCharsets.UTF_8), "application/json");
    try (Connection tx = ds.getConnection()) {
      tx.setAutoCommit(false);
      store.enqueue(tx, rolledBack); // the app's own change would go in the same transaction
      tx.rollback();
      store.enqueue(tx, committed);
      tx.commit();
    }
    assertEquals(1, store.pendingCount());
    s.runDue().get(30, TimeUnit.SECONDS);
    assertEquals(Set.of(committed.id()), processed.keySet());
    assertEquals(0, store.pendingCount());
  }

  @Test
  void senderKilledMidRun_aNewSenderDeliversEveryPendingMessageExactlyOnce() throws Exception {
    Set<String> ids = new HashSet<>();
    WebhookSender first = sender();
    try (Connection tx = ds.getConnection()) {
      tx.setAutoCommit(false);
      for (int i = 0; i < 300; i++) {
        Delivery d = first.newDelivery("shop", ("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8), "application/json");
        store.enqueue(tx, d);
        ids.add(d.id());
      }
      tx.commit();
    }
    first.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (processed.size() < 20 && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    first.close(); // killed: no drain, whatever was in flight is left as it was
    int before = processed.size();
    assertTrue(before < 300, "the first sender was stopped mid-run (" + before + " done)");

    WebhookSender second = sender().start();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while ((store.pendingCount() > 0 || processed.size() < 300) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    second.close();
    assertEquals(ids, processed.keySet(), "every pending delivery arrived");
    assertTrue(processed.values().stream().allMatch(n -> n.get() == 1), "none was processed twice");
    assertEquals(0, store.pendingCount());
    assertEquals(List.of(), store.deadLetters());
  }

  @Test
  void twoSendersOnOneTable_sendEachDeliveryOnce() throws Exception {
    List<String> attempted = new java.util.concurrent.CopyOnWriteArrayList<>();
    WebhookSender.Listener count = new WebhookSender.Listener() {
      @Override
      public void onAttempt(WebhookSender.Attempt a) {
        attempted.add(a.deliveryId());
      }
    };
    WebhookSender a = node(store, count);
    WebhookSender b = node(new JdbcDeliveryStore(ds, table), count);
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      ids.add(a.send("shop", ("{\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8), "application/json"));
    }
    a.start();
    b.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while ((store.pendingCount() > 0 || attempted.size() < 200) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(300); // a second copy of anything would be attempted by now
    } finally {
      a.close();
      b.close();
    }
    assertEquals(200, attempted.size(), "attempts by both senders together");
    assertEquals(ids, new HashSet<>(attempted), "each delivery attempted by one sender, once");
  }

  @Test
  void deliveriesLeasedByACrashedSender_goToAnotherOnceTheLeaseRunsOut() throws Exception {
    JdbcDeliveryStore shortLeases = new JdbcDeliveryStore(ds, table, Duration.ofSeconds(1));
    WebhookSender s = node(shortLeases, new WebhookSender.Listener() { });
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      ids.add(s.send("shop", "{}".getBytes(StandardCharsets.UTF_8), "application/json"));
    }
    // Another node takes all five and dies before attempting them.
    assertEquals(ids, new HashSet<>(new JdbcDeliveryStore(ds, table, Duration.ofSeconds(1))
        .due("shop", java.time.Instant.now(), 10).stream().map(Delivery::id).toList()));
    assertEquals(List.of(), shortLeases.due("shop", java.time.Instant.now(), 10), "leased: nobody else gets them");
    s.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while ((processed.size() < 5 || shortLeases.pendingCount() > 0) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
    } finally {
      s.close();
    }
    assertEquals(ids, processed.keySet(), "taken over after the lease");
    assertEquals(0, shortLeases.pendingCount());
  }

  @Test
  void leases_areValidated() {
    assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new JdbcDeliveryStore(ds, table, Duration.ZERO)).getMessage().contains("lease"));
  }

  private WebhookSender node(JdbcDeliveryStore on, WebhookSender.Listener listener) {
    WebhookSender s = WebhookSender.builder().store(on).allowPrivateTargets(true).perEndpointConcurrency(8)
        .listener(listener).build();
    s.register("shop", url, WebhookSigner.standardWebhooks(SECRET));
    return s;
  }

  @Test
  void deadLetters_surviveInTheTable_andReplay() throws Exception {
    WebhookSender s = WebhookSender.builder().store(store).allowPrivateTargets(true)
        .schedule(List.of(Duration.ZERO)).build();
    s.register("gone", URI.create("http://127.0.0.1:1/nothing-listens-here"), WebhookSigner.standardWebhooks(SECRET));
    String id = s.send("gone", "{}".getBytes(StandardCharsets.UTF_8), null);
    s.runDue().get(30, TimeUnit.SECONDS);
    assertEquals(List.of(id), new JdbcDeliveryStore(ds, table).deadLetters().stream().map(Delivery::id).toList());
    s.register("gone", url, WebhookSigner.standardWebhooks(SECRET));
    assertTrue(s.replay(id));
    s.runDue().get(30, TimeUnit.SECONDS);
    assertEquals(Set.of(id), processed.keySet());
  }
}
