package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The sender against receivers that fail on purpose; time is a manual clock, nothing sleeps a schedule. */
@Timeout(60)
class WebhookSenderTest {
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  private static final byte[] BODY = "{\"type\":\"payment.succeeded\"}".getBytes(StandardCharsets.UTF_8);

  /** A clock tests move by hand. */
  static final class ManualClock extends Clock {
    volatile Instant now = Instant.parse("2026-11-24T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** One request as the receiver saw it. */
  record Seen(String path, Map<String, String> headers, boolean verified) {}

  private final ManualClock clock = new ManualClock();
  private final ConcurrentLinkedQueue<String> script = new ConcurrentLinkedQueue<>();
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private final List<WebhookSender.Attempt> attempts = new CopyOnWriteArrayList<>();
  private final List<String> disabledEvents = new CopyOnWriteArrayList<>();
  private volatile CountDownLatch hang = new CountDownLatch(0);
  private Server server;
  private String base;

  @BeforeEach
  void start() throws Exception {
    server = new Server();
    ServerConnector c = new ServerConnector(server);
    c.setHost("127.0.0.1");
    c.setPort(0);
    server.addConnector(c);
    ServletContextHandler ctx = new ServletContextHandler();
    WebhookVerifier verifier = WebhookVerifier.standardWebhooks(SECRET).clock(clock).build();
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        byte[] body = req.getInputStream().readAllBytes();
        Map<String, String> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (String n : java.util.Collections.list(req.getHeaderNames())) {
          h.put(n, req.getHeader(n));
        }
        boolean ok;
        try {
          verifier.verify(req::getHeader, body);
          ok = true;
        } catch (WebhookVerificationException e) {
          ok = false;
        }
        seen.add(new Seen(req.getRequestURI(), h, ok));
        if (req.getRequestURI().startsWith("/slow")) {
          try {
            hang.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          res.setStatus(200);
          return;
        }
        String action = script.poll();
        if (action == null) {
          res.setStatus(200);
          return;
        }
        String[] parts = action.split(" ");
        if (parts.length > 1) {
          res.setHeader(parts[1].startsWith("/") ? "Location" : "Retry-After", parts[1].replace("_", " "));
        }
        res.setStatus(Integer.parseInt(parts[0]));
      }
    }), "/*");
    server.setHandler(ctx);
    server.start();
    base = "http://127.0.0.1:" + c.getLocalPort();
  }

  @AfterEach
  void stop() throws Exception {
    hang.countDown();
    server.stop();
  }

  private WebhookSender.Builder sender() {
    return WebhookSender.builder().clock(clock).jitter(0).allowPrivateTargets(true).timeout(Duration.ofSeconds(5))
        .listener(new WebhookSender.Listener() {
          @Override
          public void onAttempt(WebhookSender.Attempt a) {
            attempts.add(a);
          }

          @Override
          public void onEndpointDisabled(String endpointId, String reason) {
            disabledEvents.add(endpointId + ": " + reason);
          }
        });
  }

  private static void run(WebhookSender s) throws Exception {
    s.runDue().get(30, TimeUnit.SECONDS);
  }

  @Test
  void retries5xxAnd429OnTheSchedule_honouringRetryAfter_thenDelivers_withTheSameIdAndFreshSignatures() throws Exception {
    WebhookSender s = sender().build();
    s.register("shop", URI.create(base + "/hook"), WebhookSigner.standardWebhooks(SECRET));
    script.addAll(List.of("500", "429 600", "503"));
    String id = s.send("shop", BODY, "application/json");
    run(s); // immediately: 500 → next in 5 s
    clock.advance(Duration.ofSeconds(4));
    run(s);
    assertEquals(1, seen.size(), "not due yet after 4 s");
    clock.advance(Duration.ofSeconds(1));
    run(s); // 429 with Retry-After 600 → 10 min, more than the schedule's 5 min
    clock.advance(Duration.ofMinutes(5));
    run(s);
    assertEquals(2, seen.size(), "Retry-After is honoured over the shorter schedule step");
    clock.advance(Duration.ofMinutes(5));
    run(s); // 503 → next in 30 min
    clock.advance(Duration.ofMinutes(30));
    run(s); // 200
    assertEquals(4, seen.size());
    for (Seen x : seen) {
      assertEquals(id, x.headers().get("webhook-id"));
      assertTrue(x.verified(), "each attempt is signed for its own time");
    }
    assertEquals(4, seen.stream().map(x -> x.headers().get("webhook-timestamp")).distinct().count(), "fresh timestamp per attempt");
    assertEquals(List.of(WebhookSender.Outcome.RETRY, WebhookSender.Outcome.RETRY, WebhookSender.Outcome.RETRY,
        WebhookSender.Outcome.DELIVERED), attempts.stream().map(WebhookSender.Attempt::outcome).toList());
    assertEquals(List.of(500, 429, 503, 200), attempts.stream().map(WebhookSender.Attempt::status).toList());
    assertTrue(s.deadLetters().isEmpty());
  }

  @Test
  void otherClientErrors_stopAtOnce_and410DisablesTheEndpoint() throws Exception {
    WebhookSender s = sender().build();
    s.register("a", URI.create(base + "/a"), WebhookSigner.standardWebhooks(SECRET));
    script.add("400");
    String bad = s.send("a", BODY, null);
    run(s);
    assertEquals(1, seen.size());
    assertEquals(bad, s.deadLetters().get(0).id());
    assertEquals("HTTP 400 (not retried)", s.deadLetters().get(0).lastError());
    script.add("410");
    s.send("a", BODY, null);
    run(s);
    assertNotNull(s.disabledReason("a"));
    assertEquals(1, disabledEvents.size());
    s.send("a", BODY, null);
    run(s);
    assertEquals(2, seen.size(), "a disabled endpoint gets no more requests");
    assertEquals(3, s.deadLetters().size());
  }

  @Test
  void afterTheLastAttempt_aDeadLetter_thatCanBeReplayed() throws Exception {
    WebhookSender s = sender().schedule(List.of(Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1))).build();
    s.register("e", URI.create(base + "/e"), WebhookSigner.standardWebhooks(SECRET));
    script.addAll(List.of("500", "502", "504"));
    String id = s.send("e", BODY, null);
    for (int i = 0; i < 3; i++) {
      run(s);
      clock.advance(Duration.ofSeconds(1));
    }
    assertEquals(List.of(id), s.deadLetters().stream().map(Delivery::id).toList());
    assertEquals(3, s.deadLetters().get(0).attempts());
    assertEquals(WebhookSender.Outcome.DEAD_LETTER, attempts.get(2).outcome());
    assertTrue(s.replay(id));
    assertFalse(s.replay(id), "no longer a dead letter");
    run(s);
    assertEquals(4, seen.size());
    assertEquals(id, seen.get(3).headers().get("webhook-id"), "a replay keeps the id: receivers deduplicate");
    assertTrue(s.deadLetters().isEmpty());
    assertEquals(0, s.replaySince(Instant.EPOCH));
  }

  @Test
  void redirects_areNotFollowed_andCountAsFailures() throws Exception {
    WebhookSender s = sender().build();
    s.register("r", URI.create(base + "/r"), WebhookSigner.standardWebhooks(SECRET));
    script.add("302 /elsewhere");
    s.send("r", BODY, null);
    run(s);
    assertEquals(1, seen.size());
    assertEquals("/r", seen.get(0).path());
    assertEquals(WebhookSender.Outcome.RETRY, attempts.get(0).outcome());
  }

  @Test
  void timeoutsAndRefusedConnections_areRetried() throws Exception {
    WebhookSender s = sender().timeout(Duration.ofMillis(300)).build();
    s.register("slow", URI.create(base + "/slow"), WebhookSigner.standardWebhooks(SECRET));
    int closedPort;
    try (ServerSocket ss = new ServerSocket(0)) {
      closedPort = ss.getLocalPort();
    }
    s.register("gone", URI.create("http://127.0.0.1:" + closedPort + "/x"), WebhookSigner.standardWebhooks(SECRET));
    hang = new CountDownLatch(1);
    s.send("slow", BODY, null);
    s.send("gone", BODY, null);
    run(s);
    assertEquals(2, attempts.size());
    for (WebhookSender.Attempt a : attempts) {
      assertEquals(WebhookSender.Outcome.RETRY, a.outcome(), a.toString());
      assertEquals(-1, a.status());
      assertTrue(a.error().startsWith("network: "), a.error());
    }
  }

  @Test
  void retryAfterAsAnHttpDate_isHonoured() throws Exception {
    WebhookSender s = sender().build();
    s.register("d", URI.create(base + "/d"), WebhookSigner.standardWebhooks(SECRET));
    String date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
        clock.now.plus(Duration.ofMinutes(20)).atZone(ZoneOffset.UTC)).replace(" ", "_");
    script.add("503 " + date);
    s.send("d", BODY, null);
    run(s);
    clock.advance(Duration.ofMinutes(19));
    run(s);
    assertEquals(1, seen.size(), "not before the date the server named");
    clock.advance(Duration.ofMinutes(1));
    run(s);
    assertEquals(2, seen.size());
    assertEquals(WebhookSender.Outcome.DELIVERED, attempts.get(1).outcome());
  }

  @Test
  void connectionResetMidRequest_isRetried() throws Exception {
    try (ServerSocket ss = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread resetter = new Thread(() -> {
        try (java.net.Socket sock = ss.accept()) {
          sock.getInputStream().read(new byte[64]); // the request has started arriving
          sock.setSoLinger(true, 0); // close with RST
        } catch (IOException e) {
          // test over
        }
      });
      resetter.start();
      WebhookSender s = sender().build();
      s.register("rst", URI.create("http://127.0.0.1:" + ss.getLocalPort() + "/x"), WebhookSigner.standardWebhooks(SECRET));
      s.send("rst", BODY, null);
      run(s);
      resetter.join();
      assertEquals(WebhookSender.Outcome.RETRY, attempts.get(0).outcome());
      assertTrue(attempts.get(0).error().startsWith("network: "), attempts.get(0).error());
    }
  }

  @Test
  void privateTargets_areRefusedUnlessAllowed() throws Exception {
    WebhookSender s = sender().allowPrivateTargets(false).build();
    s.register("local", URI.create(base + "/local"), WebhookSigner.standardWebhooks(SECRET));
    s.send("local", BODY, null);
    run(s);
    assertEquals(0, seen.size(), "nothing was sent to loopback");
    String error = s.deadLetters().get(0).lastError();
    assertTrue(error.startsWith("refused: 127.0.0.1 is a loopback address"), error);
    assertEquals(1, attempts.size(), "refused at once, not retried");
    assertEquals(WebhookSender.Outcome.DEAD_LETTER, attempts.get(0).outcome());
  }

  @Test
  void aSlowEndpoint_doesNotDelayTheOthers() throws Exception {
    WebhookSender s = slowAndFastEndpoints(1);
    for (int i = 0; i < 3; i++) {
      s.send("slow", BODY, null);
      s.send("fast", BODY, null);
    }
    runUntilSeen(s, "/fast", 3);
    runUntilSeen(s, "/slow", 1); // its one attempt may reach the receiver after the fast ones
    assertEquals(3, seenAt("/fast"), "every fast delivery went out");
    assertEquals(1, seenAt("/slow"), "the slow endpoint holds one at a time");
    hang.countDown();
  }

  /** A sender with endpoints "slow" (whose receiver hangs until {@code hang} opens) and "fast". */
  private WebhookSender slowAndFastEndpoints(int perEndpointConcurrency) {
    WebhookSender s = sender().perEndpointConcurrency(perEndpointConcurrency).build();
    s.register("slow", URI.create(base + "/slow"), WebhookSigner.standardWebhooks(SECRET));
    s.register("fast", URI.create(base + "/fast"), WebhookSigner.standardWebhooks(SECRET));
    hang = new CountDownLatch(1);
    return s;
  }

  /** Dispatch rounds, not joined (a slow attempt stays in flight, as with the background loop). */
  private void runUntilSeen(WebhookSender s, String path, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (seenAt(path) < count && System.nanoTime() < deadline) {
      s.runDue();
      Thread.sleep(10);
    }
  }

  private long seenAt(String path) {
    return seen.stream().filter(x -> x.path().equals(path)).count();
  }

  @Test
  void aBacklogForASlowEndpoint_doesNotHideAnotherEndpointsDeliveries() throws Exception {
    WebhookSender s = slowAndFastEndpoints(2);
    for (int i = 0; i < 500; i++) { // queued first, so the oldest due deliveries are all the slow one's
      s.send("slow", BODY, null);
    }
    clock.advance(Duration.ofSeconds(1));
    for (int i = 0; i < 3; i++) {
      s.send("fast", BODY, null);
    }
    runUntilSeen(s, "/fast", 3);
    // The slow endpoint's two attempts may reach its receiver after the fast ones: wait for them
    // (they hang there), then a third would mean the per-endpoint limit let more through.
    runUntilSeen(s, "/slow", 2);
    assertEquals(3, seenAt("/fast"), "every fast delivery went out");
    assertEquals(2, seenAt("/slow"), "the slow endpoint holds two at a time");
    hang.countDown();
  }

  @Test
  void manyDeliveriesInFlight_eachIsSentExactlyOnce() throws Exception {
    WebhookSender s = sender().perEndpointConcurrency(16).clock(Clock.systemUTC()).build().start();
    try {
      s.register("fast", URI.create(base + "/fast"), WebhookSigner.standardWebhooks(SECRET));
      java.util.Set<String> ids = new java.util.HashSet<>();
      for (int i = 0; i < 2000; i++) {
        ids.add(s.send("fast", BODY, null));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
      while (attempts.size() < 2000 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      Thread.sleep(200); // anything sent twice would show up now
      List<String> sent = seen.stream().map(x -> x.headers().get("webhook-id")).toList();
      assertEquals(2000, sent.size(), "requests the receiver saw");
      assertEquals(ids, new java.util.HashSet<>(sent), "every delivery, none twice");
    } finally {
      s.close();
    }
  }

  @Test
  void deliveriesForAnEndpointNotRegisteredYet_waitForIt() throws Exception {
    DeliveryStore store = DeliveryStore.inMemory();
    WebhookSender before = sender().store(store).build();
    before.register("late", URI.create(base + "/late"), WebhookSigner.standardWebhooks(SECRET));
    before.send("late", BODY, null);
    WebhookSender restarted = sender().store(store).build(); // a restart: nothing registered yet
    run(restarted);
    assertEquals(1, store.pendingCount(), "kept, not dead-lettered");
    assertEquals(List.of(), store.deadLetters());
    restarted.register("late", URI.create(base + "/late"), WebhookSigner.standardWebhooks(SECRET));
    run(restarted);
    assertEquals(0, store.pendingCount());
    assertEquals(List.of("/late"), seen.stream().map(Seen::path).toList());
  }

  @Test
  void close_givesBackDeliveriesLeasedAheadButNotAttempted() throws Exception {
    DeliveryStore store = DeliveryStore.inMemory();
    WebhookSender s = sender().store(store).perEndpointConcurrency(1).build();
    s.register("slow", URI.create(base + "/slow"), WebhookSigner.standardWebhooks(SECRET));
    hang = new CountDownLatch(1);
    for (int i = 0; i < 3; i++) {
      s.send("slow", BODY, null);
    }
    s.runDue(); // one attempt hangs; one more is leased ahead for the next free permit
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (seen.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, store.due("slow", clock.instant(), 10).size(), "two of three are leased (this takes the third)");
    s.close();
    assertEquals(1, store.due("slow", clock.instant(), 10).size(), "the one leased ahead was given back");
    assertEquals(1, seen.size());
    hang.countDown();
  }

  @Test
  void inMemoryStore_leasesEachDueDeliveryOnce_untilReleasedOrUpdated() {
    DeliveryStore store = DeliveryStore.inMemory();
    Instant now = clock.instant();
    for (int i = 0; i < 5; i++) {
      store.add(new Delivery("d" + i, "e", URI.create(base), BODY, null, now, 0, now.plusMillis(i), null));
    }
    store.add(new Delivery("other", "f", URI.create(base), BODY, null, now, 0, now, null));
    Instant later = now.plusSeconds(1);
    assertEquals(List.of("d0", "d1"), ids(store.due("e", later, 2)));
    assertEquals(List.of("d2", "d3", "d4"), ids(store.due("e", later, 10)), "leased ones are not handed out again");
    assertEquals(List.of(), store.due("e", later, 10));
    assertEquals(List.of("other"), ids(store.due("f", later, 10)), "per endpoint");
    assertEquals(List.of(), store.due("unknown", later, 10));
    store.release(new Delivery("d1", "e", URI.create(base), BODY, null, now, 0, now.plusMillis(1), null));
    assertEquals(List.of("d1"), ids(store.due("e", later, 10)), "released: due again");
    store.update(new Delivery("d2", "e", URI.create(base), BODY, null, now, 1, later.plusSeconds(5), "HTTP 500"));
    assertEquals(List.of(), store.due("e", later, 10), "retry not due yet");
    assertEquals(List.of("d2"), ids(store.due("e", later.plusSeconds(5), 10)), "updated: leased again when due");
    store.remove("d0");
    store.deadLetter(new Delivery("d3", "e", URI.create(base), BODY, null, now, 9, now, "HTTP 500"));
    assertEquals(4, store.pendingCount(), "d1, d2, d4 and other");
    assertEquals(List.of("d3"), ids(store.deadLetters()));
  }

  private static List<String> ids(List<Delivery> l) {
    return l.stream().map(Delivery::id).toList();
  }

  @Test
  void anEndpointFailingForTooLong_isDisabled() throws Exception {
    WebhookSender s = sender().disableAfter(Duration.ofHours(1)).build();
    s.register("down", URI.create(base + "/down"), WebhookSigner.standardWebhooks(SECRET));
    for (int i = 0; i < 10; i++) {
      script.add("500");
    }
    s.send("down", BODY, null);
    run(s);
    clock.advance(Duration.ofSeconds(5));
    run(s);
    clock.advance(Duration.ofMinutes(5));
    run(s);
    clock.advance(Duration.ofMinutes(30));
    run(s);
    assertNull(s.disabledReason("down"));
    clock.advance(Duration.ofHours(2));
    run(s);
    assertNotNull(s.disabledReason("down"));
    assertTrue(disabledEvents.get(0).startsWith("down: failing since"), disabledEvents.toString());
    assertEquals(1, s.deadLetters().size());
  }
}
