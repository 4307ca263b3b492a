package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Subscription;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Long polling never spins: a cursor the server does not know (after a hub restart, from another
 * broker) is answered once with a reset and a cursor to wait on, and the client adopts it.
 */
@Timeout(120)
class LongPollResetTest {
  private Hub hub;
  private EmbeddedJetty jetty;

  @AfterEach
  void stop() throws Exception {
    if (jetty != null) {
      jetty.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  /** Counts the GETs of one topic's messages. */
  private static Filter counting(String topic, AtomicInteger polls) {
    return (req, res, chain) -> {
      HttpServletRequest r = (HttpServletRequest) req;
      if (r.getMethod().equals("GET") && r.getRequestURI().equals("/v1/topics/" + topic + "/messages")) {
        polls.incrementAndGet();
      }
      chain.doFilter(req, res);
    };
  }

  private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void afterAHubRestart_aClientOnAnEmptyTopicWaitsInsteadOfSpinning_andGetsTheNextMessage() throws Exception {
    hub = Hub.builder().build();
    jetty = EmbeddedJetty.start(0, List.of(new HttpTransportFilter(hub)));
    int port = jetty.port();
    TransportConfig config = TransportConfig.builder().transport("longpoll").url(jetty.url())
        .longPollWait(Duration.ofSeconds(20))
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(200), Duration.ofSeconds(2)))
        .build();
    RecordingListener listener = new RecordingListener();
    try (Channel c = Transports.open(config)) {
      Subscription sub = c.subscribe("quiet", null, listener);
      await("the live poll waits", () -> hub.subscriberCount() == 1);
      hub.publish("quiet", "before").toCompletableFuture().get();
      assertEquals("before", listener.next(Duration.ofSeconds(30)).message().text());
      String oldId = sub.lastId();

      // Restart: a new hub on a new broker (new epoch, empty topic) on the same port.
      jetty.close();
      hub.shutdown();
      AtomicInteger polls = new AtomicInteger();
      hub = Hub.builder().build();
      jetty = EmbeddedJetty.start(port, List.of(counting("quiet", polls), new HttpTransportFilter(hub)));

      assertEquals("history_gap", listener.next(Duration.ofSeconds(30)).reset(), "the client is told once");
      await("the client waits on the new hub", () -> hub.subscriberCount() == 1);
      Thread.sleep(5_000); // the window the issue measured: 1,084 polls in 5 s before the fix
      assertTrue(polls.get() <= 3, polls.get() + " polls in over 5 s");
      assertTrue(sub.lastId() == null || !sub.lastId().equals(oldId), "the stale cursor was dropped");

      Message next = hub.publish("quiet", "after restart").toCompletableFuture().get();
      RecordingListener.Event e = listener.next(Duration.ofSeconds(30));
      assertNotNull(e.message(), String.valueOf(e));
      assertEquals("after restart", e.message().text());
      assertEquals(next.id(), e.message().id());
      listener.assertNoMoreEvents();
    }
  }

  @Test
  void aServerThatAnswersEveryPollWithAReset_isPolledAtTheBackoffsPace() throws Exception {
    AtomicInteger polls = new AtomicInteger();
    byte[] resetPage = "{\"messages\":[],\"next\":\"elsewhere-1\",\"recovered\":false}".getBytes(StandardCharsets.UTF_8);
    Filter alwaysReset = (req, res, chain) -> {
      polls.incrementAndGet();
      HttpServletResponse w = (HttpServletResponse) res;
      w.setStatus(200);
      w.setContentType("application/json");
      w.getOutputStream().write(resetPage);
    };
    jetty = EmbeddedJetty.start(0, List.of(alwaysReset));
    TransportConfig config = TransportConfig.builder().transport("longpoll").url(jetty.url())
        .reconnectBackoff(Backoff.fixed(Duration.ofMillis(500)))
        .build();
    RecordingListener listener = new RecordingListener();
    try (Channel c = Transports.open(config)) {
      c.subscribe("t", "mine-1", listener);
      assertEquals("history_gap", listener.next(Duration.ofSeconds(30)).reset());
      Thread.sleep(3_000);
    }
    // A poll at most every 500 ms: about 7 in 3 s (a spin makes hundreds).
    assertTrue(polls.get() <= 9, polls.get() + " polls in 3 s");
    assertTrue(polls.get() >= 2, "it kept polling: " + polls.get());
  }
}
