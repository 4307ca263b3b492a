package dev.switchboard.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every Switchboard transport keeps, as one abstract suite: a transport's test extends
 * it, says how to start its server endpoints for a {@link Hub}, and inherits every test, so
 * "interchangeable" is proven by the same assertions on every transport.
 *
 * <p>Tests use real servers on 127.0.0.1 port 0 and real clients opened through
 * {@link Transports#open}. No test asserts on timing; waits are generous upper bounds.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class TransportContractTest {
  /** Upper bound for anything expected to happen. */
  protected static final Duration WAIT = Duration.ofSeconds(30);

  /** A running server for one hub. */
  public interface Server extends AutoCloseable {
    URI url();

    int port();

    /** Stops the server and closes every connection. */
    @Override
    void close() throws Exception;
  }

  /** The transport name under test, e.g. {@code sse}. */
  protected abstract String transport();

  /** Starts this transport's server endpoints (and the REST publish endpoint) for {@code hub}. */
  protected abstract Server startServer(Hub hub, int port) throws Exception;

  /**
   * Whether the server pushes over a connection it holds (SSE, WebSocket, gRPC), so a stalled
   * client is cut off by the slow-consumer policy; false for long polling, where the server holds
   * nothing for an idle client.
   */
  protected boolean serverPush() {
    return true;
  }

  /**
   * The broker behind each hub the suite starts, keeping {@code historySize} messages per topic
   * exactly; the embedded {@link InMemoryBroker} unless a subclass runs the suite over another.
   */
  protected Broker newBroker(int historySize) {
    return new InMemoryBroker(historySize);
  }

  /** A hook to adjust every client configuration. */
  protected TransportConfig.Builder configure(TransportConfig.Builder b) {
    return b;
  }

  protected Broker broker;
  protected Hub hub;
  protected Server server;
  private final List<Channel> channels = new CopyOnWriteArrayList<>();
  private final List<RecordingListener> listeners = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startDefault() throws Exception {
    start(20_000, b -> {});
  }

  @AfterEach
  void stopAll() throws Exception {
    for (Channel c : channels) {
      c.close();
    }
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
    if (broker != null) {
      broker.close();
    }
    for (RecordingListener l : listeners) {
      l.assertNoMoreEvents();
    }
  }

  /** Replaces the running hub and server with new ones (new broker with this history size). */
  protected void start(int historySize, Consumer<Hub.Builder> customize) throws Exception {
    if (server != null) {
      server.close();
      hub.shutdown();
    }
    broker = newBroker(historySize);
    Hub.Builder b = Hub.builder().broker(broker).maxPayloadBytes(64 * 1024)
        .maxQueuedMessages(256).maxQueuedBytes(1 << 20);
    customize.accept(b);
    hub = b.build();
    server = startServer(hub, 0);
  }

  /** Opens a client channel to the current server. */
  protected Channel open(Consumer<TransportConfig.Builder> customize) {
    TransportConfig.Builder b = TransportConfig.builder()
        .transport(transport())
        .url(server.url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(500)))
        .maxMessageBytes(8 << 20)
        .longPollWait(Duration.ofSeconds(2))
        .requestTimeout(Duration.ofSeconds(20));
    customize.accept(b);
    Channel c = Transports.open(configure(b).build());
    channels.add(c);
    return c;
  }

  protected Channel open() {
    return open(b -> {});
  }

  protected RecordingListener listener() {
    RecordingListener l = new RecordingListener();
    listeners.add(l);
    return l;
  }

  /** Publishes on the hub, server side. */
  protected Message publish(String topic, String text) {
    return hub.publish(topic, text).toCompletableFuture().join();
  }

  protected static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw SwitchboardException.from(e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("no result within " + WAIT, e);
    }
  }

  protected static SwitchboardException failure(CompletableFuture<?> f) {
    try {
      f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return SwitchboardException.from(e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("no result within " + WAIT, e);
    }
    return fail("expected a failure");
  }

  protected static void awaitCondition(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not true within " + WAIT + ": " + what);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  private static List<String> texts(List<Message> messages) {
    return messages.stream().map(Message::text).collect(Collectors.toList());
  }

  private static List<String> numbered(String prefix, int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> prefix + i).collect(Collectors.toList());
  }

  // ---------------------------------------------------------------- tests

  @Test
  void transportsOpen_returnsAChannelOfTheConfiguredTransport() {
    Channel c = open();
    assertEquals(transport(), c.transport());
    awaitCondition("the channel opens", () -> c.state() == Channel.State.OPEN);
  }

  @Test
  void publishThroughChannel_subscriberGetsEveryMessageInPublishOrder() {
    Message marker = publish("orders", "marker");
    Channel sub = open();
    Channel pub = open();
    RecordingListener l = listener();
    sub.subscribe("orders", marker.id(), l);
    List<String> ackIds = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      Message stored = await(pub.send(Message.text("orders", "m" + i)).toCompletableFuture());
      assertNotNull(stored.id());
      ackIds.add(stored.id());
    }
    List<Message> got = l.messages(100, WAIT);
    assertEquals(numbered("m", 0, 100), texts(got));
    assertEquals(ackIds, got.stream().map(Message::id).collect(Collectors.toList()));
    l.assertNoMoreEvents(Duration.ofMillis(300));
  }

  @Test
  void liveSubscription_receivesWhatIsPublishedOnceItIsInPlace() throws Exception {
    Channel sub = open();
    RecordingListener l = listener();
    sub.subscribe("live", l);
    // Live delivery starts when the server has the subscription; probe until one arrives.
    CompletableFuture<Void> stop = new CompletableFuture<>();
    Thread prober = new Thread(() -> {
      while (!stop.isDone()) {
        publish("live", "probe");
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    prober.start();
    l.skipUntil(m -> m.text().equals("probe"), WAIT);
    stop.complete(null);
    prober.join();
    publish("live", "a");
    publish("live", "b");
    publish("live", "c");
    l.skipUntil(m -> m.text().equals("a"), WAIT);
    assertEquals(List.of("b", "c"), texts(l.messages(2, WAIT)));
  }

  @Test
  void messageFields_surviveTheRoundTrip() {
    Message marker = publish("fields", "marker");
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("fields", marker.id(), l);
    byte[] binary = new byte[256];
    for (int i = 0; i < binary.length; i++) {
      binary[i] = (byte) i;
    }
    List<Message> sent = List.of(
        Message.builder("fields").event("price.update").json("{\"sym\":\"ACME\",\"px\":[1,2.5]}").build(),
        Message.builder("fields").payload(binary, "application/octet-stream").build(),
        Message.builder("fields").text("line one\nline two\r\nline three\rend").build(),
        Message.builder("fields").text("").build(),
        Message.builder("fields").text("ünïcødé ✓ \u0000 nul").build());
    for (Message m : sent) {
      await(c.send(m).toCompletableFuture());
    }
    List<Message> got = l.messages(sent.size(), WAIT);
    for (int i = 0; i < sent.size(); i++) {
      Message s = sent.get(i);
      Message g = got.get(i);
      assertEquals(s.event(), g.event(), "event of message " + i);
      assertEquals(Message.mediaType(s.contentType()), Message.mediaType(g.contentType()),
          "content type of message " + i);
      assertEquals(new String(s.payload(), StandardCharsets.ISO_8859_1),
          new String(g.payload(), StandardCharsets.ISO_8859_1), "payload of message " + i);
    }
  }

  @Test
  void manySubscribersAndTopics_eachGetsItsTopicInOrder() {
    List<String> topics = List.of("t.a", "t.b", "t.c", "t.d");
    List<String> markers = topics.stream().map(t -> publish(t, "marker").id()).collect(Collectors.toList());
    List<List<RecordingListener>> perChannel = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      Channel ch = open();
      List<RecordingListener> ls = new ArrayList<>();
      for (int t = 0; t < topics.size(); t++) {
        RecordingListener l = listener();
        ch.subscribe(topics.get(t), markers.get(t), l);
        ls.add(l);
      }
      perChannel.add(ls);
    }
    for (int i = 0; i < 30; i++) {
      for (String t : topics) {
        publish(t, t + "#" + i);
      }
    }
    for (List<RecordingListener> ls : perChannel) {
      for (int t = 0; t < topics.size(); t++) {
        assertEquals(numbered(topics.get(t) + "#", 0, 30), texts(ls.get(t).messages(30, WAIT)));
      }
    }
  }

  @Test
  void resumeAfterDroppedConnection_deliversEveryMissedMessageOnceInOrder() throws Exception {
    Message marker = publish("drops", "marker");
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("drops", marker.id(), l);
    Thread publisher = new Thread(() -> {
      for (int i = 0; i < 300; i++) {
        publish("drops", "d" + i);
        if (i % 75 == 74) {
          hub.disconnectAll(Status.UNAVAILABLE, "test: connection dropped");
        }
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    publisher.start();
    List<Message> got = l.messages(300, Duration.ofSeconds(60));
    publisher.join();
    assertEquals(numbered("d", 0, 300), texts(got));
    l.assertNoMoreEvents(Duration.ofMillis(300));
  }

  @Test
  void resumeFromLastIdOnANewChannel_deliversOnlyWhatWasMissed() {
    Message marker = publish("resume", "marker");
    Channel first = open();
    RecordingListener l1 = listener();
    Subscription s = first.subscribe("resume", marker.id(), l1);
    for (int i = 0; i < 10; i++) {
      publish("resume", "r" + i);
    }
    assertEquals(numbered("r", 0, 10), texts(l1.messages(10, WAIT)));
    String lastSeen = s.lastId();
    first.close();
    for (int i = 10; i < 20; i++) {
      publish("resume", "r" + i);
    }
    Channel second = open();
    RecordingListener l2 = listener();
    second.subscribe("resume", lastSeen, l2);
    assertEquals(numbered("r", 10, 20), texts(l2.messages(10, WAIT)));
    l2.assertNoMoreEvents(Duration.ofMillis(300));
  }

  @Test
  void resumeFromIdOlderThanHistory_reportsHistoryGapThenRetainedMessages() throws Exception {
    start(10, b -> {});
    Message first = publish("gap", "g0");
    for (int i = 1; i <= 30; i++) {
      publish("gap", "g" + i);
    }
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("gap", first.id(), l);
    RecordingListener.Event e = l.next(WAIT);
    assertEquals("history_gap", e.reset(), "first event must be the reset, got " + e);
    assertEquals(numbered("g", 21, 31), texts(l.messages(10, WAIT)));
  }

  @Test
  void onSubscribed_liveOnly_isNotRecovered_andEveryMessagePublishedAfterItArrives() {
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("placed", l);
    RecordingListener.Subscribed s = l.subscribed(WAIT);
    assertEquals("placed", s.topic());
    assertFalse(s.recovered(), "live only: nothing to recover");
    publish("placed", "a");
    publish("placed", "b");
    assertEquals(List.of("a", "b"), texts(l.messages(2, WAIT)));
  }

  @Test
  void onSubscribed_resumeWithinHistory_isRecovered_andComesFirst() {
    Message marker = publish("placed-r", "m0");
    publish("placed-r", "m1");
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("placed-r", marker.id(), l);
    assertEquals(List.of("m1"), texts(l.messages(1, WAIT)));
    RecordingListener.Subscribed s = l.subscribed(WAIT);
    assertTrue(s.recovered(), "every message after the id was still there");
    assertEquals(0, s.eventsBefore(), "onSubscribed comes before the replay");
  }

  @Test
  void onSubscribed_afterAHistoryGap_isNotRecovered_andTheResetFollows() throws Exception {
    start(10, b -> {});
    Message first = publish("placed-gap", "g0");
    for (int i = 1; i <= 30; i++) {
      publish("placed-gap", "g" + i);
    }
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("placed-gap", first.id(), l);
    assertEquals(MessageListener.HISTORY_GAP, l.next(WAIT).reset());
    RecordingListener.Subscribed s = l.subscribed(WAIT);
    assertFalse(s.recovered(), "history no longer held the id");
    assertEquals(0, s.eventsBefore(), "onSubscribed comes before the reset");
    assertEquals(numbered("g", 21, 31), texts(l.messages(10, WAIT)));
  }

  @Test
  void stateListener_seesTheChannelOpenOnlyOnceTheServerAnswers() throws Exception {
    int port = server.port();
    URI url = server.url();
    server.close();
    hub.shutdown();
    server = new Server() { // the stopped server's address, for open()
      @Override
      public URI url() {
        return url;
      }

      @Override
      public int port() {
        return port;
      }

      @Override
      public void close() {}
    };
    Channel c = open();
    List<String> seen = new CopyOnWriteArrayList<>();
    c.addStateListener((from, to, cause) -> seen.add(from + ">" + to));
    Channel.State before = c.state();
    assertTrue(before == Channel.State.CONNECTING || before == Channel.State.RECONNECTING,
        "nothing has answered yet, but the channel is " + before);
    hub = Hub.builder().broker(broker).maxPayloadBytes(64 * 1024).build();
    server = startServer(hub, port);
    awaitCondition("channel OPEN", () -> c.state() == Channel.State.OPEN);
    assertTrue(seen.get(seen.size() - 1).endsWith(">OPEN"), seen.toString());
    assertFalse(seen.stream().anyMatch(t -> t.contains("CLOSED")), seen.toString());
  }

  @Test
  void publishTheServerNeverAnswers_failsWithinTheRequestTimeout_andPublishesPastTheBoundAreRefused()
      throws Exception {
    CompletableFuture<Message> stalled = new CompletableFuture<>();
    start(100, b -> b.broker(new ForwardingBroker(broker) {
      @Override
      public java.util.concurrent.CompletionStage<Message> publish(Message draft) {
        return stalled; // the server never answers
      }
    }));
    try {
      Channel c = open(b -> b.requestTimeout(Duration.ofSeconds(1)).maxPendingPublishes(2));
      CompletableFuture<Message> p1 = c.send(Message.text("stall", "1")).toCompletableFuture();
      CompletableFuture<Message> p2 = c.send(Message.text("stall", "2")).toCompletableFuture();
      SwitchboardException refused = failure(c.send(Message.text("stall", "3")).toCompletableFuture());
      assertEquals(Status.TOO_MANY_REQUESTS, refused.status());
      assertEquals("too_many_pending", refused.errorCode());
      assertEquals(Status.UNAVAILABLE, failure(p1).status());
      assertEquals(Status.UNAVAILABLE, failure(p2).status());
    } finally {
      stalled.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "test over"));
    }
  }

  @Test
  void resumeFromAnIdTheBrokerNeverIssued_isAHistoryGap_andAMalformedIdIsInvalidArgument() {
    publish("foreign", "f0");
    publish("foreign", "f1");
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("foreign", "not-an-id-of-ours", l);
    RecordingListener.Event e = l.next(WAIT);
    assertEquals("history_gap", e.reset(), "first event must be the reset, got " + e);
    assertEquals(List.of("f0", "f1"), texts(l.messages(2, WAIT)));
    RecordingListener bad = listener();
    open().subscribe("foreign", "has space", bad);
    SwitchboardException error = bad.next(WAIT).error();
    assertNotNull(error, "a malformed id must be refused");
    assertEquals(Status.INVALID_ARGUMENT, error.status());
    assertEquals("invalid_id", error.errorCode());
  }

  @Test
  void stalledConsumer_isCutOffWithoutDelayingOthers_andCatchesUpFromHistory() throws Exception {
    start(30_000, b -> b.maxQueuedMessages(16).maxQueuedBytes(64 * 1024));
    Message marker = publish("stall", "marker");
    CountingListener fast1 = new CountingListener();
    CountingListener fast2 = new CountingListener();
    listeners.add(fast1);
    listeners.add(fast2);
    open().subscribe("stall", marker.id(), fast1);
    open().subscribe("stall", marker.id(), fast2);
    CountDownLatch release = new CountDownLatch(1);
    List<Message> slowGot = Collections.synchronizedList(new ArrayList<>());
    // HTTP/1.1 for the stalled client, so TCP back-pressure reaches the server quickly.
    Channel stalled = open(b -> b.http2(false));
    LinkedBlockingQueue<Channel.State> stalledStates = new LinkedBlockingQueue<>();
    stalled.addStateListener((from, to, cause) -> stalledStates.add(to));
    stalled.subscribe("stall", marker.id(), new RecordingListener() {
      @Override
      public void onMessage(Message message) {
        slowGot.add(message);
        try {
          release.await(90, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    String filler = "x".repeat(8 * 1024);
    int published = 0;
    int limit = serverPush() ? 25_000 : 400;
    while (published < limit && (!serverPush() || hub.slowConsumerDisconnects() == 0)) {
      publish("stall", published++ + ":" + filler);
      if (published % 4 == 0) {
        // Pace the publisher to the healthy clients, so only the stalled one can overflow: four
        // 8 KiB messages stay well under the 64 KiB queue limit even when a healthy client's
        // writes lag on a loaded machine (eight did not, and cut off a healthy client once).
        int sent = published;
        awaitCondition("the healthy clients keep up", () -> fast1.count() >= sent && fast2.count() >= sent);
      }
    }
    if (serverPush()) {
      assertEquals(1, hub.slowConsumerDisconnects(), "exactly the stalled client is cut off");
    }
    int total = published;
    List<String> expected = numbered("", 0, total).stream().map(x -> x + ":" + filler)
        .collect(Collectors.toList());
    // The others got everything while the stalled one is still blocked in its first message.
    assertEquals(expected, texts(fast1.messages(total, WAIT)));
    assertEquals(expected, texts(fast2.messages(total, WAIT)));
    // The stalled client's first message may still be on its way to the listener on a loaded machine
    // (the healthy clients finishing first says nothing about the stalled one's dispatch thread).
    awaitCondition("the stalled listener got its first message", () -> !slowGot.isEmpty());
    assertEquals(1, slowGot.size(), "the stalled listener is still blocked in its first message");
    release.countDown();
    awaitCondition("the stalled client caught up from history", () -> slowGot.size() >= total);
    assertEquals(expected, texts(new ArrayList<>(slowGot)));
    if (serverPush()) {
      awaitState(stalledStates, Channel.State.RECONNECTING);
    }
  }

  /** Records messages and counts them as they arrive. */
  private static final class CountingListener extends RecordingListener {
    private final java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void onMessage(Message message) {
      count.incrementAndGet();
      super.onMessage(message);
    }

    int count() {
      return count.get();
    }
  }

  @Test
  void sendWhileTheServerIsUnreachable_failsOnceTheChannelGivesUp_neverHangs() throws Exception {
    URI url = server.url();
    Channel c = open(b -> b
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(50)).withMaxAttempts(2))
        .publishBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(50)).withMaxAttempts(2)));
    server.close();
    hub.shutdown();
    SwitchboardException e = failure(c.send(Message.text("void", "x")).toCompletableFuture());
    assertTrue(e.status().isRetryable(), "a retryable status, not a client bug: " + e);
    Channel late = Transports.open(configure(TransportConfig.builder().transport(transport()).url(url)
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(50)).withMaxAttempts(2))
        .publishBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(50)).withMaxAttempts(2))
        .requestTimeout(Duration.ofSeconds(20))).build());
    channels.add(late);
    e = failure(late.send(Message.text("void", "x")).toCompletableFuture());
    assertTrue(e.status().isRetryable(), "a retryable status, not a client bug: " + e);
  }

  @Test
  void unauthenticatedClient_getsUnauthenticated_andAuthenticatedOneWorks() throws Exception {
    Principal alice = () -> "alice";
    start(1000, b -> b.authenticator(Authenticator.bearer(t -> t.equals("s3cret") ? alice : null)));
    Channel anonymous = open();
    RecordingListener l = listener();
    anonymous.subscribe("news", l);
    assertEquals(Status.UNAUTHENTICATED, l.next(WAIT).error().status());
    assertEquals(Status.UNAUTHENTICATED,
        failure(anonymous.send(Message.text("news", "x")).toCompletableFuture()).status());
    Channel wrong = open(b -> b.token("guess"));
    assertEquals(Status.UNAUTHENTICATED,
        failure(wrong.send(Message.text("news", "x")).toCompletableFuture()).status());

    Channel authed = open(b -> b.token("s3cret"));
    Message marker = await(authed.send(Message.text("news", "marker")).toCompletableFuture());
    RecordingListener ok = listener();
    authed.subscribe("news", marker.id(), ok);
    await(authed.send(Message.text("news", "hello")).toCompletableFuture());
    assertEquals("hello", ok.messages(1, WAIT).get(0).text());
  }

  @Test
  void forbiddenTopic_getsPermissionDenied_andOtherTopicsStillWork() throws Exception {
    start(1000, b -> b.authorizer((p, topic, action) -> !topic.startsWith("secret")));
    Channel c = open();
    RecordingListener denied = listener();
    c.subscribe("secret.plans", denied);
    assertEquals(Status.PERMISSION_DENIED, denied.next(WAIT).error().status());
    assertEquals(Status.PERMISSION_DENIED,
        failure(c.send(Message.text("secret.plans", "x")).toCompletableFuture()).status());
    Message marker = publish("public", "marker");
    RecordingListener ok = listener();
    c.subscribe("public", marker.id(), ok);
    await(c.send(Message.text("public", "fine")).toCompletableFuture());
    assertEquals("fine", ok.messages(1, WAIT).get(0).text());
  }

  @Test
  void nonAsciiText_arrivesIntact_liveAndFromHistory() throws Exception {
    String text = "Grüße, 日本語, emoji 👋, quote \" and backslash \\";
    Message marker = publish("utf8", "marker");
    RecordingListener live = listener();
    Channel c = open();
    c.subscribe("utf8", marker.id(), live);
    publish("utf8", text);
    await(c.send(Message.text("utf8", text + " (sent)")).toCompletableFuture());
    assertEquals(List.of(text, text + " (sent)"), texts(live.messages(2, WAIT)));
    RecordingListener replayed = listener();
    open().subscribe("utf8", marker.id(), replayed);
    assertEquals(List.of(text, text + " (sent)"), texts(replayed.messages(2, WAIT)));
  }

  @Test
  void invalidTopic_getsInvalidArgument() {
    Channel c = open();
    RecordingListener l = listener();
    c.subscribe("bad topic!", l);
    assertEquals(Status.INVALID_ARGUMENT, l.next(WAIT).error().status());
    RecordingListener tooLong = listener();
    c.subscribe("x".repeat(201), tooLong);
    assertEquals(Status.INVALID_ARGUMENT, tooLong.next(WAIT).error().status());
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> Message.text("bad topic!", "x"));
    assertEquals(Status.INVALID_ARGUMENT, e.status());
  }

  @Test
  void payloadOverTheLimit_getsPayloadTooLarge_andTheChannelStillWorks() {
    Channel c = open();
    byte[] big = new byte[100 * 1024];
    SwitchboardException e = failure(c.send(Message.builder("big").payload(big).build()).toCompletableFuture());
    assertEquals(Status.PAYLOAD_TOO_LARGE, e.status());
    Message ok = await(c.send(Message.text("big", "small")).toCompletableFuture());
    assertNotNull(ok.id());
  }

  @Test
  void serverShutdown_closesClientsCleanly_andTheyReconnectWhenItIsBack() throws Exception {
    Message marker = publish("restart", "marker");
    Channel c = open();
    LinkedBlockingQueue<Channel.State> states = new LinkedBlockingQueue<>();
    c.addStateListener((from, to, cause) -> states.add(to));
    RecordingListener l = listener();
    c.subscribe("restart", marker.id(), l);
    publish("restart", "before");
    assertEquals("before", l.messages(1, WAIT).get(0).text());

    int port = server.port();
    server.close();
    hub.shutdown();
    awaitState(states, Channel.State.RECONNECTING);

    hub = Hub.builder().broker(broker).maxPayloadBytes(64 * 1024).build();
    server = startServer(hub, port);
    for (int i = 0; i < 3; i++) {
      publish("restart", "after" + i);
    }
    assertEquals(numbered("after", 0, 3), texts(l.messages(3, WAIT)));
    awaitState(states, Channel.State.OPEN);
    assertEquals(Channel.State.OPEN, c.state());
  }

  private static void awaitState(LinkedBlockingQueue<Channel.State> states, Channel.State wanted)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      Channel.State s = states.poll(100, TimeUnit.MILLISECONDS);
      if (s == wanted) {
        return;
      }
    }
    fail("channel never reached state " + wanted);
  }

  @Test
  void concurrentPublishersOnManyThreads_loseNothing() throws Exception {
    Message marker = publish("busy", "marker");
    RecordingListener l = listener();
    open().subscribe("busy", marker.id(), l);
    Channel pub1 = open();
    Channel pub2 = open();
    int threads = 8;
    int each = 50;
    Set<String> ackIds = Collections.synchronizedSet(new HashSet<>());
    List<Thread> ts = new ArrayList<>();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      Channel pub = t % 2 == 0 ? pub1 : pub2;
      Thread th = new Thread(() -> {
        try {
          for (int i = 0; i < each; i++) {
            ackIds.add(await(pub.send(Message.text("busy", tt + "/" + i)).toCompletableFuture()).id());
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      ts.add(th);
      th.start();
    }
    for (Thread th : ts) {
      th.join();
    }
    assertTrue(errors.isEmpty(), "publish errors: " + errors);
    List<Message> got = l.messages(threads * each, WAIT);
    Set<String> expected = new HashSet<>();
    for (int t = 0; t < threads; t++) {
      for (int i = 0; i < each; i++) {
        expected.add(t + "/" + i);
      }
    }
    assertEquals(expected, new HashSet<>(texts(got)));
    assertEquals(threads * each, ackIds.size());
    assertEquals(ackIds, got.stream().map(Message::id).collect(Collectors.toSet()));
    // Each thread's own messages arrive in the order it sent them.
    for (int t = 0; t < threads; t++) {
      String prefix = t + "/";
      List<String> mine = texts(got).stream().filter(s -> s.startsWith(prefix)).collect(Collectors.toList());
      assertEquals(numbered(prefix, 0, each), mine);
    }
    l.assertNoMoreEvents(Duration.ofMillis(300));
  }

  @Test
  void closingTheChannel_leavesNoSubscriptionOnTheServer() {
    Channel c = open();
    List<String> topics = List.of("leak.a", "leak.b", "leak.c");
    List<RecordingListener> ls = new ArrayList<>();
    for (String t : topics) {
      Message marker = publish(t, "marker");
      RecordingListener l = listener();
      c.subscribe(t, marker.id(), l);
      ls.add(l);
    }
    for (int i = 0; i < topics.size(); i++) {
      publish(topics.get(i), "hello");
      assertEquals("hello", ls.get(i).messages(1, WAIT).get(0).text());
    }
    awaitCondition("all three subscriptions are on the server", () -> hub.subscriberCount() == 3);
    c.close();
    assertEquals(Channel.State.CLOSED, c.state());
    awaitCondition("the server dropped every subscription (count now " + hub.subscriberCount() + ")",
        () -> hub.subscriberCount() == 0);
    assertThrows(IllegalStateException.class, () -> c.subscribe("x", new RecordingListener()));
  }
}
