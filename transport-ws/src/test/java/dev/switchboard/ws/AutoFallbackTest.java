package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code switchboard.transport=auto}: WebSocket first, SSE when the upgrade is refused. */
@Timeout(120)
class AutoFallbackTest {
  private final Hub hub = Hub.builder().build();
  private EmbeddedJetty jetty;

  @AfterEach
  void stop() throws Exception {
    jetty.close();
    hub.shutdown();
  }

  /** What a proxy that does not pass WebSockets does: 403 to every upgrade. */
  private static final Filter BLOCK_UPGRADES = (req, res, chain) -> {
    if ("websocket".equalsIgnoreCase(((HttpServletRequest) req).getHeader("Upgrade"))) {
      ((HttpServletResponse) res).sendError(403, "WebSocket blocked by proxy");
      return;
    }
    chain.doFilter(req, res);
  };

  private Channel openAuto() {
    return Transports.open(TransportConfig.builder().transport("auto").url(jetty.url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200))).build());
  }

  private static List<String> texts(List<Message> ms) {
    return ms.stream().map(Message::text).collect(Collectors.toList());
  }

  @Test
  void auto_fallsBackToSse_whenTheUpgradeIsRefused_andResumesById() throws Exception {
    jetty = EmbeddedJetty.start(0, List.of(BLOCK_UPGRADES, new SseTransportFilter(hub), new HttpTransportFilter(hub)));
    try (Channel c = openAuto()) {
      Message marker = hub.publish("fb", "marker").toCompletableFuture().get();
      RecordingListener l = new RecordingListener();
      c.subscribe("fb", marker.id(), l); // made before the choice: it waits for it
      for (int i = 0; i < 20; i++) {
        c.send(Message.text("fb", "a" + i)).toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      assertEquals("sse", c.transport());
      assertEquals(IntStream.range(0, 20).mapToObj(i -> "a" + i).collect(Collectors.toList()),
          texts(l.messages(20, Duration.ofSeconds(30))));

      hub.disconnectAll(Status.UNAVAILABLE, "test: dropped");
      for (int i = 0; i < 20; i++) {
        hub.publish("fb", "b" + i).toCompletableFuture().get();
      }
      assertEquals(IntStream.range(0, 20).mapToObj(i -> "b" + i).collect(Collectors.toList()),
          texts(l.messages(20, Duration.ofSeconds(30))));
      assertEquals("sse", c.transport(), "the choice is kept for reconnects");
      l.assertNoMoreEvents(Duration.ofMillis(300));
    }
  }

  @Test
  void auto_prefersWebSocket_whenItWorks() throws Exception {
    WebSocketTransport ws = WebSocketTransport.builder(hub).build();
    jetty = EmbeddedJetty.start(0, List.of(new SseTransportFilter(hub), new HttpTransportFilter(hub)), context ->
        JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(container)));
    try (Channel c = openAuto()) {
      Message stored = c.send(Message.text("pref", "x")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals("x", stored.text());
      assertEquals("ws", c.transport());
      assertEquals(Channel.State.OPEN, c.state());
    }
  }
}
