package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.transport.Message;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Coalesced writes on Jetty ({@link WebSocketTransport.Builder#maxWriteBatch}): when a subscriber
 * stops reading, its queue builds up, and once it reads again the queued frames go out several per
 * write, every one of them whole and in order; with coalescing off, the same flow writes one frame
 * per write.
 */
@Timeout(60)
class WsCoalescedWritesTest {
  private static final int MESSAGES = 2000;
  /** The in-memory broker's ids end in a sequence number: in order means consecutive. */
  private static final java.util.regex.Pattern ID = java.util.regex.Pattern.compile("\"id\":\"[^\"]*-(\\d+)\"");

  private Hub hub;
  private EmbeddedJetty jetty;
  private WebSocket ws;

  @AfterEach
  void stop() throws Exception {
    if (ws != null) {
      ws.abort();
    }
    if (jetty != null) {
      jetty.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  @Test
  void aBacklogGoesOutSeveralFramesPerWrite_wholeAndInOrder() throws Exception {
    WebSocketTransport t = backlogThenRead(WebSocketTransport.builder(hub()));
    assertTrue(t.coalescedWrites.sum() > 0, "no write carried more than one frame");
  }

  @Test
  void withCoalescingOff_everyFrameIsItsOwnWrite() throws Exception {
    WebSocketTransport t = backlogThenRead(WebSocketTransport.builder(hub()).maxWriteBatch(0));
    assertEquals(0, t.coalescedWrites.sum());
  }

  @Test
  void maxWriteBatch_refusesANegativeSize() {
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> WebSocketTransport.builder(hub()).maxWriteBatch(-1));
    assertTrue(e.getMessage().contains("maxWriteBatch"), e.getMessage());
  }

  private Hub hub() {
    hub = Hub.builder().broker(new InMemoryBroker(10)).maxQueuedMessages(MESSAGES * 2)
        .maxQueuedBytes(64L << 20).build();
    return hub;
  }

  /**
   * Subscribes without reading, publishes {@link #MESSAGES} 2 KB messages (several MB: more than the
   * socket buffers hold, so the session's queue builds up), then reads them all and checks each
   * arrived once, in order.
   */
  private WebSocketTransport backlogThenRead(WebSocketTransport.Builder b) throws Exception {
    WebSocketTransport t = b.build();
    jetty = EmbeddedJetty.start(0, List.of(), context ->
        JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> t.register(container)));
    LinkedBlockingQueue<String> frames = new LinkedBlockingQueue<>();
    StringBuilder partial = new StringBuilder();
    ws = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL)
        .buildAsync(URI.create("ws://127.0.0.1:" + jetty.port() + "/v1/ws"), new WebSocket.Listener() {
          @Override
          public void onOpen(WebSocket w) {
            w.request(1); // one frame (the subscribed reply), then nothing until the test asks
          }

          @Override
          public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
              frames.add(partial.toString());
              partial.setLength(0);
            }
            return null;
          }
        }).join();
    ws.sendText("{\"op\":\"subscribe\",\"topic\":\"c\"}", true).join();
    String subscribed = frames.poll(10, TimeUnit.SECONDS);
    assertTrue(subscribed != null && subscribed.contains("subscribed"), String.valueOf(subscribed));
    byte[] payload = "x".repeat(2000).getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < MESSAGES; i++) {
      hub.publish(Message.builder("c").payload(payload, "text/plain").build());
    }
    ws.request(Long.MAX_VALUE);
    long previous = -1;
    for (int i = 0; i < MESSAGES; i++) {
      String f = frames.poll(10, TimeUnit.SECONDS);
      assertTrue(f != null, "message " + i + " of " + MESSAGES + " did not arrive");
      java.util.regex.Matcher id = ID.matcher(f);
      assertTrue(f.startsWith("{\"op\":\"message\"") && f.endsWith("}") && f.length() > 2000 && id.find(),
          "message " + i + " not whole: " + f.substring(Math.max(0, f.length() - 200)));
      long seq = Long.parseLong(id.group(1));
      assertTrue(i == 0 || seq == previous + 1, "message " + i + " out of order: id " + seq + " after " + previous);
      previous = seq;
    }
    assertEquals(0, hub.slowConsumerDisconnects());
    return t;
  }
}
