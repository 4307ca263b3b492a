package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The server goes away while the client is still handling its last frame. The JDK's WebSocket then
 * loses the end of the stream (its transport throws InternalError on the FIN for want of demand and
 * never calls onClose or onError), so only the channel's own liveness check notices: the channel
 * must still reach RECONNECTING, and OPEN again once the server is back.
 */
@Timeout(120)
class WsServerGoneTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private final InMemoryBroker broker = new InMemoryBroker(100);
  private Hub hub;
  private TransportContractTest.Server server;
  private Channel channel;

  private TransportContractTest.Server start(Hub h, int port) throws Exception {
    WebSocketTransport ws = WebSocketTransport.builder(h).pingInterval(Duration.ofSeconds(30)).build();
    return EmbeddedContainer.JETTY.start(port, List.of(), ws::register);
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.close();
    }
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  @Test
  void serverStopsWhileTheListenerIsBusy_channelNoticesAndReconnects() throws Exception {
    hub = Hub.builder().broker(broker).build();
    server = start(hub, 0);
    channel = Transports.open(TransportConfig.builder().transport("ws").url(server.url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(500))).build());
    LinkedBlockingQueue<Channel.State> states = new LinkedBlockingQueue<>();
    channel.addStateListener((from, to, cause) -> states.add(to));
    LinkedBlockingQueue<String> subscribed = new LinkedBlockingQueue<>();
    CountDownLatch serverGone = new CountDownLatch(1);
    LinkedBlockingQueue<Message> received = new LinkedBlockingQueue<>();
    // The first onSubscribed is held until the server has stopped: its FIN arrives while it runs.
    channel.subscribe("gone", null, new MessageListener() {
      @Override
      public void onSubscribed(String topic, boolean recovered) {
        subscribed.add(topic);
        try {
          serverGone.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void onMessage(Message message) {
        received.add(message);
      }
    });
    assertEquals("gone", subscribed.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the subscription is in place");

    int port = server.port();
    server.close();
    hub.shutdown();
    serverGone.countDown();
    awaitState(states, Channel.State.RECONNECTING);

    hub = Hub.builder().broker(broker).build();
    server = start(hub, port);
    awaitState(states, Channel.State.OPEN);
    assertEquals("gone", subscribed.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS), "resubscribed");
    hub.publish("gone", "back").toCompletableFuture().join();
    Message m = received.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertEquals("back", m == null ? null : m.text());
  }

  private static void awaitState(LinkedBlockingQueue<Channel.State> states, Channel.State wanted)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    Channel.State s;
    do {
      s = states.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
    } while (s != null && s != wanted);
    assertEquals(wanted, s, "channel state");
  }
}
