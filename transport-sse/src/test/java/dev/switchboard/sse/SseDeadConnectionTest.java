package dev.switchboard.sse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A connection that dies without a close (a NAT or proxy that dropped it, a network gone away) leaves
 * the client's stream silent, not ended: no FIN, no RST, no heartbeat. The client must take the
 * silence for death after its idle timeout, reconnect and resume, with nothing lost or repeated; and
 * a request the dead connection never answers must be given up the same way.
 *
 * <p>A proxy in the test forwards bytes between the client and the hub until it is frozen: from then
 * on the connections it holds carry nothing in either direction and stay open, while new connections
 * are forwarded again.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SseDeadConnectionTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void streamOnAConnectionThatWentSilent_isReconnectedAndResumes() throws Exception {
    Hub hub = Hub.builder().build();
    SseTransportFilter sse = SseTransportFilter.builder(hub).build(); // 15 s heartbeats: none in this test
    TransportContractTest.Server server = EmbeddedContainer.JETTY.start(0, List.of(sse));
    try (FreezingProxy proxy = new FreezingProxy(server.port());
        Channel channel = Transports.open(TransportConfig.builder().transport("sse")
            .url("http://127.0.0.1:" + proxy.port()).http2(false).idleTimeout(Duration.ofSeconds(1))
            .reconnectBackoff(dev.switchboard.transport.Backoff.exponential(Duration.ofMillis(50),
                Duration.ofMillis(200))).build())) {
      Message anchor = hub.publish("dead", "anchor").toCompletableFuture().get(30, TimeUnit.SECONDS);
      RecordingListener l = new RecordingListener();
      channel.subscribe("dead", anchor.id(), l);
      hub.publish("dead", "one");
      assertEquals("one", l.next(WAIT).message().text());

      int before = proxy.accepted();
      proxy.freeze(); // the stream's connection now carries nothing, and stays open
      hub.publish("dead", "two"); // written to the frozen connection: lost there
      assertEquals("two", l.next(WAIT).message().text(), "delivered again after a reconnect");
      assertTrue(proxy.accepted() > before, "the client opened a new connection");
      hub.publish("dead", "three");
      assertEquals("three", l.next(WAIT).message().text());
      l.assertNoMoreEvents();
    } finally {
      server.close();
      hub.shutdown();
    }
  }

  @Test
  void streamRequestThatIsNeverAnswered_isGivenUpAndTriedAgain() throws Exception {
    Hub hub = Hub.builder().build();
    SseTransportFilter sse = SseTransportFilter.builder(hub).build();
    TransportContractTest.Server server = EmbeddedContainer.JETTY.start(0, List.of(sse));
    try (FreezingProxy proxy = new FreezingProxy(server.port())) {
      proxy.freezeNextStreamRequest(); // the first event-stream request is swallowed, never answered
      try (Channel channel = Transports.open(TransportConfig.builder().transport("sse")
          .url("http://127.0.0.1:" + proxy.port()).http2(false).idleTimeout(Duration.ofSeconds(1)).build())) {
        Message anchor = hub.publish("unanswered", "anchor").toCompletableFuture().get(30, TimeUnit.SECONDS);
        RecordingListener l = new RecordingListener();
        channel.subscribe("unanswered", anchor.id(), l);
        hub.publish("unanswered", "one");
        assertEquals("one", l.next(WAIT).message().text());
        assertTrue(proxy.swallowed(), "the first stream request went unanswered");
        l.assertNoMoreEvents();
      }
    } finally {
      server.close();
      hub.shutdown();
    }
  }

  /** A TCP forwarder whose connections can be frozen: open, carrying nothing. */
  private static final class FreezingProxy implements AutoCloseable {
    private final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final int target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Pipe> pipes = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private volatile boolean freezeStreamRequest;
    private volatile boolean swallowed;

    FreezingProxy(int target) throws IOException {
      this.target = target;
      Thread t = new Thread(this::acceptLoop, "freezing-proxy");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    int accepted() {
      return accepted.get();
    }

    /** Every connection open now stops carrying bytes, both ways, and stays open. */
    void freeze() {
      pipes.forEach(p -> p.frozen = true);
    }

    /** The connection that next carries an event-stream request is frozen before forwarding it. */
    void freezeNextStreamRequest() {
      freezeStreamRequest = true;
    }

    boolean swallowed() {
      return swallowed;
    }

    private void acceptLoop() {
      try {
        while (true) {
          Socket client = listener.accept();
          accepted.incrementAndGet();
          Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
          sockets.add(client);
          sockets.add(upstream);
          Pipe back = new Pipe(upstream, client, null);
          start(new Pipe(client, upstream, back));
          start(back);
        }
      } catch (IOException e) {
        // closed
      }
    }

    private void start(Pipe p) {
      pipes.add(p);
      Thread t = new Thread(p, "freezing-proxy-pipe");
      t.setDaemon(true);
      t.start();
    }

    @Override
    public void close() throws IOException {
      listener.close();
      for (Socket s : sockets) {
        s.close();
      }
    }

    /**
     * Copies one direction; once frozen, reads and drops (so the sender never sees back-pressure).
     * The client-to-hub pipe of a connection knows the other one, to freeze both at its first request.
     */
    private final class Pipe implements Runnable {
      private final Socket from;
      private final Socket to;
      private final Pipe back;
      volatile boolean frozen;

      Pipe(Socket from, Socket to, Pipe back) {
        this.from = from;
        this.to = to;
        this.back = back;
      }

      @Override
      public void run() {
        byte[] buf = new byte[8192];
        try (InputStream in = from.getInputStream()) {
          OutputStream out = to.getOutputStream();
          for (int n; (n = in.read(buf)) >= 0; ) {
            if (back != null && freezeStreamRequest
                && new String(buf, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1).contains("/events")) {
              freezeStreamRequest = false;
              swallowed = true;
              frozen = true;
              back.frozen = true;
            }
            if (!frozen) {
              out.write(buf, 0, n);
              out.flush();
            }
          }
        } catch (IOException e) {
          // one side closed
        }
        // A frozen connection is never closed by the proxy: that is the point.
        if (!frozen) {
          try {
            to.shutdownOutput();
          } catch (IOException e) {
            // already closed
          }
        }
      }
    }
  }
}
