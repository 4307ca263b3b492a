package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Message;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The closed-session race of issue 15 on Tomcat 11: 20 WebSocket sessions and then one SSE stream
 * subscribe to a topic, the 20 sessions close, and the server publishes 50 messages at once. Tomcat
 * throws {@code IllegalStateException} from {@code getAsyncRemote().sendText} on a session it has
 * closed before the endpoint's {@code onClose} ran; the fan-out must not let that cost any other
 * subscriber a message. The SSE stream must get all 50, in order, in each of 20 rounds.
 *
 * <p>Raw clients on purpose (JDK WebSocket speaking {@code switchboard.v1.json}, a plain SSE reader
 * over HTTP/1.1): a Switchboard channel would resume after a reset and hide nothing, but a raw
 * reader sees exactly what the server wrote.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TomcatClosedSessionRaceTest {
  private static final int ROUNDS = 20;
  private static final int SESSIONS = 20;
  private static final int MESSAGES = 50;
  private static final Duration WAIT = Duration.ofSeconds(20);

  private Hub hub;
  private TransportContractTest.Server server;
  private HttpClient http;

  @BeforeEach
  void start() throws Exception {
    hub = Hub.builder().build();
    WebSocketTransport ws = WebSocketTransport.builder(hub).build();
    // Short heartbeats, so the server notices a closed SSE reader soon and drops its subscription.
    SseTransportFilter sse = SseTransportFilter.builder(hub).heartbeat(Duration.ofMillis(200)).build();
    server = EmbeddedContainer.TOMCAT.start(0, List.of(sse, new HttpTransportFilter(hub)), ws::register);
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    hub.shutdown();
  }

  @Test
  void sessionsClosingWhileTheServerPublishes_costTheSseSubscriberNoMessage() throws Exception {
    List<String> lossy = new ArrayList<>();
    for (int round = 0; round < ROUNDS; round++) {
      List<String> got = round("race." + round);
      List<String> expected = IntStream.range(0, MESSAGES).mapToObj(i -> "m" + i).collect(Collectors.toList());
      if (!got.equals(expected)) {
        lossy.add("round " + round + " got " + got.size() + ": " + got);
      }
    }
    assertEquals(List.of(), lossy, "the SSE subscriber lost live messages in " + lossy.size() + " of "
        + ROUNDS + " rounds");
    awaitCondition("every subscription is gone once every client has (" + hub.subscriberCount() + " left)",
        () -> hub.subscriberCount() == 0);
  }

  /** One round; returns the data of the events the SSE stream got after the marker. */
  private List<String> round(String topic) throws Exception {
    List<RawWebSocket> sessions = new ArrayList<>();
    for (int i = 0; i < SESSIONS; i++) {
      RawWebSocket s = RawWebSocket.open(http, URI.create("ws://127.0.0.1:" + server.port() + "/v1/ws"));
      s.ws.sendText("{\"op\":\"subscribe\",\"topic\":\"" + topic + "\"}", true);
      sessions.add(s);
    }
    for (RawWebSocket s : sessions) {
      String frame = s.next();
      assertTrue(frame.contains("\"op\":\"subscribed\""), "expected subscribed, got " + frame);
    }
    try (SseReader sse = SseReader.open(http, URI.create(server.url() + "/v1/topics/" + topic + "/events"))) {
      // Live delivery to the stream starts once the server has its subscription: probe until it does.
      long deadline = System.nanoTime() + WAIT.toNanos();
      String first = null;
      while (first == null && System.nanoTime() < deadline) {
        hub.publish(topic, "marker").toCompletableFuture().get(20, TimeUnit.SECONDS);
        first = sse.pollData(Duration.ofMillis(50));
      }
      assertEquals("marker", first, "the SSE stream gets a marker within " + WAIT);
      // A session's "subscribed" means its subscription is live (HubTest checks it without a
      // container), so the first marker already reached every session.
      for (RawWebSocket s : sessions) {
        assertTrue(s.next().contains("\"marker\""), "each session gets the markers");
      }

      for (RawWebSocket s : sessions) {
        s.ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye"); // not awaited: the race is the point
      }
      List<CompletableFuture<Message>> published = new ArrayList<>();
      for (int i = 0; i < MESSAGES; i++) {
        published.add(hub.publish(topic, "m" + i).toCompletableFuture());
      }
      for (CompletableFuture<Message> p : published) {
        p.get(20, TimeUnit.SECONDS);
      }

      List<String> got = new ArrayList<>();
      while (got.size() < MESSAGES) {
        String data = sse.pollData(got.isEmpty() ? WAIT : Duration.ofSeconds(5));
        if (data == null) {
          break; // lost: the server had nothing more for this stream
        }
        if (!(got.isEmpty() && data.equals("marker"))) { // markers of the probe that were still on the way
          got.add(data);
        }
      }
      for (RawWebSocket s : sessions) {
        s.ws.abort();
      }
      return got;
    }
  }

  private static void awaitCondition(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not true within " + WAIT + ": " + what);
      }
      Thread.sleep(10);
    }
  }

  /** A JDK WebSocket speaking {@code switchboard.v1.json}, its text frames in a queue. */
  private static final class RawWebSocket implements WebSocket.Listener {
    private final LinkedBlockingQueue<String> frames = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    private WebSocket ws;

    static RawWebSocket open(HttpClient http, URI uri) throws Exception {
      RawWebSocket s = new RawWebSocket();
      s.ws = http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL)
          .buildAsync(uri, s).get(20, TimeUnit.SECONDS);
      return s;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        frames.add(partial.toString());
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    String next() throws InterruptedException {
      String f = frames.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (f == null) {
        fail("no frame within " + WAIT);
      }
      return f;
    }
  }

  /** A plain SSE reader: the {@code data:} of each event, in order, from a reader thread. */
  private static final class SseReader implements AutoCloseable {
    private final LinkedBlockingQueue<String> data = new LinkedBlockingQueue<>();
    private final InputStream body;
    private final Thread reader;

    private SseReader(InputStream body) {
      this.body = body;
      this.reader = new Thread(this::read, "sse-reader");
      reader.setDaemon(true);
      reader.start();
    }

    static SseReader open(HttpClient http, URI uri) throws Exception {
      HttpResponse<InputStream> res = http.send(HttpRequest.newBuilder(uri)
          .header("Accept", "text/event-stream").build(), HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, res.statusCode(), "SSE stream opens");
      return new SseReader(res.body());
    }

    private void read() {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
        String event = null;
        StringBuilder d = null;
        for (String line; (line = r.readLine()) != null; ) {
          if (line.isEmpty()) {
            if (d != null) {
              data.add(event == null ? d.toString() : event + ":" + d);
            }
            event = null;
            d = null;
          } else if (line.startsWith("data: ")) {
            d = d == null ? new StringBuilder(line.substring(6)) : d.append('\n').append(line.substring(6));
          } else if (line.startsWith("event: ")) {
            event = line.substring(7); // a reset would show as "reset:{...}"
          }
        }
      } catch (IOException e) {
        // closed by the test
      }
    }

    String nextData() throws InterruptedException {
      String d = pollData(WAIT);
      if (d == null) {
        fail("no SSE event within " + WAIT);
      }
      return d;
    }

    String pollData(Duration wait) throws InterruptedException {
      return data.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws Exception {
      body.close();
      reader.join(10_000);
    }
  }
}
