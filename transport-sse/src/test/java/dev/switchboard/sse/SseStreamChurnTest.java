package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A stream opened while earlier streams are being closed by their clients gets its messages, on
 * every container. Each step opens a stream, publishes until it delivers a marker, and closes it, so
 * the heartbeat timer keeps finding closed streams (200 ms heartbeats) just as new ones open.
 *
 * <p>On Tomcat 11 a write from one of our threads that fails on a closed connection hands the error
 * to a container thread before it records the exception in the response; before the stream's
 * writes and the container's end of the request were serialized, that thread sometimes recycled the
 * request first and the next stream to reuse the processor died after its first bytes with the stale
 * "Broken pipe", silently for its client (5 to 7 of 400 streams on a loaded machine; none since).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SseStreamChurnTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @ParameterizedTest(name = "{0}")
  @CsvSource({"TOMCAT, 400", "JETTY, 100", "UNDERTOW, 100"})
  void streamsOpenedWhileOthersClose_getTheirMessages(EmbeddedContainer container, int streams)
      throws Exception {
    Hub hub = Hub.builder().build();
    SseTransportFilter sse = SseTransportFilter.builder(hub).heartbeat(Duration.ofMillis(200)).build();
    TransportContractTest.Server server = container.start(0, List.of(sse));
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<String> failed = new ArrayList<>();
    try {
      for (int i = 0; i < streams && failed.size() < 3; i++) {
        String topic = "churn." + i;
        HttpResponse<InputStream> res = http.send(
            HttpRequest.newBuilder(URI.create(server.url() + "/v1/topics/" + topic + "/events"))
                .header("Accept", "text/event-stream").build(),
            HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, res.statusCode(), "stream " + i + " opens");
        try (LineReader lines = new LineReader(res.body())) {
          List<String> seen = new ArrayList<>();
          long deadline = System.nanoTime() + WAIT.toNanos();
          boolean delivered = false;
          while (!delivered && System.nanoTime() < deadline) {
            hub.publish(topic, "marker").toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            for (String line; !delivered && (line = lines.poll(Duration.ofMillis(20))) != null; ) {
              seen.add(line);
              delivered = line.equals("data: marker");
            }
          }
          if (!delivered) {
            failed.add("stream " + i + " got no message within " + WAIT + "; it read " + seen
                + " (open streams on the server: " + sse.streamCount() + ")");
          }
        }
      }
    } finally {
      server.close();
      hub.shutdown();
    }
    assertEquals(List.of(), failed);
  }

  /** The lines of a response body, read on their own thread. */
  private static final class LineReader implements AutoCloseable {
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final InputStream body;
    private final Thread thread;

    LineReader(InputStream body) {
      this.body = body;
      this.thread = new Thread(this::read, "sse-churn-reader");
      thread.setDaemon(true);
      thread.start();
    }

    private void read() {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
        lines.add("<end of stream>");
      } catch (IOException e) {
        lines.add("<" + e + ">"); // also how our own close shows
      }
    }

    String poll(Duration wait) throws InterruptedException {
      return lines.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws Exception {
      body.close();
      thread.join(10_000);
    }
  }
}
