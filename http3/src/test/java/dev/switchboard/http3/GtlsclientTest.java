package dev.switchboard.http3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A third-party HTTP/3 client against the hub: ngtcp2's {@code gtlsclient} (Debian's
 * {@code ngtcp2-client}) publishes, reads history and follows an SSE stream over QUIC. Skipped, saying
 * why, where gtlsclient or the native quiche library is missing (unless {@code SWITCHBOARD_REQUIRE_GTLSCLIENT}
 * is set, as {@code .ci/run} does).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GtlsclientTest {
  private static final Path GTLSCLIENT = Path.of("/usr/bin/gtlsclient");
  private static Hub hub;
  private static Http3TestServer server;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
    if (!Files.isExecutable(GTLSCLIENT) && System.getenv("SWITCHBOARD_REQUIRE_GTLSCLIENT") != null) {
      throw new AssertionError("gtlsclient is required here: apt-get install -y ngtcp2-client");
    }
    assumeTrue(Files.isExecutable(GTLSCLIENT), "gtlsclient is not installed (apt-get install ngtcp2-client)");
    hub = Http3TestServer.newHub();
    server = Http3TestServer.start(hub, 0);
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
      hub.shutdown();
    }
  }

  private static List<String> command(String... extra) {
    List<String> cmd = new ArrayList<>(List.of(GTLSCLIENT.toString(), "--exit-on-all-streams-close",
        "--timeout=10s", "--no-quic-dump"));
    cmd.addAll(List.of(extra));
    return cmd;
  }

  /**
   * Runs gtlsclient to completion; its output has the response headers (debug lines such as
   * {@code [:status: 201]}) and the body as a hex dump, decoded by {@link Output}.
   */
  private static Output run(String... extra) throws Exception {
    Process p = new ProcessBuilder(command(extra)).redirectErrorStream(true).start();
    Output out = new Output();
    out.readAll(p.getInputStream());
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("gtlsclient did not finish: " + out);
    }
    return out;
  }

  /** gtlsclient's output: its text lines, and the response body decoded from its hex dump lines. */
  static final class Output {
    private static final Pattern DUMP = Pattern.compile("^[0-9a-f]{8}((?:\\s+[0-9a-f]{2}){1,16})\\s+\\|.*\\|$");
    private final StringBuilder lines = new StringBuilder();
    private final java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();

    synchronized void line(String line) {
      lines.append(line).append('\n');
      Matcher m = DUMP.matcher(line);
      if (m.matches()) {
        for (String hex : m.group(1).trim().split("\\s+")) {
          body.write(Integer.parseInt(hex, 16));
        }
      }
      notifyAll();
    }

    void readAll(java.io.InputStream in) throws IOException {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1))) {
        for (String l; (l = r.readLine()) != null; ) {
          line(l);
        }
      }
    }

    synchronized String body() {
      return body.toString(StandardCharsets.UTF_8);
    }

    synchronized boolean hasStatus(int status) {
      return lines.indexOf(":status: " + status) >= 0;
    }

    /** Waits until the body contains {@code text}. */
    synchronized void awaitBody(String text, long timeoutMillis) throws InterruptedException {
      long deadline = System.currentTimeMillis() + timeoutMillis;
      while (!body().contains(text)) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          fail("no '" + text + "' in the stream within " + timeoutMillis + " ms; body so far: " + body()
              + "\noutput: " + lines);
        }
        wait(left);
      }
    }

    @Override
    public synchronized String toString() {
      return lines.toString();
    }
  }

  private static String url(String path) {
    return server.url() + path;
  }

  @Test
  void postPublish_isAnswered201WithTheId_andGetHistoryReturnsIt() throws Exception {
    Path body = Files.createTempFile("publish", ".txt");
    try {
      Files.writeString(body, "hello over quic");
      Output post = run("-m", "POST", "-d", body.toString(), "127.0.0.1", Integer.toString(server.port()),
          url("/v1/topics/h3news/messages"));
      assertTrue(post.hasStatus(201), post.toString());
      Matcher id = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"").matcher(post.body());
      assertTrue(id.find(), "the answer carries the id: " + post.body());
      assertEquals(id.group(1), hub.poll(null, "h3news", null, 10, java.time.Duration.ZERO)
          .toCompletableFuture().get().messages().get(0).id(), "the hub stored it under that id");

      Output get = run("127.0.0.1", Integer.toString(server.port()), url("/v1/topics/h3news/messages"));
      assertTrue(get.hasStatus(200), get.toString());
      // gtlsclient sends no Content-Type: the payload is stored as application/octet-stream, listed in base64.
      String base64 = java.util.Base64.getEncoder().encodeToString("hello over quic".getBytes(StandardCharsets.UTF_8));
      assertTrue(get.body().contains(base64) && get.body().contains("\"id\":\"" + id.group(1) + "\""), get.body());
    } finally {
      Files.deleteIfExists(body);
    }
  }

  @Test
  void sseSubscription_receivesEachMessageAsItIsPublished() throws Exception {
    Message marker = hub.publish(Message.text("h3live", "marker")).toCompletableFuture().get();
    Process p = new ProcessBuilder(command("--timeout=30s", "127.0.0.1", Integer.toString(server.port()),
        url("/v1/topics/h3live/events?lastEventId=" + marker.id()))).redirectErrorStream(true).start();
    Output out = new Output();
    Thread reader = new Thread(() -> {
      try {
        out.readAll(p.getInputStream());
      } catch (IOException e) {
        // the process was stopped
      }
    }, "gtlsclient-reader");
    reader.start();
    try {
      for (int i = 0; i < 3; i++) {
        // Each message is published only once the previous one came through: delivered as published,
        // not buffered until the stream ends (it never ends here).
        hub.publish(Message.text("h3live", "live-" + i)).toCompletableFuture().get();
        out.awaitBody("data: live-" + i, 20_000);
      }
      assertTrue(out.hasStatus(200), out.toString());
      assertTrue(p.isAlive(), "the stream is still open");
    } finally {
      p.destroy();
      p.waitFor(5, TimeUnit.SECONDS);
      p.destroyForcibly();
      reader.join(5_000);
    }
  }
}
