package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.JulCapture;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Status;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SSE streams on Undertow end without Undertow logging a warning or an error when the server ends
 * them (the hub closes the stream, or the server stops and then the hub ends its streams), and a
 * stream whose client went away is found (on its next heartbeat or message) and released.
 *
 * <p>One message is known and allowed when the client went away: Undertow's own {@code UT005088
 * Failed to execute ServletOutputStream.closeAsync() on IO thread} with a
 * {@code ClosedChannelException}. A non-blocking write or flush that fails on a thread other than
 * Undertow's I/O thread (our writer runs on the publishing or heartbeat thread) makes Undertow
 * complete the request itself ({@code ServletOutputStreamImpl.flush} → {@code
 * AsyncContextImpl.handleError} → {@code complete()}), whatever the application does, and that
 * completion re-flushes the dead channel on the I/O thread and logs the failure at ERROR. Any other
 * warning, or this one on a stream the server ended, fails the test.
 *
 * <p>Undertow logs through JBoss Logging, which logs to java.util.logging here; the test listens on
 * the {@code io.undertow} logger and first checks that it hears Undertow at all.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class UndertowSseDisconnectLogTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  private JulCapture undertowLog;
  private Hub hub;
  private SseTransportFilter sse;
  private TransportContractTest.Server server;

  @BeforeEach
  void start() throws Exception {
    undertowLog = JulCapture.start("io.undertow");
    hub = Hub.builder().build();
    sse = SseTransportFilter.builder(hub).heartbeat(Duration.ofMillis(100)).build();
    server = EmbeddedContainer.UNDERTOW.start(0, List.of(sse));
    assertTrue(undertowLog.heardAnything(), "the test hears Undertow's log (it logs its start at INFO)");
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (server != null) {
        server.close();
      }
      hub.shutdown();
    } finally {
      undertowLog.close();
    }
  }

  @Test
  void clientGoesAwayFromAnIdleStream_theStreamIsReleased() throws Exception {
    for (int i = 0; i < 10; i++) {
      RawSse client = RawSse.open(server.port(), "idle");
      awaitCondition("the stream is open", () -> sse.streamCount() == 1);
      client.readUntil(":"); // a heartbeat
      client.close();
      awaitCondition("the server ends the stream", () -> sse.streamCount() == 0);
    }
    assertNoWarningsBut(UNDERTOW_CLOSE_ASYNC_AFTER_CLIENT_LEFT);
  }

  @Test
  void clientGoesAwayWhileMessagesFlow_theStreamIsReleased() throws Exception {
    for (int i = 0; i < 10; i++) {
      RawSse client = RawSse.open(server.port(), "busy");
      awaitCondition("the stream is open", () -> sse.streamCount() == 1);
      hub.publish("busy", "first").toCompletableFuture().get(20, TimeUnit.SECONDS);
      client.readUntil("data: first");
      client.close();
      for (int m = 0; sse.streamCount() > 0 && m < 10_000; m++) {
        hub.publish("busy", "m" + m + "x".repeat(1000)).toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
      awaitCondition("the server ends the stream", () -> sse.streamCount() == 0);
    }
    assertNoWarningsBut(UNDERTOW_CLOSE_ASYNC_AFTER_CLIENT_LEFT);
  }

  @Test
  void serverEndsTheStream_undertowLogsNothing() throws Exception {
    for (int i = 0; i < 10; i++) {
      RawSse client = RawSse.open(server.port(), "ended");
      awaitCondition("the stream is open", () -> sse.streamCount() == 1);
      hub.publish("ended", "last").toCompletableFuture().get(20, TimeUnit.SECONDS);
      hub.disconnectAll(Status.UNAVAILABLE, "test: server ends the stream");
      client.readUntil("data: last");
      awaitCondition("the server ends the stream", () -> sse.streamCount() == 0);
      client.close();
    }
    assertNoWarnings();
  }

  @Test
  void serverStopsThenTheHubEndsTheStreams_undertowLogsNothing() throws Exception {
    List<RawSse> clients = new CopyOnWriteArrayList<>();
    for (int i = 0; i < 10; i++) {
      clients.add(RawSse.open(server.port(), "stopping"));
    }
    awaitCondition("the streams are open", () -> sse.streamCount() == 10);
    hub.publish("stopping", "before").toCompletableFuture().get(20, TimeUnit.SECONDS);
    for (RawSse c : clients) {
      c.readUntil("data: before");
    }
    server.close(); // connections closed under the streams
    hub.publish("stopping", "after").toCompletableFuture().get(20, TimeUnit.SECONDS);
    hub.shutdown(); // the hub ends every stream
    awaitCondition("every stream ended", () -> sse.streamCount() == 0);
    for (RawSse c : clients) {
      c.close();
    }
    assertNoWarnings();
  }

  /** Undertow's ERROR when a request is completed off its I/O thread after the client left. */
  private static final String UNDERTOW_CLOSE_ASYNC_AFTER_CLIENT_LEFT =
      "UT005088: Failed to execute ServletOutputStream.closeAsync() on IO thread (java.nio.channels.ClosedChannelException)";

  private void assertNoWarnings() {
    assertEquals(List.of(), undertowLog.warnings(), "Undertow logged warnings or errors");
  }

  private void assertNoWarningsBut(String known) {
    assertEquals(List.of(), undertowLog.warnings().stream().filter(w -> !w.endsWith(known))
        .collect(Collectors.toList()), "Undertow logged warnings or errors");
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

  /** An SSE client on a plain socket (HTTP/1.1), so that closing it closes the connection at once. */
  private static final class RawSse implements AutoCloseable {
    private final Socket socket;
    private final BufferedReader in;

    private RawSse(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    }

    static RawSse open(int port, String topic) throws IOException {
      Socket s = new Socket("127.0.0.1", port);
      s.setSoTimeout((int) WAIT.toMillis());
      OutputStream out = s.getOutputStream();
      out.write(("GET /v1/topics/" + topic + "/events HTTP/1.1\r\nHost: 127.0.0.1:" + port
          + "\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      RawSse c = new RawSse(s);
      String status = c.in.readLine();
      assertTrue(status != null && status.startsWith("HTTP/1.1 200"), "stream opens: " + status);
      return c;
    }

    /** Reads lines (chunk sizes included) until one starts with {@code prefix}. */
    void readUntil(String prefix) throws IOException {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith(prefix)) {
          return;
        }
      }
      fail("stream ended before a line starting with " + prefix);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
