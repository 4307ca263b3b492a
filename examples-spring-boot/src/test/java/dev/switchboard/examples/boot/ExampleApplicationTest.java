package dev.switchboard.examples.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;

// Boot turns metrics export off in tests; /actuator/prometheus is under test here.
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "management.prometheus.metrics.export.enabled=true")
class ExampleApplicationTest {
  @Value("${local.server.port}")
  int port;

  @Autowired
  Hub hub;

  private final List<Channel> channels = new ArrayList<>();

  @AfterEach
  void closeChannels() {
    channels.forEach(Channel::close);
  }

  private Channel open(String transport, String token) {
    Channel c = Clients.open(transport, port, token);
    channels.add(c);
    return c;
  }

  @Test
  void announcement_reachesSseWebSocketAndLongPollClients() throws Exception {
    // Subscribing after a known id: each client gets everything after it, however long it takes to connect.
    Message before = hub.publish(Message.builder("announcements").text("before").build())
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    List<Clients.Recorder> recorders = new ArrayList<>();
    for (String transport : List.of("sse", "ws", "longpoll")) {
      Clients.Recorder r = new Clients.Recorder();
      open(transport, Clients.TOKEN).subscribe("announcements", before.id(), r);
      recorders.add(r);
    }
    HttpResponse<String> posted = Clients.post(port, "/announce", "hello from Spring MVC");
    assertEquals(200, posted.statusCode(), posted.body());
    for (Clients.Recorder r : recorders) {
      Message m = r.next();
      assertEquals("hello from Spring MVC", m.text());
      assertEquals(posted.body(), m.id());
    }
  }

  @Test
  void clientWithoutToken_isRefusedByTheAuthenticatorBean() throws Exception {
    Clients.Recorder r = new Clients.Recorder();
    open("sse", null).subscribe("announcements", r);
    assertEquals(Status.UNAUTHENTICATED, r.error().status());
  }

  @Test
  void actuator_showsHealthMetricsAndPrometheus() throws Exception {
    Clients.Recorder r = new Clients.Recorder();
    Message before = hub.publish(Message.builder("announcements").text("x").build())
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    open("ws", Clients.TOKEN).subscribe("announcements", before.id(), r);
    hub.publish(Message.builder("announcements").text("y").build());
    assertEquals("y", r.next().text());

    HttpResponse<String> health = Clients.get(port, "/actuator/health");
    assertEquals(200, health.statusCode(), health.body());
    // Boot 3 writes "status" first, Boot 4 after "details".
    assertTrue(health.body().matches("(?s).*\"switchboard\":\\{(\"details\":\\{[^}]*\\},)?\"status\":\"UP\".*"),
        health.body());

    HttpResponse<String> deliveries = Clients.get(port, "/actuator/metrics/switchboard.deliveries");
    assertEquals(200, deliveries.statusCode(), deliveries.body());
    assertTrue(deliveries.body().contains("\"name\":\"switchboard.deliveries\""), deliveries.body());
    HttpResponse<String> connections = Clients.get(port, "/actuator/metrics/switchboard.connections?tag=transport:ws");
    assertTrue(connections.body().contains("\"value\":1.0"), connections.body());

    HttpResponse<String> prometheus = Clients.get(port, "/actuator/prometheus");
    assertEquals(200, prometheus.statusCode());
    for (String meter : List.of("switchboard_connections{", "switchboard_messages_published_total{",
        "switchboard_deliveries_total", "switchboard_deliveries_payload_bytes_total", "switchboard_topics ",
        "switchboard_broker_publish_seconds_count{", "switchboard_webhook_pending ")) {
      assertTrue(prometheus.body().contains(meter), meter + " missing from /actuator/prometheus");
    }
  }
}
