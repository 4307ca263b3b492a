package dev.switchboard.examples.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Closing the application with an SSE stream, a WebSocket session and a long poll open: the hub is
 * shut down before Boot's graceful shutdown, so every client is told (its channel leaves OPEN) and
 * the context closes without waiting out the graceful-shutdown timeout.
 */
class GracefulShutdownTest {
  @Test
  void close_withSseWebSocketAndLongPollOpen_tellsClientsAndDoesNotWaitForThem() throws Exception {
    ConfigurableApplicationContext app = new SpringApplicationBuilder(ExampleApplication.class)
        // A hang would now take 120 s per phase, far beyond the bound below.
        .properties("server.port=0", "server.address=127.0.0.1", "spring.lifecycle.timeout-per-shutdown-phase=120s")
        .run();
    List<Channel> channels = new ArrayList<>();
    try {
      int port = Integer.parseInt(app.getEnvironment().getProperty("local.server.port"));
      Hub hub = app.getBean(Hub.class);
      CountDownLatch told = new CountDownLatch(3);
      for (String transport : List.of("sse", "ws", "longpoll")) {
        Channel c = Clients.open(transport, port, Clients.TOKEN);
        channels.add(c);
        c.addStateListener((from, to, cause) -> {
          if (from == Channel.State.OPEN) {
            told.countDown();
          }
        });
        c.subscribe("announcements", new Clients.Recorder());
      }
      await(() -> hub.connectionCount("sse") == 1 && hub.connectionCount("ws") == 1 && hub.waitingPollCount() >= 1,
          "an SSE stream, a WebSocket session and a waiting long poll");
      await(() -> channels.stream().allMatch(c -> c.state() == Channel.State.OPEN), "every channel OPEN");

      CompletableFuture<Void> closing = CompletableFuture.runAsync(app::close);
      // Bounded far below the 120 s a graceful shutdown waiting for the streams would take.
      closing.get(60, TimeUnit.SECONDS);
      assertTrue(told.await(30, TimeUnit.SECONDS), "every client was told (left OPEN): " + told.getCount() + " not");
      assertEquals(false, hub.isRunning());
    } finally {
      channels.forEach(Channel::close);
      app.close();
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
      Thread.sleep(20);
    }
  }
}
