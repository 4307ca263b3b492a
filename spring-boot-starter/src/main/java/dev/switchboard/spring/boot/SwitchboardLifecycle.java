package dev.switchboard.spring.boot;

import dev.switchboard.hub.Hub;
import org.springframework.context.SmartLifecycle;

/**
 * Shuts the {@link Hub} down when the application context stops, before the web server's graceful
 * shutdown: SSE streams end, WebSocket sessions close with 1001 and waiting long polls are answered
 * 503 with {@code Retry-After}, so clients reconnect elsewhere and the container has no long-lived
 * request left to wait for (without this, Boot's graceful shutdown waits its whole timeout, 30 s by
 * default, for the open streams).
 *
 * <p>Boot stops lifecycles from the highest phase down; its graceful shutdown runs at
 * {@code SmartLifecycle.DEFAULT_PHASE - 1024} and the web server stops at {@code DEFAULT_PHASE - 2048}
 * (Boot 3.x and 4.0). This runs at {@link #PHASE}, above both.
 *
 * <p>Thread-safe.
 */
public class SwitchboardLifecycle implements SmartLifecycle {
  /** Above the web server's graceful shutdown ({@code DEFAULT_PHASE - 1024}), so stopped before it. */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 512;

  private final Hub hub;
  private volatile boolean running;

  /** A lifecycle for the hub; the hub runs from the moment it is built. */
  public SwitchboardLifecycle(Hub hub) {
    this.hub = hub;
  }

  @Override
  public void start() {
    running = true;
  }

  @Override
  public void stop() {
    running = false;
    hub.shutdown();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
