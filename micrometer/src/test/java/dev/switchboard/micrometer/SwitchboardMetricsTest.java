package dev.switchboard.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Authorizer;
import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SwitchboardMetricsTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final Hub hub = Hub.builder()
      .authenticator(h -> "bad".equals(h.bearerToken()) ? null : Authenticator.ANONYMOUS)
      .authorizer((p, topic, action) -> !topic.startsWith("secret"))
      .maxConnections(2)
      .build();

  @AfterEach
  void close() {
    hub.close();
  }

  private static final Connection.Sink NO_OP = new Connection.Sink() {
    @Override
    public void onReady() {}

    @Override
    public void onClose(Status status, String reason) {}
  };

  private double counter(String name, String... tags) {
    return registry.get(name).tags(tags).counter().count();
  }

  private double gauge(String name, String... tags) {
    return registry.get(name).tags(tags).gauge().value();
  }

  @Test
  void hubMeters_countConnectionsPublishesDeliveriesAndRefusals() throws Exception {
    new SwitchboardMetrics(hub).bindTo(registry);
    Connection sse = hub.connect(Authenticator.ANONYMOUS, "sse", NO_OP);
    Connection ws = hub.connect(Authenticator.ANONYMOUS, "ws", NO_OP);
    sse.subscribe("prices", null).toCompletableFuture().get(10, TimeUnit.SECONDS);
    ws.subscribe("prices", null).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(1, gauge("switchboard.connections", "transport", "sse"));
    assertEquals(1, gauge("switchboard.connections", "transport", "ws"));
    assertEquals(0, gauge("switchboard.connections", "transport", "grpc"));
    assertEquals(2, gauge("switchboard.subscriptions"));
    assertEquals(1, gauge("switchboard.topics"));

    hub.publish(Message.builder("prices").text("12345").build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    hub.publish("http", Authenticator.ANONYMOUS, null, Message.builder("prices").text("1").build())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    CompletionException denied = assertThrows(CompletionException.class, () -> hub.publish("grpc",
        Authenticator.ANONYMOUS, null, Message.builder("secret").text("x").build()).toCompletableFuture().join());
    assertEquals(Status.PERMISSION_DENIED, ((SwitchboardException) denied.getCause()).status());
    drain(sse);
    drain(ws);

    assertEquals(1, counter("switchboard.messages.published", "transport", "server", "outcome", "success"));
    assertEquals(1, counter("switchboard.messages.published", "transport", "http", "outcome", "success"));
    assertEquals(0, counter("switchboard.messages.published", "transport", "http", "outcome", "error"));
    assertEquals(1, counter("switchboard.messages.published", "transport", "grpc", "outcome", "error"));
    assertEquals(1, counter("switchboard.publish.errors", "status", "permission_denied"));
    assertEquals(2, registry.get("switchboard.broker.publish").tags("outcome", "success").timer().count());
    assertEquals(4, registry.get("switchboard.deliveries").functionCounter().count());
    assertEquals(12, registry.get("switchboard.deliveries.payload").functionCounter().count());
    assertEquals(1, counter("switchboard.refusals", "transport", "grpc", "status", "permission_denied"));
    // A connection's publish and subscribe carry the connection's transport.
    ws.publish(Message.builder("prices").text("2").build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(1, counter("switchboard.messages.published", "transport", "ws", "outcome", "success"));
    assertThrows(Exception.class, () -> sse.subscribe("secret", null).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertEquals(1, counter("switchboard.refusals", "transport", "sse", "status", "permission_denied"));
    // At its limit of two connections: an SSE request refused before it connects counts under sse.
    assertThrows(SwitchboardException.class, () -> hub.checkAdmission("sse"));
    assertEquals(1, counter("switchboard.refusals", "transport", "sse", "status", "unavailable"));
    assertEquals(0, registry.find("switchboard.refusals").tags("transport", "unknown").counters().size());

    assertThrows(SwitchboardException.class, () -> hub.authenticate(
        new Handshake("ws", null, Map.of("Authorization", List.of("Bearer bad")), Map.of())));
    assertThrows(SwitchboardException.class, () -> hub.connect(Authenticator.ANONYMOUS, "grpc", NO_OP));
    assertEquals(1, counter("switchboard.refusals", "transport", "ws", "status", "unauthenticated"));
    assertEquals(1, counter("switchboard.refusals", "transport", "grpc", "status", "unavailable"));
    assertEquals(0, registry.get("switchboard.slow.consumer.disconnects").functionCounter().count());
  }

  @Test
  void resumes_countRecoveredAndHistoryGap() throws Exception {
    new SwitchboardMetrics(hub).bindTo(registry);
    Message first = hub.publish(Message.builder("t").text("a").build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    Connection c = hub.connect(Authenticator.ANONYMOUS, "sse", NO_OP);
    c.subscribe("t", first.id()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    awaitCount("switchboard.resumes", 1, "transport", "sse", "outcome", "recovered");
    Connection d = hub.connect(Authenticator.ANONYMOUS, "ws", NO_OP);
    // An id from another epoch: history cannot reach back to it.
    d.subscribe("t", "0-1").toCompletableFuture().get(10, TimeUnit.SECONDS);
    awaitCount("switchboard.resumes", 1, "transport", "ws", "outcome", "history_gap");
  }

  @Test
  void webhookMeters_reportPendingDisabledAndAttempts() throws Exception {
    WebhookMetrics metrics = new WebhookMetrics();
    try (WebhookSender sender = WebhookSender.builder().listener(metrics.listener())
        .schedule(List.of(Duration.ZERO)).timeout(Duration.ofSeconds(2)).allowPrivateTargets(true).build()) {
      metrics.sender(sender).bindTo(registry);
      // Nothing listens on port 9 (discard) on loopback: the one attempt fails and dead-letters.
      sender.register("ep", URI.create("http://127.0.0.1:9/hook"), WebhookSigner.github("s3cret"));
      sender.send("ep", "{}".getBytes(), "application/json");
      assertEquals(1, gauge("switchboard.webhook.pending"));
      sender.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (registry.get("switchboard.webhook.attempts").tags("outcome", "dead_letter").timer().count() < 1) {
        assertTrue(System.nanoTime() < deadline, "no dead-lettered attempt within 30 s");
        Thread.sleep(20);
      }
      assertEquals(1, gauge("switchboard.webhook.dead.letters"));
      assertEquals(0, gauge("switchboard.webhook.pending"));
      assertEquals(0, gauge("switchboard.webhook.endpoints.disabled"));
    }
  }

  private void awaitCount(String name, double expected, String... tags) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (registry.find(name).tags(tags).counter() == null || counter(name, tags) < expected) {
      assertTrue(System.nanoTime() < deadline, name + " " + List.of(tags) + " did not reach " + expected);
      Thread.sleep(10);
    }
    assertEquals(expected, counter(name, tags));
  }

  private static void drain(Connection c) throws InterruptedException {
    int deliveries = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (deliveries < 2) {
      Connection.Event e = c.poll();
      if (e == null) {
        assertTrue(System.nanoTime() < deadline, "deliveries did not arrive");
        Thread.sleep(5);
      } else if (e instanceof Connection.Delivery) {
        deliveries++;
      }
    }
  }
}
