package dev.switchboard.webhook.subscriptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Message;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookVerificationException;
import dev.switchboard.webhook.WebhookVerifier;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Subscriptions end to end: an in-memory broker, a real HTTP receiver (Jetty), the real sender. */
@Timeout(60)
class WebhookSubscriptionsTest {
  private Receiver rx;
  private InMemoryBroker broker;
  private final List<WebhookSubscriptions> open = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    rx = new Receiver();
    broker = new InMemoryBroker();
  }

  @AfterEach
  void tearDown() throws Exception {
    open.forEach(WebhookSubscriptions::close);
    rx.close();
    broker.close();
  }

  private WebhookSubscriptions subs(EndpointStore store, Consumer<WebhookSender.Builder> sender) {
    return subs(store, sender, Clock.systemUTC());
  }

  private WebhookSubscriptions subs(EndpointStore store, Consumer<WebhookSender.Builder> sender, Clock clock) {
    WebhookSubscriptions s = WebhookSubscriptions.builder(broker, store)
        .sender(b -> {
          b.allowPrivateTargets(true);
          sender.accept(b);
        })
        .clock(clock)
        .cursorFlushInterval(Duration.ofMillis(50))
        .build().start();
    open.add(s);
    return s;
  }

  private List<String> publish(String topic, int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(broker.publish(Message.builder(topic).json("{\"n\":" + i + "}").build()).toCompletableFuture().join().id());
    }
    return ids;
  }

  static void await(BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("condition not met within 10 s");
      }
      Thread.sleep(10);
    }
  }

  private static List<String> ids(List<Receiver.Request> rs) {
    return rs.stream().map(r -> r.header("webhook-id")).toList();
  }

  @Test
  void deliversSignedInOrderWithMessageIdsAndResumesAfterARestart() throws Exception {
    EndpointStore store = EndpointStore.inMemory();
    broker.publish(Message.text("orders", "before registration")).toCompletableFuture().join();
    WebhookSubscriptions s = subs(store, b -> { });
    WebhookSubscriptions.Created c = s.create("alice", EndpointChange.of(rx.url, List.of("orders")));
    List<String> first = publish("orders", 5);
    List<Receiver.Request> got = rx.take(5);
    assertEquals(first, ids(got), "in order, webhook-id = message id, nothing from before registration");
    WebhookVerifier verifier = WebhookVerifier.standardWebhooks(c.secret()).build();
    for (Receiver.Request r : got) {
      assertEquals(r.header("webhook-id"), verifier.verify(r::header, r.body()).id());
      assertTrue(r.text().contains("\"topic\":\"orders\""), r.text());
      assertTrue(r.text().contains("\"data\":{\"n\":"), r.text());
    }
    String id = c.endpoint().id();
    await(() -> first.get(4).equals(s.get(id).orElseThrow().cursors().get("orders")));
    await(() -> first.get(4).equals(store.cursors(id).get("orders")));

    s.close(); // the hub goes down; messages keep coming (another node, or queued before restart)
    List<String> whileDown = publish("orders", 3);
    WebhookSubscriptions s2 = subs(store, b -> { });
    assertEquals(whileDown, ids(rx.take(3)), "resumed from the stored cursor");
    assertNull(rx.received.poll(200, TimeUnit.MILLISECONDS), "nothing delivered twice");
    assertTrue(s2.get(id).isPresent());
  }

  @Test
  void aCursorOlderThanHistoryYieldsOneHistoryGapEventThenWhatHistoryHolds() throws Exception {
    broker.close();
    broker = new InMemoryBroker(3);
    String start = publish("t", 1).get(0);
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { });
    String id = s.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
    s.update(id, EndpointChange.enabled(false));
    List<String> ids = publish("t", 10); // history keeps the last 3
    s.update(id, EndpointChange.enabled(true));
    Receiver.Request gap = rx.take();
    assertTrue(gap.header("webhook-id").startsWith("gap_"), gap.header("webhook-id"));
    assertTrue(gap.text().contains("\"type\":\"" + WebhookSubscriptions.HISTORY_GAP + "\""), gap.text());
    assertTrue(gap.text().contains("\"afterId\":\"" + start + "\""), gap.text());
    assertTrue(gap.text().contains("\"firstId\":\"" + ids.get(7) + "\""), gap.text());
    assertEquals(ids.subList(7, 10), ids(rx.take(3)));
    await(() -> ids.get(9).equals(s.get(id).orElseThrow().cursors().get("t")));
    assertNull(rx.received.poll(200, TimeUnit.MILLISECONDS), "one gap event, no repeat");
  }

  @Test
  void anEndpointFailingTooLongIsDisabledWithAReasonAndReEnablingResumesFromTheCursor() throws Exception {
    EndpointStore store = EndpointStore.inMemory();
    WebhookSubscriptions s = subs(store, b -> b.jitter(0).disableAfter(Duration.ofMillis(100))
        .schedule(List.of(Duration.ZERO, Duration.ofMillis(30), Duration.ofMillis(30), Duration.ofMillis(30),
            Duration.ofMillis(30), Duration.ofMillis(30), Duration.ofMillis(30), Duration.ofMillis(30))));
    String id = s.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
    String ok = publish("t", 1).get(0);
    assertEquals(ok, rx.take().header("webhook-id"));
    // The receiver records a request before it answers: wait for the 2xx to be acknowledged before
    // the receiver starts failing, or the first delivery could get the 500 too.
    await(() -> ok.equals(s.get(id).orElseThrow().cursors().get("t")));
    rx.status.set(500);
    String failing = publish("t", 1).get(0);
    await(() -> !s.get(id).orElseThrow().endpoint().enabled());
    Endpoint disabled = s.get(id).orElseThrow().endpoint();
    assertTrue(disabled.disabledReason().contains("failing since"), disabled.disabledReason());
    assertFalse(store.get(id).orElseThrow().enabled(), "stored as disabled");
    assertEquals(ok, s.get(id).orElseThrow().cursors().get("t"), "the cursor stays at the last acknowledged");
    List<WebhookSubscriptions.AttemptRecord> attempts = s.attempts(id, 10).orElseThrow();
    assertEquals(500, attempts.get(0).status());
    assertTrue(attempts.stream().anyMatch(a -> a.outcome().equals("retry")));

    rx.status.set(204);
    rx.received.clear();
    List<String> later = publish("t", 2);
    s.update(id, EndpointChange.enabled(true));
    List<String> expected = new ArrayList<>(List.of(failing));
    expected.addAll(later);
    assertEquals(expected, ids(rx.take(3)), "resumed at the message that failed");
    assertTrue(s.get(id).orElseThrow().endpoint().enabled());
  }

  @Test
  void standardWebhooksRotationSignsWithBothSecretsDuringTheOverlap() throws Exception {
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { });
    WebhookSubscriptions.Created c = s.create("alice", EndpointChange.of(rx.url, List.of("t")));
    String id = c.endpoint().id();
    WebhookSubscriptions.Rotation r = s.rotateSecret(id, Duration.ofHours(1)).orElseThrow();
    publish("t", 1);
    Receiver.Request got = rx.take();
    assertEquals(2, got.header("webhook-signature").split(" ").length, got.header("webhook-signature"));
    WebhookVerifier.standardWebhooks(c.secret()).build().verify(got::header, got.body());
    WebhookVerifier.standardWebhooks(r.secret()).build().verify(got::header, got.body());
    assertTrue(r.previousExpires().isAfter(Instant.now().plus(Duration.ofMinutes(59))));
  }

  /** A clock tests move. */
  static final class MovableClock extends Clock {
    final AtomicReference<Instant> now = new AtomicReference<>(Instant.now());

    @Override
    public Instant instant() {
      return now.get();
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  @Test
  void singleSignatureSchemesSwitchToTheNewSecretAtTheScheduledTime() throws Exception {
    MovableClock clock = new MovableClock();
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { }, clock);
    WebhookSubscriptions.Created c = s.create("alice",
        new EndpointChange(rx.url, List.of("t"), "github", null, null, null, Map.of("team", "billing")));
    String id = c.endpoint().id();
    WebhookSubscriptions.Rotation r = s.rotateSecret(id, Duration.ofHours(1)).orElseThrow();
    assertEquals(r.activeFrom(), r.previousExpires());
    publish("t", 1);
    Receiver.Request before = rx.take();
    WebhookVerifier.github(c.secret()).build().verify(before::header, before.body());
    assertThrows(WebhookVerificationException.class,
        () -> WebhookVerifier.github(r.secret()).build().verify(before::header, before.body()));

    clock.now.set(clock.now.get().plus(Duration.ofHours(2)));
    boolean switched = false;
    for (int i = 0; i < 40 && !switched; i++) { // the signer is re-made within a second of the switch
      publish("t", 1);
      Receiver.Request after = rx.take();
      try {
        WebhookVerifier.github(r.secret()).build().verify(after::header, after.body());
        switched = true;
      } catch (WebhookVerificationException notYet) {
        WebhookVerifier.github(c.secret()).build().verify(after::header, after.body());
        Thread.sleep(100);
      }
    }
    assertTrue(switched, "signed with the new secret after the switch");
  }

  @Test
  void replayFromAnIdOrATimeDeliversAgain() throws Exception {
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { });
    String id = s.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
    List<String> ids = publish("t", 5);
    assertEquals(ids, ids(rx.take(5)));
    assertTrue(s.replay(id, null, ids.get(1)));
    assertEquals(ids.subList(2, 5), ids(rx.take(3)));
    Instant third = broker.get("t", ids.get(3)).toCompletableFuture().join().orElseThrow().time();
    Map<String, String> cursors = s.replaySince(id, third).orElseThrow();
    assertEquals(ids.get(2), cursors.get("t"));
    List<String> again = ids(rx.take(2));
    assertEquals(ids.subList(3, 5), again);
    assertThrows(dev.switchboard.webhook.WebhookRegistrationException.class, () -> s.replay(id, "other", ids.get(0)));
  }

  @Test
  void concurrencyIsOptInAndEveryMessageOfEveryTopicArrives() throws Exception {
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> b.perEndpointConcurrency(8));
    String id = s.create("alice", new EndpointChange(rx.url, List.of("a", "b"), null, null, 8, null, null))
        .endpoint().id();
    List<String> a = publish("a", 40);
    List<String> b = publish("b", 40);
    List<String> got = ids(rx.take(80));
    assertTrue(got.containsAll(a) && got.containsAll(b));
    await(() -> s.get(id).orElseThrow().cursors().equals(Map.of("a", a.get(39), "b", b.get(39))));
  }

  @Test
  void aGlobalCapOnAttemptsServesEveryEndpointInTurnAndInOrder() throws Exception {
    WebhookSubscriptions s = WebhookSubscriptions.builder(broker, EndpointStore.inMemory())
        .sender(b -> b.allowPrivateTargets(true)).maxAttemptsInFlight(2).build().start();
    open.add(s);
    List<String> eps = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      eps.add(s.create("alice", EndpointChange.of(rx.url + "?ep=" + i, List.of("t"))).endpoint().id());
    }
    List<String> ids = publish("t", 10);
    Map<String, List<String>> byEndpoint = new java.util.HashMap<>();
    for (Receiver.Request r : rx.take(50)) {
      byEndpoint.computeIfAbsent(r.query(), k -> new ArrayList<>()).add(r.header("webhook-id"));
    }
    assertEquals(5, byEndpoint.size());
    byEndpoint.values().forEach(got -> assertEquals(ids, got, "each endpoint in order"));
  }

  @Test
  void theRateLimitSpacesDeliveries() throws Exception {
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { });
    s.create("alice", new EndpointChange(rx.url, List.of("t"), null, 4, null, null, null));
    long t0 = System.nanoTime();
    publish("t", 8);
    rx.take(8);
    // A burst of 4, then 4 per second: the last four need at least about a second.
    assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(800), "rate limit held");
  }

  @Test
  void testSendAndBadRegistrations() throws Exception {
    WebhookSubscriptions s = subs(EndpointStore.inMemory(), b -> { });
    String id = s.create("alice", EndpointChange.of(rx.url, List.of("t"))).endpoint().id();
    String did = s.testSend(id).orElseThrow();
    Receiver.Request r = rx.take();
    assertEquals(did, r.header("webhook-id"));
    assertTrue(r.text().contains(WebhookSubscriptions.TEST_EVENT));
    await(() -> s.attempts(id, 5).orElseThrow().stream().anyMatch(a -> a.deliveryId().equals(did) && a.outcome().equals("delivered")));
    assertEquals("invalid_endpoint", assertThrows(dev.switchboard.webhook.WebhookRegistrationException.class,
        () -> s.create("alice", EndpointChange.of(rx.url, List.of("bad topic")))).code());
    assertEquals("invalid_url", assertThrows(dev.switchboard.webhook.WebhookRegistrationException.class,
        () -> s.create("alice", EndpointChange.of("ftp://x", List.of("t")))).code());
    assertEquals("invalid_endpoint", assertThrows(dev.switchboard.webhook.WebhookRegistrationException.class,
        () -> s.create("alice", new EndpointChange(rx.url, List.of("t"), "md5", null, null, null, null))).code());

    // A receiver refusing (400, not retried): the attempt shows what it answered, the cursor moves on.
    rx.status.set(400);
    rx.answer.set("{\"error\":\"signature\nmismatch\"}");
    String refused = publish("t", 1).get(0);
    rx.take();
    await(() -> refused.equals(s.get(id).orElseThrow().cursors().get("t")));
    WebhookSubscriptions.AttemptRecord a = s.attempts(id, 1).orElseThrow().get(0);
    assertEquals(refused, a.deliveryId());
    assertEquals("failed", a.outcome());
    assertEquals(400, a.status());
    assertEquals("{\"error\":\"signature?mismatch\"}", a.responseExcerpt(), "excerpt, control characters replaced");
    assertTrue(s.delete(id));
    assertTrue(s.get(id).isEmpty());
    assertFalse(s.delete(id));
  }
}
