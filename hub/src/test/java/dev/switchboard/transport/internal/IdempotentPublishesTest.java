package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.lang.management.ManagementFactory;
import java.security.Principal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class IdempotentPublishesTest {
  private static final Principal ALICE = () -> "alice";

  /** A clock the test moves by hand. */
  private static final class ManualClock extends Clock {
    Instant now = Instant.parse("2030-01-01T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** A publisher that stores like a broker would (id and time), counting its calls. */
  private static final class Store implements Function<Message, CompletionStage<Message>> {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public CompletionStage<Message> apply(Message draft) {
      int n = calls.incrementAndGet();
      return CompletableFuture.completedFuture(
          draft.toBuilder().id("e-" + n).time(Instant.parse("2030-01-01T00:00:00Z").plusSeconds(n)).build());
    }
  }

  private static Message draft(String topic, int payloadBytes) {
    return Message.builder(topic).event("update").header("x-trace", "t1")
        .payload(new byte[payloadBytes], "application/octet-stream").build();
  }

  private static long entryBytes(String principal, String topic, String key) {
    return IdempotentPublishes.ENTRY_OVERHEAD_BYTES + 2L * (principal.length() + topic.length() + key.length() + 2);
  }

  @Test
  void aRetry_getsTheStoredMessageBack_rebuiltFromTheRequest() {
    IdempotentPublishes cache = new IdempotentPublishes(10, Duration.ofHours(1), Clock.systemUTC());
    Store store = new Store();
    IdempotentPublishes.Outcome first = cache.publish(ALICE, draft("t", 100), "k1", store);
    assertFalse(first.replayed());
    Message stored = first.stored().toCompletableFuture().join();
    IdempotentPublishes.Outcome retry = cache.publish(ALICE, draft("t", 100), "k1", store);
    assertTrue(retry.replayed());
    assertEquals(stored, retry.stored().toCompletableFuture().join(), "same id, time, event, headers and payload");
    assertEquals(1, store.calls.get(), "published once");

    // Scoped by principal and topic: the same key elsewhere is another publish.
    cache.publish(() -> "bob", draft("t", 100), "k1", store);
    cache.publish(ALICE, draft("u", 100), "k1", store);
    assertEquals(3, store.calls.get());
  }

  @Test
  void theSameKeyWithAnotherRequest_is422_andAFailedPublishForgetsItsKey() {
    IdempotentPublishes cache = new IdempotentPublishes(10, Duration.ofHours(1), Clock.systemUTC());
    Store store = new Store();
    cache.publish(ALICE, draft("t", 100), "k", store);
    for (Message other : new Message[] {draft("t", 101), draft("t", 100).toBuilder().event("other").build(),
        draft("t", 100).toBuilder().header("x-trace", "t2").build(),
        draft("t", 100).toBuilder().contentType("application/x-other").build()}) {
      SwitchboardException e = assertThrows(SwitchboardException.class, () -> cache.publish(ALICE, other, "k", store));
      assertEquals(Status.UNPROCESSABLE, e.status());
      assertEquals("idempotency_key_reused", e.errorCode());
    }

    IdempotentPublishes.Outcome failed = cache.publish(ALICE, draft("t", 1), "f",
        d -> CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "down")));
    assertTrue(failed.stored().toCompletableFuture().isCompletedExceptionally());
    assertEquals(1, cache.size());
    assertEquals(entryBytes("alice", "t", "k"), cache.heldBytes());
    assertFalse(cache.publish(ALICE, draft("t", 1), "f", store).replayed(), "a retry after a failure runs again");
  }

  @Test
  void whileTheFirstIsInFlight_aRetryIs409() {
    IdempotentPublishes cache = new IdempotentPublishes(10, Duration.ofHours(1), Clock.systemUTC());
    CompletableFuture<Message> pending = new CompletableFuture<>();
    cache.publish(ALICE, draft("t", 1), "k", d -> pending);
    SwitchboardException e = assertThrows(SwitchboardException.class, () -> cache.publish(ALICE, draft("t", 1), "k", new Store()));
    assertEquals(Status.CONFLICT, e.status());
    pending.complete(draft("t", 1).toBuilder().id("e-9").time(Instant.EPOCH).build());
    assertEquals("e-9", cache.publish(ALICE, draft("t", 1), "k", new Store()).stored().toCompletableFuture().join().id());
  }

  @Test
  void boundedByKeys_andByBytes_oldestForgottenFirst() {
    long one = entryBytes("alice", "t", "k00");
    IdempotentPublishes cache = new IdempotentPublishes(1000, 5 * one, Duration.ofHours(1), Clock.systemUTC());
    Store store = new Store();
    for (int i = 0; i < 20; i++) {
      cache.publish(ALICE, draft("t", 10), String.format("k%02d", i), store);
    }
    assertEquals(5, cache.size());
    assertEquals(5 * one, cache.heldBytes());
    assertTrue(cache.publish(ALICE, draft("t", 10), "k19", store).replayed(), "the newest is remembered");
    assertFalse(cache.publish(ALICE, draft("t", 10), "k00", store).replayed(), "the oldest was forgotten");

    IdempotentPublishes byCount = new IdempotentPublishes(3, Long.MAX_VALUE, Duration.ofHours(1), Clock.systemUTC());
    for (int i = 0; i < 10; i++) {
      byCount.publish(ALICE, draft("t", 10), "k" + i, store);
    }
    assertEquals(3, byCount.size());
    assertEquals(3 * entryBytes("alice", "t", "k0"), byCount.heldBytes());
    assertTrue(byCount.publish(ALICE, draft("t", 10), "k9", store).replayed());
    assertFalse(byCount.publish(ALICE, draft("t", 10), "k6", store).replayed());
  }

  @Test
  void keysExpireAfterTheirTtl() {
    ManualClock clock = new ManualClock();
    IdempotentPublishes cache = new IdempotentPublishes(10, Duration.ofMinutes(10), clock);
    Store store = new Store();
    cache.publish(ALICE, draft("t", 10), "old", store);
    clock.now = clock.now.plus(Duration.ofMinutes(6));
    cache.publish(ALICE, draft("t", 10), "new", store);
    clock.now = clock.now.plus(Duration.ofMinutes(5));
    assertFalse(cache.publish(ALICE, draft("t", 10), "old", store).replayed(), "expired: publishes again");
    assertTrue(cache.publish(ALICE, draft("t", 10), "new", store).replayed());
    assertEquals(2, cache.size());
  }

  /** The cache keeps a digest and the id per key, never the payload: 1,000 keys of 64 KiB stay small. */
  @Test
  void payloadsAreNotKept() throws Exception {
    IdempotentPublishes cache = new IdempotentPublishes(100_000, Long.MAX_VALUE, Duration.ofHours(1), Clock.systemUTC());
    Store store = new Store();
    long before = usedHeapAfterGc();
    int n = 1000;
    for (int i = 0; i < n; i++) {
      cache.publish(ALICE, draft("t", 64 * 1024), "key-" + i, store).stored().toCompletableFuture().join();
    }
    long perKey = (usedHeapAfterGc() - before) / n;
    System.out.println("idempotency cache heap per key (64 KiB payloads): " + perKey + " bytes");
    assertEquals(n, cache.size());
    assertTrue(perKey < 1024, "bytes per key: " + perKey);
    assertTrue(cache.heldBytes() / n >= perKey, "the estimate covers the heap used");
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return best;
  }

  @Test
  void settings_failFast_andTheDefaultByteBoundFollowsTheHeap() {
    assertThrows(IllegalArgumentException.class, () -> new IdempotentPublishes(0, Duration.ofMinutes(1), Clock.systemUTC()));
    assertThrows(IllegalArgumentException.class, () -> new IdempotentPublishes(1, 0, Duration.ofMinutes(1), Clock.systemUTC()));
    assertThrows(IllegalArgumentException.class, () -> new IdempotentPublishes(1, Duration.ZERO, Clock.systemUTC()));
    assertEquals(Runtime.getRuntime().maxMemory() / 16, IdempotentPublishes.defaultMaxBytes());
    SwitchboardException bad = assertThrows(SwitchboardException.class,
        () -> new IdempotentPublishes(1, Duration.ofMinutes(1), Clock.systemUTC()).publish(ALICE, draft("t", 1), "a b", new Store()));
    assertEquals("invalid_idempotency_key", bad.errorCode());
  }
}
