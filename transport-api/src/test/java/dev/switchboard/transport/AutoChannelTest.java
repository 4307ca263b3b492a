package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The {@code auto} transport's choice, driven by scripted channels: which refusals make it try the
 * next transport, and what happens to subscriptions, sends and listeners made before it chose.
 */
class AutoChannelTest {
  private static final TransportConfig CONFIG = TransportConfig.builder().url("http://127.0.0.1:1").build();

  /** A channel whose state the test moves; records what was asked of it. */
  static final class ScriptedChannel implements Channel {
    final String name;
    volatile State state = State.CONNECTING;
    final List<StateListener> listeners = new CopyOnWriteArrayList<>();
    final List<String> subscribed = new CopyOnWriteArrayList<>();
    final List<Message> sent = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    ScriptedChannel(String name) {
      this.name = name;
    }

    void move(State to, SwitchboardException cause) {
      State from = state;
      state = to;
      for (StateListener l : listeners) {
        l.onStateChange(from, to, cause);
      }
    }

    @Override
    public String transport() {
      return name;
    }

    @Override
    public State state() {
      return state;
    }

    @Override
    public void addStateListener(StateListener listener) {
      listeners.add(listener);
    }

    @Override
    public CompletionStage<Message> send(Message message) {
      sent.add(message);
      return CompletableFuture.completedFuture(message.toBuilder().id("1").build());
    }

    @Override
    public Subscription subscribe(String topic, String afterId, MessageListener listener) {
      subscribed.add(topic + "@" + afterId);
      return new Subscription() {
        @Override
        public String topic() {
          return topic;
        }

        @Override
        public String lastId() {
          return "real-" + afterId;
        }

        @Override
        public boolean isActive() {
          return true;
        }

        @Override
        public void close() {}
      };
    }

    @Override
    public void close() {
      closed = true;
      state = State.CLOSED;
    }
  }

  private static TransportProvider provider(String name, Channel channel) {
    return new TransportProvider() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Channel open(TransportConfig config) {
        if (channel == null) {
          throw new IllegalArgumentException(name + " cannot serve this url");
        }
        return channel;
      }
    };
  }

  private static final class Errors implements MessageListener {
    final List<SwitchboardException> errors = new ArrayList<>();

    @Override
    public void onMessage(Message message) {}

    @Override
    public void onError(SwitchboardException error) {
      errors.add(error);
    }
  }

  @Test
  void refusedBeforeOpening_fallsToTheNext_andReplaysWhatWasAskedMeanwhile() {
    ScriptedChannel ws = new ScriptedChannel("ws");
    ScriptedChannel sse = new ScriptedChannel("sse");
    AutoChannel auto = new AutoChannel(CONFIG, List.of(provider("ws", ws), provider("sse", sse)));
    List<String> states = new CopyOnWriteArrayList<>();
    auto.addStateListener((from, to, cause) -> states.add(from + ">" + to));
    Subscription early = auto.subscribe("prices", "41", m -> { });
    CompletionStage<Message> send = auto.send(Message.text("prices", "x"));
    assertEquals("auto", auto.transport());
    assertEquals(Channel.State.CONNECTING, auto.state());
    assertEquals("41", early.lastId());

    ws.move(Channel.State.CLOSED, new SwitchboardException(Status.PERMISSION_DENIED, "upgrade refused: 403"));
    assertEquals(List.of(), sse.subscribed); // not chosen before it opens
    sse.move(Channel.State.OPEN, null);

    assertEquals("sse", auto.transport());
    assertEquals(List.of("prices@41"), sse.subscribed);
    assertEquals("1", send.toCompletableFuture().join().id());
    assertEquals("real-41", early.lastId());
    assertEquals(List.of("CONNECTING>OPEN"), states);
    assertEquals(List.of(), ws.subscribed);
  }

  @Test
  void providerThatThrowsOnOpen_isSkipped() {
    ScriptedChannel sse = new ScriptedChannel("sse");
    sse.state = Channel.State.OPEN;
    AutoChannel auto = new AutoChannel(CONFIG, List.of(provider("ws", null), provider("sse", sse)));
    assertEquals("sse", auto.transport());
    auto.subscribe("t", m -> { });
    assertEquals(List.of("t@null"), sse.subscribed);
  }

  @Test
  void refusedCredentials_areReported_notHiddenBehindAnotherTransport() {
    ScriptedChannel ws = new ScriptedChannel("ws");
    ScriptedChannel sse = new ScriptedChannel("sse");
    AutoChannel auto = new AutoChannel(CONFIG, List.of(provider("ws", ws), provider("sse", sse)));
    ws.move(Channel.State.CLOSED, new SwitchboardException(Status.UNAUTHENTICATED, "bad token"));
    assertEquals("ws", auto.transport());
    assertEquals(Channel.State.CLOSED, auto.state());
    assertEquals(List.of(), sse.listeners); // never opened
  }

  @Test
  void whenEveryTransportFails_waitingSubscribersAndSendsGetTheLastCause() {
    ScriptedChannel ws = new ScriptedChannel("ws");
    ScriptedChannel sse = new ScriptedChannel("sse");
    AutoChannel auto = new AutoChannel(CONFIG, List.of(provider("ws", ws), provider("sse", sse)));
    Errors errors = new Errors();
    auto.subscribe("t", null, errors);
    CompletableFuture<Message> send = auto.send(Message.text("t", "x")).toCompletableFuture();
    ws.move(Channel.State.CLOSED, new SwitchboardException(Status.UNAVAILABLE, "ws down"));
    SwitchboardException last = new SwitchboardException(Status.UNAVAILABLE, "sse down");
    sse.move(Channel.State.CLOSED, last);

    assertEquals(List.of(last), errors.errors);
    assertSame(last, assertThrows(CompletionException.class, send::join).getCause());
    assertEquals(Channel.State.CLOSED, auto.state());
    assertEquals("auto", auto.transport());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> auto.subscribe("t", m -> { }));
    assertEquals("no transport could connect", e.getMessage());
  }

  @Test
  void closedBeforeTheChoice_closesTheChosenChannel_andCancelledSubscriptionsAreNotReplayed() {
    ScriptedChannel ws = new ScriptedChannel("ws");
    AutoChannel auto = new AutoChannel(CONFIG, List.of(provider("ws", ws), provider("sse", new ScriptedChannel("sse"))));
    Subscription s = auto.subscribe("t", m -> { });
    s.close();
    assertFalse(s.isActive());
    auto.close();
    assertEquals(Channel.State.CLOSED, auto.state());
    assertThrows(IllegalStateException.class, () -> auto.subscribe("t", m -> { }));
    ws.move(Channel.State.OPEN, null);
    assertTrue(ws.closed);
    assertEquals(List.of(), ws.subscribed);
  }
}
