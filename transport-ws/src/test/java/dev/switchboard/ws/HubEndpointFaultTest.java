package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Status;
import jakarta.websocket.CloseReason;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.SendHandler;
import jakarta.websocket.SendResult;
import jakarta.websocket.Session;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Faults a real container only shows under races, forced with a scripted {@link Session}: Tomcat's
 * async remote throws {@code IllegalStateException} from {@code sendText} once the session closed
 * under us, before the endpoint hears {@code onClose}; a client that never reads leaves sends
 * uncompleted.
 */
@Timeout(60)
class HubEndpointFaultTest {
  private final Hub hub = Hub.builder().maxQueuedMessages(16).build();
  private final WebSocketTransport transport = WebSocketTransport.builder(hub).build();

  @AfterEach
  void stop() {
    hub.shutdown();
  }

  /** A session scripted like a container's: sends complete inline until it is "closed under us". */
  static final class FakeSession {
    volatile boolean closedUnderUs;
    volatile boolean completeSends = true;
    final List<String> sent = new CopyOnWriteArrayList<>();
    final AtomicReference<CloseReason> closedWith = new AtomicReference<>();
    MessageHandler.Whole<String> onText;
    final Session session;

    FakeSession() {
      RemoteEndpoint.Async async = (RemoteEndpoint.Async) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {RemoteEndpoint.Async.class}, (proxy, method, args) -> {
            if (method.getName().equals("sendText") && args.length == 2) {
              if (closedUnderUs) {
                throw new IllegalStateException("The WebSocket session [1] has been closed and no method"
                    + " (apart from close()) may be called on a closed session");
              }
              sent.add((String) args[0]);
              if (completeSends) {
                ((SendHandler) args[1]).onResult(new SendResult());
              }
              return null;
            }
            return null;
          });
      session = (Session) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Session.class},
          (proxy, method, args) -> {
            switch (method.getName()) {
              case "getAsyncRemote":
                if (closedUnderUs) {
                  throw new IllegalStateException("closed");
                }
                return async;
              case "addMessageHandler":
                if (args[0] == String.class) {
                  @SuppressWarnings("unchecked")
                  MessageHandler.Whole<String> h = (MessageHandler.Whole<String>) args[1];
                  onText = h;
                }
                return null;
              case "close":
                closedWith.set(args == null || args.length == 0 ? null : (CloseReason) args[0]);
                return null;
              case "hashCode":
                return System.identityHashCode(proxy);
              case "equals":
                return proxy == args[0];
              default:
                return null;
            }
          });
    }
  }

  private HubEndpoint open(FakeSession s) {
    HubEndpoint e = new HubEndpoint(transport);
    Map<String, Object> props = new HashMap<>();
    props.put(HubConfigurator.PRINCIPAL, Authenticator.ANONYMOUS);
    EndpointConfig config = (EndpointConfig) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {EndpointConfig.class}, (proxy, method, args) ->
            method.getName().equals("getUserProperties") ? props : null);
    e.onOpen(s.session, config);
    assertNotNull(s.onText, "the endpoint accepted the session");
    return e;
  }

  @Test
  void sessionsClosedUnderTheWriter_costNoOtherSubscriberAMessage() {
    List<FakeSession> sessions = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      FakeSession s = new FakeSession();
      open(s);
      s.onText.onMessage("{\"op\":\"subscribe\",\"topic\":\"t\"}");
      sessions.add(s);
    }
    List<String> got = new ArrayList<>();
    Connection observer = hub.connect(Authenticator.ANONYMOUS, "test", new Connection.Sink() {
      @Override
      public void onReady() {}

      @Override
      public void onClose(Status status, String reason) {}
    });
    observer.subscribe("t", null).toCompletableFuture().join();
    assertEquals(21, hub.subscriberCount());
    sessions.forEach(s -> s.closedUnderUs = true); // closed, and onClose not yet delivered
    for (int i = 0; i < 50; i++) {
      hub.publish("t", "m" + i).toCompletableFuture().join(); // would throw if a send's failure escaped
      Connection.Event e;
      while ((e = observer.poll()) != null) {
        if (e instanceof Connection.Delivery d) {
          got.add(d.message().text());
        }
      }
    }
    List<String> want = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      want.add("m" + i);
    }
    assertEquals(want, got);
    assertEquals(1, hub.subscriberCount(), "every broken session released its subscription");
    assertEquals(1, hub.connectionCount());
    assertEquals(0, transport.sessionCount());
    assertEquals(0, hub.deliveryFailures(), "the writer contained it: a client gone, not a delivery failure");
    for (FakeSession s : sessions) {
      assertNotNull(s.closedWith.get(), "the endpoint closed its side too");
      assertEquals(1011, s.closedWith.get().getCloseCode().getCode());
    }
  }

  @Test
  void clientThatLeavesRepliesUnread_isCutOffAsASlowConsumer_andCounted() {
    FakeSession s = new FakeSession();
    s.completeSends = false; // the first send never completes: the client reads nothing
    open(s);
    for (int i = 0; i < 40 && s.closedWith.get() == null; i++) {
      s.onText.onMessage("{\"op\":\"unsubscribe\",\"topic\":\"t" + i + "\",\"ref\":\"" + i + "\"}");
    }
    assertNotNull(s.closedWith.get());
    assertEquals(4000, s.closedWith.get().getCloseCode().getCode());
    assertTrue(s.closedWith.get().getReasonPhrase().startsWith("slow_consumer: "), s.closedWith.get().getReasonPhrase());
    assertEquals(1, hub.slowConsumerDisconnects());
    assertEquals(1, s.sent.size(), "one send in flight, the rest dropped");
    assertEquals(0, hub.connectionCount());
  }
}
