package dev.switchboard.hub;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.security.Principal;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The hub's publish rate limits: one token bucket per connection (held by the {@link Connection})
 * and one per principal, kept in a map bounded by entries.
 *
 * <p>Each bucket is one {@code long}, the GCRA "theoretical arrival time" of its next permit: taking
 * a permit is one compare-and-set, with no lock and no allocation. A bucket whose time has passed is
 * full, exactly like a new one, so dropping it loses nothing: such idle buckets are swept away
 * ({@link #sweepIdle}, from the hub's timer) and before any insert that would pass the bound. When
 * the map is still full, the least used eighth is forgotten (they start full again). Inserts are
 * serialised, so the map never holds more than {@code maxPrincipals} entries.
 *
 * <p>Thread-safe.
 */
final class RateLimiter {
  /** One client's bucket. */
  static final class Bucket {
    private static final VarHandle TAT;

    static {
      try {
        TAT = MethodHandles.lookup().findVarHandle(Bucket.class, "tat", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** When the bucket is full again (nanoTime); at or before now means full. */
    private volatile long tat;

    Bucket(long now) {
      this.tat = now;
    }

    /** Takes one permit: 0, or how many nanoseconds until one is available (nothing taken). */
    long tryAcquire(long now, long interval, long tolerance) {
      while (true) {
        long t = tat;
        long next = Math.max(t, now) + interval;
        long over = next - now - tolerance;
        if (over > 0) {
          return over;
        }
        if (TAT.compareAndSet(this, t, next)) {
          return 0;
        }
      }
    }

    /** Gives back a permit taken by {@link #tryAcquire} (another limit refused the publish). */
    void refund(long interval) {
      TAT.getAndAdd(this, -interval);
    }

    boolean isFull(long now) {
      return tat - now <= 0;
    }

    long fullAt() {
      return tat;
    }
  }

  /** The key of anonymous IPv4 clients: the dotted address (or a literal that would not parse). */
  private record AddressKey(String address) {}

  /** The key of anonymous IPv6 clients: their /64 prefix, which one host or site usually holds whole. */
  private record Ipv6Prefix(long high64) {}

  private final RateLimit perConnection;
  private final RateLimit perPrincipal;
  private final long connectionInterval;
  private final long connectionTolerance;
  private final long principalInterval;
  private final long principalTolerance;
  private final int maxPrincipals;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<Object, Bucket> principals = new ConcurrentHashMap<>();
  private final Object inserting = new Object();

  RateLimiter(RateLimit perConnection, RateLimit perPrincipal, int maxPrincipals, LongSupplier nanoTime) {
    this.perConnection = perConnection;
    this.perPrincipal = perPrincipal;
    this.connectionInterval = perConnection.isUnlimited() ? 0 : perConnection.intervalNanos();
    this.connectionTolerance = connectionInterval * perConnection.burst();
    this.principalInterval = perPrincipal.isUnlimited() ? 0 : perPrincipal.intervalNanos();
    this.principalTolerance = principalInterval * perPrincipal.burst();
    this.maxPrincipals = maxPrincipals;
    this.nanoTime = nanoTime;
  }

  RateLimit perConnection() {
    return perConnection;
  }

  RateLimit perPrincipal() {
    return perPrincipal;
  }

  long now() {
    return nanoTime.getAsLong();
  }

  /** A new connection's bucket, or null when connections are not limited. */
  Bucket newConnectionBucket() {
    return perConnection.isUnlimited() ? null : new Bucket(now());
  }

  long acquire(Bucket connection, long now) {
    return connection.tryAcquire(now, connectionInterval, connectionTolerance);
  }

  void refund(Bucket connection) {
    connection.refund(connectionInterval);
  }

  /** Takes a permit from the principal's bucket: 0, or nanoseconds until one is available. */
  long acquire(Object principalKey, long now) {
    return principalBucket(principalKey, now).tryAcquire(now, principalInterval, principalTolerance);
  }

  /**
   * What a principal's bucket is keyed by, or null when it has none: the principal's name; for
   * {@link Authenticator#ANONYMOUS}, the client's IP address (IPv6: its /64 prefix), so anonymous
   * clients do not share one bucket; an anonymous client whose address is unknown has none (the
   * per-connection limit still applies).
   */
  Object principalKey(Principal principal, InetSocketAddress remote) {
    if (perPrincipal.isUnlimited() || principal == null) {
      return null;
    }
    if (principal != Authenticator.ANONYMOUS) {
      return principal.getName();
    }
    if (remote == null) {
      return null;
    }
    InetAddress address = remote.getAddress();
    if (address == null) {
      // Unresolved: the literal a container reported. Only an IPv6 literal (with ':') is parsed,
      // which never asks DNS.
      String host = remote.getHostString();
      if (host.indexOf(':') < 0) {
        return new AddressKey(host);
      }
      try {
        address = InetAddress.getByName(host);
      } catch (UnknownHostException e) {
        return new AddressKey(host);
      }
    }
    if (address instanceof Inet6Address) {
      byte[] b = address.getAddress();
      long high = 0;
      for (int i = 0; i < 8; i++) {
        high = (high << 8) | (b[i] & 0xff);
      }
      return new Ipv6Prefix(high);
    }
    return new AddressKey(address.getHostAddress());
  }

  private Bucket principalBucket(Object key, long now) {
    Bucket b = principals.get(key);
    if (b != null) {
      return b;
    }
    synchronized (inserting) {
      b = principals.get(key);
      if (b == null) {
        if (principals.size() >= maxPrincipals) {
          evict(now);
        }
        b = new Bucket(now);
        principals.put(key, b);
      }
      return b;
    }
  }

  /** Called with {@link #inserting} held: makes room for at least an eighth of the bound. */
  private void evict(long now) {
    int target = maxPrincipals - Math.max(1, maxPrincipals / 8);
    principals.values().removeIf(b -> b.isFull(now));
    int excess = principals.size() - target;
    if (excess <= 0) {
      return;
    }
    // The buckets that will be full soonest are the least used: forget those first.
    long[] times = principals.values().stream().mapToLong(Bucket::fullAt).toArray();
    Arrays.sort(times);
    long cutoff = times[Math.min(excess, times.length) - 1];
    principals.values().removeIf(b -> b.fullAt() - cutoff <= 0);
  }

  /** Drops the principals' buckets that are full again (their clients have been quiet long enough). */
  void sweepIdle() {
    long now = now();
    principals.values().removeIf(b -> b.isFull(now));
  }

  /** Principals with a bucket held (for tests and metrics). */
  int trackedPrincipals() {
    return principals.size();
  }
}
