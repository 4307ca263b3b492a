package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Accept failures (forced: no descriptors to spare in a test) and the connection limit are logged once
 * per episode.
 */
@Timeout(60)
class DemoConnectorTest {
  private static DemoConnector start(Server server, Duration quiet) throws Exception {
    DemoConnector connector = new DemoConnector(server, Duration.ofMillis(5), quiet, new HttpConnectionFactory());
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.start();
    return connector;
  }

  private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  private static int count(String text, String what) {
    return text.split(java.util.regex.Pattern.quote(what), -1).length - 1;
  }

  @Test
  void acceptFailures_areLoggedOncePerEpisode_andCountedUntilAnAcceptWorks() throws Exception {
    Server server = new Server();
    DemoConnector connector = start(server, Duration.ofSeconds(10));
    PrintStream stderr = System.err;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    try {
      System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
      IOException emfile = new IOException("Too many open files");
      for (int i = 0; i < 5; i++) {
        assertTrue(connector.handleAcceptFailure(emfile), "the acceptor keeps trying");
      }
      assertEquals(5, connector.failedAccepts());

      // A real accept ends the episode.
      try (Socket s = new Socket("127.0.0.1", connector.getLocalPort())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        assertTrue(new String(in.readAllBytes(), StandardCharsets.US_ASCII).startsWith("HTTP/1.1 404"));
      }
      assertEquals(0, connector.failedAccepts());
      assertTrue(connector.handleAcceptFailure(emfile));
    } finally {
      System.setErr(stderr);
      server.stop();
    }
    String text = log.toString(StandardCharsets.UTF_8);
    assertEquals(2, count(text, "cannot accept connections"), "one line per episode, two episodes:\n" + text);
    assertTrue(text.contains("Too many open files"), text);
    assertTrue(!text.contains("\tat "), "no stack trace:\n" + text);
  }

  @Test
  void connectionLimit_isLoggedOncePerEpisode_howeverOftenItIsReachedAgainWithin() throws Exception {
    Server server = new Server();
    DemoConnector connector = start(server, Duration.ofSeconds(2));
    connector.maxConnections(3);
    PrintStream stderr = System.err;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    List<Socket> sockets = new ArrayList<>();
    try {
      System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
      for (int round = 0; round < 3; round++) {
        // Three connections fill the limit; the rest wait in the backlog until those close.
        long before = connector.limitReached();
        for (int i = 0; i < 6; i++) {
          sockets.add(new Socket("127.0.0.1", connector.getLocalPort()));
        }
        await("the limit is reached again", () -> connector.limitReached() > before && connector.atLimit());
        for (Socket s : sockets) {
          s.close();
        }
        sockets.clear();
      }
      assertTrue(connector.limitReached() >= 3, "reached " + connector.limitReached() + " times");
      await("the episode ends after the quiet period below the limit", () -> !connector.atLimit());
    } finally {
      System.setErr(stderr);
      for (Socket s : sockets) {
        s.close();
      }
      server.stop();
    }
    String text = log.toString(StandardCharsets.UTF_8);
    assertEquals(1, count(text, "connections open, the server's limit"), "one line for the episode:\n" + text);
  }
}
