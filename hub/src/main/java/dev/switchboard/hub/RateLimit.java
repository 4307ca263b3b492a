package dev.switchboard.hub;

import java.time.Duration;
import java.util.Objects;

/**
 * A token-bucket rate: {@code permits} per {@code period} on average, and up to {@link #burst()} at
 * once after a quiet spell. Used for the hub's publish limits ({@link Hub.Builder#publishRatePerConnection},
 * {@link Hub.Builder#publishRatePerPrincipal}).
 *
 * <pre>{@code
 * RateLimit.perSecond(1_000).withBurst(2_000)      // 1,000/s, 2,000 at once
 * RateLimit.of(1, Duration.ofHours(1)).withBurst(5) // 5 at once, then one an hour
 * RateLimit.unlimited()
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class RateLimit {
  private static final RateLimit UNLIMITED = new RateLimit(0, Duration.ZERO, 0);
  /** Keeps burst × interval far from overflowing a long of nanoseconds. */
  private static final long MAX_TOLERANCE_NANOS = 1L << 60;

  private final long permits;
  private final Duration period;
  private final long burst;

  private RateLimit(long permits, Duration period, long burst) {
    this.permits = permits;
    this.period = period;
    this.burst = burst;
  }

  /**
   * {@code permits} per {@code period}, with a burst of {@code permits}.
   *
   * @throws IllegalArgumentException if {@code permits} is below 1, the period is not positive, or
   *     one permit would come more often than once a nanosecond
   */
  public static RateLimit of(long permits, Duration period) {
    Objects.requireNonNull(period, "period");
    if (permits < 1) {
      throw new IllegalArgumentException("permits must be >= 1: " + permits);
    }
    if (period.isNegative() || period.isZero() || period.compareTo(Duration.ofDays(365)) > 0) {
      throw new IllegalArgumentException("period must be positive and at most 365 days: " + period);
    }
    if (period.toNanos() / permits < 1) {
      throw new IllegalArgumentException("more than one permit per nanosecond: " + permits + " per " + period);
    }
    return new RateLimit(permits, period, permits).checked();
  }

  /** {@code permits} per second, with a burst of {@code permits}. */
  public static RateLimit perSecond(long permits) {
    return of(permits, Duration.ofSeconds(1));
  }

  /** No limit. */
  public static RateLimit unlimited() {
    return UNLIMITED;
  }

  /**
   * The same rate with another burst: how many permits a client that has been quiet long enough
   * may use at once.
   *
   * @throws IllegalArgumentException if {@code burst} is below 1 or too large for the rate
   * @throws IllegalStateException on {@link #unlimited()}
   */
  public RateLimit withBurst(long burst) {
    if (isUnlimited()) {
      throw new IllegalStateException("an unlimited rate has no burst");
    }
    if (burst < 1) {
      throw new IllegalArgumentException("burst must be >= 1: " + burst);
    }
    return new RateLimit(permits, period, burst).checked();
  }

  private RateLimit checked() {
    if (burst > MAX_TOLERANCE_NANOS / intervalNanos()) {
      throw new IllegalArgumentException("burst " + burst + " too large for " + this);
    }
    return this;
  }

  public boolean isUnlimited() {
    return permits == 0;
  }

  /** Permits per {@link #period()}; 0 when unlimited. */
  public long permits() {
    return permits;
  }

  /** The period of {@link #permits()}; zero when unlimited. */
  public Duration period() {
    return period;
  }

  /** Most permits usable at once; 0 when unlimited. */
  public long burst() {
    return burst;
  }

  /** Nanoseconds between two permits on average. */
  long intervalNanos() {
    return period.toNanos() / permits;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RateLimit r && r.permits == permits && r.period.equals(period) && r.burst == burst;
  }

  @Override
  public int hashCode() {
    return Objects.hash(permits, period, burst);
  }

  /** E.g. {@code 1000 per second, burst 2000}, {@code 1 per 3600 s, burst 5} or {@code unlimited}. */
  @Override
  public String toString() {
    if (isUnlimited()) {
      return "unlimited";
    }
    String per = period.equals(Duration.ofSeconds(1)) ? "second"
        : period.toNanos() % 1_000_000_000L == 0 ? period.toSeconds() + " s" : period.toMillis() + " ms";
    return permits + " per " + per + ", burst " + burst;
  }
}
