package dev.switchboard.transport.internal;

import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** What every client channel shares: one reconnect/retry timer, and unwrapping async failures. Internal. */
public final class ClientSupport {
  /** Timer shared by all client channels; its tasks only start asynchronous work. */
  public static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "switchboard-client-timer");
    t.setDaemon(true);
    return t;
  });

  private ClientSupport() {}

  /** The cause inside CompletionExceptions. */
  public static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
