package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Hub;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The transports' route to the hub's timer, which applications cannot reach through the hub's API. */
class HubAccessTest {
  @Test
  void scheduler_isTheHubsOwnTimer_andEndsWithTheHub() throws Exception {
    Hub hub = Hub.builder().build();
    ScheduledExecutorService timer = HubAccess.scheduler(hub);
    ScheduledFuture<String> ran = timer.schedule(() -> Thread.currentThread().getName(), 1, TimeUnit.MILLISECONDS);
    assertTrue(ran.get(10, TimeUnit.SECONDS).startsWith("switchboard-hub"), "runs on the hub's timer thread");
    hub.shutdown();
    assertThrows(RejectedExecutionException.class, () -> timer.schedule(() -> { }, 1, TimeUnit.MILLISECONDS));
  }

  @Test
  void theAccessorIsLentOnce() {
    Hub.builder().build().shutdown(); // the hub class is initialised, so it has lent its accessor
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> HubAccess.lend(hub -> null));
    assertEquals("the hub's accessor is already lent", e.getMessage());
  }
}
