package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.Principal;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The token buckets and the bounded map of principals' buckets, on a clock the test moves. */
class RateLimiterTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  private final AtomicLong clock = new AtomicLong(1_000 * SECOND);

  private RateLimiter limiter(RateLimit perConnection, RateLimit perPrincipal, int maxPrincipals) {
    return new RateLimiter(perConnection, perPrincipal, maxPrincipals, clock::get);
  }

  @Test
  void bucket_allowsTheBurstThenOnePermitPerInterval() {
    RateLimiter l = limiter(RateLimit.perSecond(10).withBurst(5), RateLimit.unlimited(), 10);
    RateLimiter.Bucket b = l.newConnectionBucket();
    for (int i = 0; i < 5; i++) {
      assertEquals(0, l.acquire(b, clock.get()), "permit " + i);
    }
    long wait = l.acquire(b, clock.get());
    assertEquals(SECOND / 10, wait, "the next permit comes one interval later");
    assertTrue(l.acquire(b, clock.get()) > 0, "a refusal takes nothing");
    clock.addAndGet(SECOND / 10);
    assertEquals(0, l.acquire(b, clock.get()));
    assertTrue(l.acquire(b, clock.get()) > 0);
    clock.addAndGet(10 * SECOND); // quiet for long: full again, but never more than the burst
    for (int i = 0; i < 5; i++) {
      assertEquals(0, l.acquire(b, clock.get()));
    }
    assertTrue(l.acquire(b, clock.get()) > 0);
  }

  @Test
  void refund_givesBackTheLastPermit() {
    RateLimiter l = limiter(RateLimit.of(1, Duration.ofHours(1)).withBurst(2), RateLimit.unlimited(), 10);
    RateLimiter.Bucket b = l.newConnectionBucket();
    assertEquals(0, l.acquire(b, clock.get()));
    assertEquals(0, l.acquire(b, clock.get()));
    assertTrue(l.acquire(b, clock.get()) > 0);
    l.refund(b);
    assertEquals(0, l.acquire(b, clock.get()));
  }

  @Test
  void principals_areBoundedByEntriesAndIdleOnesAreSwept() {
    int max = 16;
    RateLimiter l = limiter(RateLimit.unlimited(), RateLimit.of(1, Duration.ofHours(1)).withBurst(3), max);
    for (int i = 0; i < 1_000; i++) {
      assertEquals(0, l.acquire("user-" + i, clock.get()), "a new principal starts with a full bucket");
      assertTrue(l.trackedPrincipals() <= max, "tracked " + l.trackedPrincipals() + " after " + i);
      clock.addAndGet(1);
    }
    assertTrue(l.trackedPrincipals() > max / 2, "eviction keeps most of the recent ones");
    // The most recent principal survived the evictions: its used permit still counts.
    assertEquals(0, l.acquire("user-999", clock.get()));
    assertEquals(0, l.acquire("user-999", clock.get()));
    assertTrue(l.acquire("user-999", clock.get()) > 0);

    clock.addAndGet(TimeUnit.HOURS.toNanos(4)); // every bucket full again: nothing to keep
    l.sweepIdle();
    assertEquals(0, l.trackedPrincipals());
  }

  @Test
  void principals_evictIdleBucketsBeforeActiveOnes() {
    RateLimiter l = limiter(RateLimit.unlimited(), RateLimit.perSecond(1).withBurst(10), 4);
    for (int i = 0; i < 10; i++) {
      l.acquire("busy", clock.get()); // its bucket is empty: full only in 10 s
    }
    l.acquire("a", clock.get());
    l.acquire("b", clock.get());
    l.acquire("c", clock.get());
    clock.addAndGet(2 * SECOND); // a, b and c (one permit used each) are full again; busy is not
    l.acquire("d", clock.get());
    assertTrue(l.trackedPrincipals() <= 4);
    // Kept, the busy bucket has refilled 2 permits in those 2 s; a new one would have 10.
    assertEquals(0, l.acquire("busy", clock.get()));
    assertEquals(0, l.acquire("busy", clock.get()));
    assertTrue(l.acquire("busy", clock.get()) > 0, "the busy principal's bucket was kept: still limited");
  }

  @Test
  void principalKey_isTheNameOrForAnonymousTheAddress() throws Exception {
    RateLimiter l = limiter(RateLimit.unlimited(), RateLimit.perSecond(1), 10);
    Principal alice = () -> "alice";
    assertEquals("alice", l.principalKey(alice, null));
    assertEquals(l.principalKey(alice, null), l.principalKey(() -> "alice", new InetSocketAddress("127.0.0.1", 1)));
    assertNull(l.principalKey(Authenticator.ANONYMOUS, null), "anonymous with no address: per connection only");
    Object unresolved = l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("10.1.2.3", 5));
    Object resolved = l.principalKey(Authenticator.ANONYMOUS,
        new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 6));
    assertEquals(unresolved, resolved, "the same client on any transport has one bucket");
    assertNotEquals(unresolved, l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("10.1.2.4", 5)));
    assertNotEquals("10.1.2.3", unresolved, "never the same key as a principal with that name");
    assertEquals(l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("2001:db8:1:2::1", 1)),
        l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("2001:db8:1:2:ffff::9", 1)),
        "IPv6 clients are counted by /64");
    assertNotEquals(l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("2001:db8:1:2::1", 1)),
        l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("2001:db8:1:3::1", 1)));
    assertEquals(unresolved, l.principalKey(Authenticator.ANONYMOUS, InetSocketAddress.createUnresolved("::ffff:10.1.2.3", 1)),
        "an IPv4-mapped address is the IPv4 client");
    assertNull(limiter(RateLimit.unlimited(), RateLimit.unlimited(), 10).principalKey(alice, null));
  }

  @Test
  void rateLimit_refusesBadValues() {
    assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(0));
    assertThrows(IllegalArgumentException.class, () -> RateLimit.of(1, Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(1).withBurst(0));
    assertThrows(IllegalArgumentException.class, () -> RateLimit.of(1, Duration.ofDays(365)).withBurst(Long.MAX_VALUE / 2));
    assertThrows(IllegalStateException.class, () -> RateLimit.unlimited().withBurst(5));
    assertEquals("1000 per second, burst 2000", Hub.DEFAULT_PUBLISH_RATE_PER_CONNECTION.toString());
  }

  /** Through the hub: connections, principals, the refusal's fields, and the hub's own publishes. */
  @Test
  void hub_limitsEachConnectionAndEachPrincipal() {
    Hub hub = Hub.builder()
        .publishRatePerConnection(RateLimit.of(1, Duration.ofHours(1)).withBurst(3))
        .publishRatePerPrincipal(RateLimit.of(1, Duration.ofHours(1)).withBurst(5))
        .build();
    try {
      Principal alice = () -> "alice";
      Connection a1 = hub.connect(alice, "test", new HubTest.Sink());
      Connection a2 = hub.connect(alice, "test", new HubTest.Sink());
      Connection bob = hub.connect(() -> "bob", "test", new HubTest.Sink());
      for (int i = 0; i < 3; i++) {
        publish(a1, "a1-" + i);
      }
      SwitchboardException perConnection = refused(a1);
      assertTrue(perConnection.getMessage().contains("this connection"), perConnection.getMessage());
      publish(a2, "a2-0");
      publish(a2, "a2-1"); // alice's fifth: her principal's burst is spent
      SwitchboardException perPrincipal = refused(a2);
      assertTrue(perPrincipal.getMessage().contains("this principal"), perPrincipal.getMessage());
      assertEquals(2, hub.rateLimitedPublishes());
      for (int i = 0; i < 3; i++) {
        publish(bob, "bob-" + i); // another principal is unaffected
      }
      assertThrows(CompletionException.class,
          () -> hub.publish(alice, Message.text("t", "rest")).toCompletableFuture().join(),
          "her requests outside a connection share her bucket");
      for (int i = 0; i < 20; i++) {
        hub.publish(Message.text("t", "server " + i)).toCompletableFuture().join(); // the server itself: no limit
      }
      assertEquals(2, hub.rateLimitedPrincipalsTracked(), "alice and bob are tracked");
    } finally {
      hub.shutdown();
    }
  }

  private static void publish(Connection c, String text) {
    c.publish(Message.text("t", text)).toCompletableFuture().join();
  }

  private static SwitchboardException refused(Connection c) {
    CompletionException e = assertThrows(CompletionException.class,
        () -> c.publish(Message.text("t", "over")).toCompletableFuture().join());
    SwitchboardException s = SwitchboardException.from(e);
    assertEquals(Status.TOO_MANY_REQUESTS, s.status());
    assertEquals("too_many_requests", s.errorCode());
    assertTrue(s.retryAfter().orElseThrow().toSeconds() > 3000, "about an hour: " + s.retryAfter());
    assertFalse(c.isClosed(), "the connection stays open");
    return s;
  }
}
