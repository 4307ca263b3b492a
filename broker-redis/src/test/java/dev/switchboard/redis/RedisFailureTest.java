package dev.switchboard.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http.HttpTransportFilter;
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
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Redis going away and coming back, with a second redis-server this test starts on its own port
 * (never the shared one): publishes fail fast with UNAVAILABLE (HTTP 503 + Retry-After) instead of
 * hanging or claiming success, subscribers stay connected, and once Redis is back the nodes
 * re-subscribe by themselves and deliver again.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisFailureTest {
  private Process redis;
  private int port;

  private void startRedis() throws Exception {
    redis = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    RedisTestSupport.await("redis-server on port " + port + " answers", () -> {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return true;
      } catch (IOException e) {
        return false;
      }
    });
  }

  private void stopRedis() throws InterruptedException {
    redis.destroy();
    if (!redis.waitFor(20, TimeUnit.SECONDS)) {
      redis.destroyForcibly().waitFor();
    }
  }

  @AfterEach
  void cleanUp() throws InterruptedException {
    if (redis != null && redis.isAlive()) {
      stopRedis();
    }
  }

  @Test
  void redisDown_publishFailsFast_subscribersStay_andDeliveryResumesWhenItIsBack() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    startRedis();
    String uri = "redis://127.0.0.1:" + port;
    RedisBroker brokerA = RedisBroker.builder(uri).commandTimeout(Duration.ofSeconds(1)).build();
    RedisBroker brokerB = RedisBroker.builder(uri).commandTimeout(Duration.ofSeconds(1)).build();
    Hub a = Hub.builder().broker(brokerA).build();
    Hub b = Hub.builder().broker(brokerB).build();
    try (EmbeddedJetty jetty = EmbeddedJetty.start(0, List.of(new SseTransportFilter(a), new HttpTransportFilter(a)));
        Channel c = Transports.open(TransportConfig.builder().transport("sse").url(jetty.url())
            .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200))).build())) {
      List<Message> got = new CopyOnWriteArrayList<>();
      List<Channel.State> states = new CopyOnWriteArrayList<>();
      c.addStateListener((from, to, cause) -> states.add(to));
      Message marker = b.publish("alerts", "marker").toCompletableFuture().get(10, TimeUnit.SECONDS);
      c.subscribe("alerts", marker.id(), (MessageListener) got::add);
      RedisTestSupport.await("subscribed on node A", () -> a.subscriberCount() == 1);
      b.publish("alerts", "before").toCompletableFuture().get(10, TimeUnit.SECONDS);
      RedisTestSupport.await("'before' delivered", () -> got.size() == 1);

      stopRedis();
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> b.publish("alerts", "lost?").toCompletableFuture().get(10, TimeUnit.SECONDS));
      assertEquals(Status.UNAVAILABLE, SwitchboardException.from(e.getCause()).status());
      // Over HTTP the same failure is a 503 with a Retry-After.
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          jetty.url().resolve("/v1/topics/alerts/messages")).POST(HttpRequest.BodyPublishers.ofString("x"))
          .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(503, r.statusCode(), r.body());
      assertTrue(r.headers().firstValue("Retry-After").isPresent());
      assertEquals(1, a.subscriberCount(), "the local subscriber stays connected");

      startRedis(); // empty: this Redis keeps nothing on disk
      RedisTestSupport.await("publishing works again", () -> {
        try {
          b.publish("alerts", "probe").toCompletableFuture().get(5, TimeUnit.SECONDS);
          return true;
        } catch (Exception x) {
          return false;
        }
      });
      for (int i = 0; i < 5; i++) {
        b.publish("alerts", "after" + i).toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      RedisTestSupport.await("the 'after' messages reach node A's subscriber",
          () -> got.stream().filter(m -> m.text().startsWith("after")).count() == 5);
      List<String> texts = got.stream().map(Message::text).filter(t -> !t.equals("probe")).collect(Collectors.toList());
      assertEquals(List.of("before", "after0", "after1", "after2", "after3", "after4"), texts);
      assertEquals(got.size(), got.stream().map(Message::id).distinct().count(), "no duplicates: " + got);
      assertTrue(!states.contains(Channel.State.CLOSED), "the client was never closed: " + states);
    } finally {
      a.shutdown();
      b.shutdown();
      brokerA.close();
      brokerB.close();
    }
  }
}
