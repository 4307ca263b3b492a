package dev.switchboard.transport.internal;

import dev.switchboard.hub.Hub;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;

/**
 * What the transports need from a {@link Hub} but applications must not reach: its timer (which
 * anyone could shut down, or flood, if it were public). The JDK's {@code SharedSecrets} pattern:
 * {@code Hub} lends the accessor once, when its class initializes, which happens before any
 * {@code Hub} exists to be passed here. Only for Switchboard's own modules. Thread-safe.
 */
public final class HubAccess {
  private static volatile Function<Hub, ScheduledExecutorService> scheduler;

  private HubAccess() {}

  /**
   * Called once by {@code Hub}'s static initializer.
   *
   * @throws IllegalStateException on a second call
   */
  public static synchronized void lend(Function<Hub, ScheduledExecutorService> hubScheduler) {
    if (scheduler != null) {
      throw new IllegalStateException("the hub's accessor is already lent");
    }
    scheduler = Objects.requireNonNull(hubScheduler, "hubScheduler");
  }

  /**
   * The hub's shared timer thread, for heartbeats and timeouts: tasks must be short and
   * non-blocking, and it rejects tasks once the hub is shut down.
   */
  public static ScheduledExecutorService scheduler(Hub hub) {
    return scheduler.apply(Objects.requireNonNull(hub, "hub"));
  }
}
