package dev.switchboard.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.kafka.testbroker.KafkaTestBroker;
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
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Kafka going away and coming back: the test stops the module's Kafka broker process and starts it
 * again (same data, same port; later test classes find it running as before). Publishes fail fast with UNAVAILABLE (HTTP 503 + Retry-After) instead of
 * hanging or claiming success, subscribers stay connected, and once Kafka is back every node
 * delivers again, losing nothing that was acknowledged.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaFailureTest {
  private KafkaTestBroker kafka;

  @AfterEach
  void restartKafka() {
    if (kafka != null && !kafka.isRunning()) {
      kafka.start(); // for the test classes after this one
      KafkaTestSupport.awaitReady(kafka);
    }
  }

  @Test
  void kafkaDown_publishFailsFast_subscribersStay_andDeliveryResumesWithoutLossWhenItIsBack() throws Exception {
    KafkaTestSupport.bootstrap(); // started and ready
    kafka = KafkaTestBroker.shared();
    String topic = KafkaTestSupport.newTopic();
    KafkaBroker brokerA = KafkaBroker.builder(kafka.bootstrapServers()).topic(topic).partitions(2)
        .timeout(Duration.ofSeconds(3)).build();
    KafkaBroker brokerB = KafkaBroker.builder(kafka.bootstrapServers()).topic(topic).partitions(2)
        .timeout(Duration.ofSeconds(3)).build();
    Hub a = Hub.builder().broker(brokerA).build();
    Hub b = Hub.builder().broker(brokerB).build();
    try (EmbeddedJetty jetty = EmbeddedJetty.start(0, List.of(new SseTransportFilter(a), new HttpTransportFilter(a)));
        Channel c = Transports.open(TransportConfig.builder().transport("sse").url(jetty.url())
            .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200))).build())) {
      List<Message> got = new CopyOnWriteArrayList<>();
      List<Channel.State> states = new CopyOnWriteArrayList<>();
      c.addStateListener((from, to, cause) -> states.add(to));
      Message marker = b.publish("alerts", "marker").toCompletableFuture().get(20, TimeUnit.SECONDS);
      c.subscribe("alerts", marker.id(), (MessageListener) got::add);
      KafkaTestSupport.await("subscribed on node A", () -> a.subscriberCount() == 1);
      List<String> acked = new ArrayList<>();
      acked.add(b.publish("alerts", "before").toCompletableFuture().get(20, TimeUnit.SECONDS).id());
      KafkaTestSupport.await("'before' delivered", () -> got.size() == 1);

      kafka.stop();
      // Bounded by the broker's timeout (3 s here), never a hang, never a false success.
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> b.publish("alerts", "lost?").toCompletableFuture().get(30, TimeUnit.SECONDS));
      assertEquals(Status.UNAVAILABLE, SwitchboardException.from(e.getCause()).status());
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          jetty.url().resolve("/v1/topics/alerts/messages")).POST(HttpRequest.BodyPublishers.ofString("x"))
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(503, r.statusCode(), r.body());
      assertTrue(r.headers().firstValue("Retry-After").isPresent(), r.headers().map().toString());
      assertEquals(1, a.subscriberCount(), "the local subscriber stays connected");

      kafka.start(); // same data: nothing acknowledged is lost
      KafkaTestSupport.awaitReady(kafka);
      KafkaTestSupport.await("publishing works again", () -> {
        try {
          acked.add(b.publish("alerts", "probe").toCompletableFuture().get(5, TimeUnit.SECONDS).id());
          return true;
        } catch (Exception x) {
          return false;
        }
      });
      for (int i = 0; i < 5; i++) {
        acked.add(b.publish("alerts", "after" + i).toCompletableFuture().get(20, TimeUnit.SECONDS).id());
      }
      KafkaTestSupport.await("the 'after' messages reach node A's subscriber",
          () -> got.stream().filter(m -> m.text().startsWith("after")).count() == 5);
      // Whatever the outage did to the failed publishes (a 503 may still have been written once
      // Kafka was back), every acknowledged one arrived once, in order.
      List<String> ids = got.stream().map(Message::id).collect(Collectors.toList());
      assertEquals(got.size(), ids.stream().distinct().count(), "no duplicates: " + got);
      assertTrue(ids.containsAll(acked), "every acknowledged message arrived: " + acked + " vs " + ids);
      List<String> ackedOrder = ids.stream().filter(acked::contains).collect(Collectors.toList());
      assertEquals(acked, ackedOrder, "in publish order");
      assertFalse(states.contains(Channel.State.CLOSED), "the client was never closed: " + states);
      // A client resuming on node A after the outage gets the same sequence from history.
      Message resumed = brokerA.history("alerts", marker.id(), 100).toCompletableFuture().get(20, TimeUnit.SECONDS)
          .messages().stream().reduce((x, y) -> y).orElseThrow();
      assertEquals(ids.get(ids.size() - 1), resumed.id());
    } finally {
      a.shutdown();
      b.shutdown();
      brokerA.close();
      brokerB.close();
    }
  }
}
