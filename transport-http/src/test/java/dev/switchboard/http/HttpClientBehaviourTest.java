package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP client's retry rules, HTTP/2 multiplexing, and cleanup when clients go away. */
class HttpClientBehaviourTest {
  private Hub hub = Hub.builder().build();
  private EmbeddedJetty jetty;

  @AfterEach
  void stop() throws Exception {
    if (jetty != null) {
      jetty.close();
    }
    hub.shutdown();
  }

  /** Answers the first POSTs with the given statuses, recording every Idempotency-Key. */
  private static Filter failFirst(List<String> keys, int... statuses) {
    AtomicInteger n = new AtomicInteger();
    return (req, res, chain) -> {
      HttpServletRequest r = (HttpServletRequest) req;
      if (r.getMethod().equals("POST")) {
        keys.add(r.getHeader("Idempotency-Key"));
        int i = n.getAndIncrement();
        if (i < statuses.length) {
          HttpServletResponse w = (HttpServletResponse) res;
          w.setStatus(statuses[i]);
          if (statuses[i] == 429) {
            w.setHeader("Retry-After", "1");
          }
          return;
        }
      }
      chain.doFilter(req, res);
    };
  }

  private Channel open(String transport) {
    return Transports.open(TransportConfig.builder().transport(transport).url(jetty.url())
        .publishBackoff(Backoff.exponential(Duration.ofMillis(10), Duration.ofMillis(50)).withMaxAttempts(4))
        .build());
  }

  @Test
  void publish_retries429And503WithTheSameIdempotencyKey_andSucceeds() throws Exception {
    List<String> keys = new CopyOnWriteArrayList<>();
    jetty = EmbeddedJetty.start(0, List.of(failFirst(keys, 429, 503, 502), new HttpTransportFilter(hub)));
    try (Channel c = open("longpoll")) {
      Message stored = c.send(Message.text("pay", "once")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(4, keys.size(), "three failures, then success");
      assertTrue(keys.stream().allMatch(k -> k != null && k.equals(keys.get(0))), "same key on every attempt: " + keys);
      assertEquals(stored.id(),
          hub.broker().history("pay", null, 10).toCompletableFuture().get().messages().get(0).id());
      assertEquals(1, hub.broker().history("pay", null, 10).toCompletableFuture().get().messages().size());
    }
  }

  @Test
  void publish_doesNotRetryAClientError_orPastItsAttempts() throws Exception {
    List<String> keys = new CopyOnWriteArrayList<>();
    jetty = EmbeddedJetty.start(0, List.of(failFirst(keys, 503, 503, 503, 503, 503), new HttpTransportFilter(hub)));
    try (Channel c = open("longpoll")) {
      ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
          () -> c.send(Message.text("pay", "x")).toCompletableFuture().get(30, TimeUnit.SECONDS));
      assertEquals(Status.UNAVAILABLE, ((SwitchboardException) e.getCause()).status());
      assertEquals(5, keys.size(), "first attempt plus four retries");
      keys.clear();
      e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
          () -> c.send(Message.builder("pay").json("{broken").build()).toCompletableFuture().get(30, TimeUnit.SECONDS));
      assertEquals(Status.INVALID_ARGUMENT, ((SwitchboardException) e.getCause()).status());
      assertEquals("invalid_json", ((SwitchboardException) e.getCause()).errorCode());
      assertEquals(1, keys.size(), "a 400 is never retried");
    }
  }

  @Test
  void publish_retriesAConnectFailure_untilTheServerIsUp() throws Exception {
    jetty = EmbeddedJetty.start(0, List.of(new HttpTransportFilter(hub)));
    int port = jetty.port();
    jetty.close();
    try (Channel c = Transports.open(TransportConfig.builder().transport("longpoll").url(URI.create("http://127.0.0.1:" + port))
        .publishBackoff(Backoff.exponential(Duration.ofMillis(200), Duration.ofMillis(400)).withMaxAttempts(50))
        .build())) {
      CompletableFuture<Message> f = c.send(Message.text("late", "x")).toCompletableFuture();
      jetty = EmbeddedJetty.start(port, List.of(new HttpTransportFilter(hub)));
      assertEquals("x", f.get(30, TimeUnit.SECONDS).text());
    }
  }

  @Test
  void h2c_multiplexesAHundredLongPollsOverOneConnection() throws Exception {
    jetty = EmbeddedJetty.start(0, List.of(new HttpTransportFilter(hub)));
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    URI base = URI.create(jetty.url() + "/v1/topics/h2/messages");
    HttpResponse<String> first = http.send(HttpRequest.newBuilder(URI.create(base + "?limit=0")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(HttpClient.Version.HTTP_2, first.version(), "h2c upgrade");
    List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      polls.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "?wait=30")).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (hub.subscriberCount() < 100 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(100, hub.subscriberCount(), "all polls are waiting on the server");
    assertEquals(1, jetty.openConnections(), "one TCP connection carries all 100 polls");
    hub.publish("h2", "tick").toCompletableFuture().get();
    for (CompletableFuture<HttpResponse<String>> p : polls) {
      HttpResponse<String> r = p.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode());
      assertEquals(HttpClient.Version.HTTP_2, r.version());
      assertTrue(r.body().contains("\"data\":\"tick\""), r.body());
    }
  }

  @Test
  void clientCancellingALongPoll_leavesNoWaiterBehind() throws Exception {
    jetty = EmbeddedJetty.start(0, List.of(new HttpTransportFilter(hub)));
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    URI base = URI.create(jetty.url() + "/v1/topics/gone/messages");
    http.send(HttpRequest.newBuilder(URI.create(base + "?limit=0")).build(), HttpResponse.BodyHandlers.ofString());
    List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      polls.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "?wait=60")).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (hub.subscriberCount() < 10 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(10, hub.subscriberCount());
    polls.forEach(p -> p.cancel(true));
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (hub.subscriberCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(0, hub.subscriberCount(), "cancelled polls were cleaned up before their 60 s wait ended");
  }
}
