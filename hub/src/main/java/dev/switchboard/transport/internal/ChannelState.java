package dev.switchboard.transport.internal;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Channel.State;
import dev.switchboard.transport.SwitchboardException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A channel's state and its listeners: transitions are atomic, listeners are told once per change,
 * and none after CLOSED. Internal. Thread-safe.
 */
public final class ChannelState {
  private static final Logger log = LoggerFactory.getLogger(ChannelState.class);

  private final AtomicReference<State> state;
  private final List<Channel.StateListener> listeners = new CopyOnWriteArrayList<>();

  public ChannelState(State initial) {
    this.state = new AtomicReference<>(initial);
  }

  public State get() {
    return state.get();
  }

  public void addListener(Channel.StateListener l) {
    listeners.add(l);
  }

  /** Moves to {@code to} unless already there or CLOSED; tells the listeners. */
  public void set(State to, SwitchboardException cause) {
    State from;
    do {
      from = state.get();
      if (from == State.CLOSED || from == to) {
        return;
      }
    } while (!state.compareAndSet(from, to));
    notify(from, to, cause);
  }

  /** Moves from {@code from} to {@code to} only if it is in {@code from}; tells the listeners. */
  public void leave(State from, State to) {
    if (state.compareAndSet(from, to)) {
      notify(from, to, null);
    }
  }

  /**
   * Moves to CLOSED and tells the listeners, the last callback they get.
   *
   * @return false if it was already closed
   */
  public boolean close(SwitchboardException cause) {
    State from = state.getAndSet(State.CLOSED);
    if (from == State.CLOSED) {
      return false;
    }
    notify(from, State.CLOSED, cause);
    listeners.clear();
    return true;
  }

  private void notify(State from, State to, SwitchboardException cause) {
    for (Channel.StateListener l : listeners) {
      try {
        l.onStateChange(from, to, cause);
      } catch (RuntimeException e) {
        log.warn("state listener threw", e);
      }
    }
  }
}
