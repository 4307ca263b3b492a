package dev.switchboard.bench;

import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.Session;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The WebSocket baseline: a minimal, correct Jakarta endpoint that broadcasts pre-encoded frames with
 * {@code getAsyncRemote()}, one send in flight per session (a per-session queue), and nothing else.
 */
public final class RawWsEndpoint extends Endpoint {
  static final Set<RawWsEndpoint> SESSIONS = ConcurrentHashMap.newKeySet();

  private final Queue<String> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger wip = new AtomicInteger();
  private volatile boolean inFlight;
  private volatile Session session;

  static void broadcast(String frame) {
    for (RawWsEndpoint e : SESSIONS) {
      e.queue.add(frame);
      e.drain();
    }
  }

  @Override
  public void onOpen(Session s, EndpointConfig config) {
    session = s;
    SESSIONS.add(this);
  }

  @Override
  public void onClose(Session s, jakarta.websocket.CloseReason reason) {
    SESSIONS.remove(this);
  }

  private void drain() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    do {
      if (!inFlight) {
        String next = queue.poll();
        if (next != null) {
          inFlight = true;
          session.getAsyncRemote().sendText(next, r -> {
            inFlight = false;
            if (r.isOK()) {
              drain();
            } else {
              SESSIONS.remove(this);
            }
          });
        }
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }
}
