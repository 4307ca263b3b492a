package dev.switchboard.transport;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter ({@code delay = random(0, min(cap, initial * multiplier^(n-1)))}),
 * optionally bounded by a number of attempts and by total elapsed time, and honouring a server's
 * hint ({@code Retry-After}, SSE {@code retry:}) when one is given.
 *
 * <p>Immutable and thread-safe; the per-operation state lives in a {@link Retry} from
 * {@link #start()}. Clock and randomness are injectable so tests need no sleeps.
 */
public final class Backoff {
  private final Duration initial;
  private final Duration max;
  private final double multiplier;
  private final boolean jitter;
  private final int maxAttempts;
  private final Duration maxElapsed;
  private final Clock clock;
  private final RandomGenerator random;

  private Backoff(Duration initial, Duration max, double multiplier, boolean jitter, int maxAttempts,
      Duration maxElapsed, Clock clock, RandomGenerator random) {
    this.initial = initial;
    this.max = max;
    this.multiplier = multiplier;
    this.jitter = jitter;
    this.maxAttempts = maxAttempts;
    this.maxElapsed = maxElapsed;
    this.clock = clock;
    this.random = random;
  }

  /**
   * Unbounded exponential backoff (multiplier 2, full jitter).
   *
   * @throws IllegalArgumentException if {@code initial} is not positive or {@code max < initial}
   */
  public static Backoff exponential(Duration initial, Duration max) {
    requirePositive(initial, "initial");
    if (max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("max (" + max + ") must be >= initial (" + initial + ")");
    }
    return new Backoff(initial, max, 2.0, true, 0, null, Clock.systemUTC(), null);
  }

  /** A schedule that always waits {@code delay}, without jitter. */
  public static Backoff fixed(Duration delay) {
    requireNonNegative(delay, "delay");
    return new Backoff(delay, delay, 1.0, false, 0, null, Clock.systemUTC(), null);
  }

  /** @throws IllegalArgumentException if {@code multiplier < 1} */
  public Backoff withMultiplier(double multiplier) {
    if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
      throw new IllegalArgumentException("multiplier must be >= 1: " + multiplier);
    }
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed, clock, random);
  }

  /** Full jitter on (default for exponential) or off. */
  public Backoff withJitter(boolean jitter) {
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed, clock, random);
  }

  /** Gives up after this many retries; 0 means no limit. */
  public Backoff withMaxAttempts(int maxAttempts) {
    if (maxAttempts < 0) {
      throw new IllegalArgumentException("maxAttempts must be >= 0: " + maxAttempts);
    }
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed, clock, random);
  }

  /** Gives up when the next wait would end later than this after {@link #start()}; null for no limit. */
  public Backoff withMaxElapsed(Duration maxElapsed) {
    if (maxElapsed != null) {
      requirePositive(maxElapsed, "maxElapsed");
    }
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed, clock, random);
  }

  public Backoff withClock(Clock clock) {
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed,
        Objects.requireNonNull(clock, "clock"), random);
  }

  /** Uses this generator for jitter (default: {@link ThreadLocalRandom}). */
  public Backoff withRandom(RandomGenerator random) {
    return new Backoff(initial, max, multiplier, jitter, maxAttempts, maxElapsed, clock,
        Objects.requireNonNull(random, "random"));
  }

  public Duration initial() {
    return initial;
  }

  public Duration max() {
    return max;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  /** The exponential ceiling for retry {@code attempt} (1-based), before jitter. */
  public Duration ceiling(int attempt) {
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be >= 1: " + attempt);
    }
    double nanos = initial.toNanos() * Math.pow(multiplier, attempt - 1);
    return nanos >= max.toNanos() ? max : Duration.ofNanos((long) nanos);
  }

  /** The delay before retry {@code attempt} (1-based): the ceiling, jittered if enabled. */
  public Duration delay(int attempt) {
    Duration ceiling = ceiling(attempt);
    if (!jitter || ceiling.isZero()) {
      return ceiling;
    }
    RandomGenerator r = random != null ? random : ThreadLocalRandom.current();
    return Duration.ofNanos((long) (r.nextDouble() * ceiling.toNanos()));
  }

  /** Starts tracking one operation's retries. */
  public Retry start() {
    return new Retry(clock.instant());
  }

  private static void requirePositive(Duration d, String name) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be a positive duration: " + d);
    }
  }

  private static void requireNonNegative(Duration d, String name) {
    if (d == null || d.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative: " + d);
    }
  }

  @Override
  public String toString() {
    return "Backoff{initial=" + initial + ", max=" + max + ", multiplier=" + multiplier
        + ", jitter=" + jitter + ", maxAttempts=" + maxAttempts + ", maxElapsed=" + maxElapsed + "}";
  }

  /**
   * The retry state of one operation. Not thread-safe: use it from one logical sequence of attempts.
   */
  public final class Retry {
    private Instant started;
    private int attempts;

    private Retry(Instant started) {
      this.started = started;
    }

    /** How many delays have been handed out since the start or the last {@link #reset()}. */
    public int attempts() {
      return attempts;
    }

    /** The next delay, or empty when the attempt or time budget is spent. */
    public Optional<Duration> next() {
      return next(null);
    }

    /**
     * The next delay honouring a server hint: the larger of the hint and the computed delay (the
     * hint alone is not capped: the server knows when it will be back). Empty when the budget is
     * spent.
     */
    public Optional<Duration> next(Duration serverHint) {
      if (maxAttempts > 0 && attempts >= maxAttempts) {
        return Optional.empty();
      }
      Duration d = delay(attempts + 1);
      if (serverHint != null && !serverHint.isNegative() && serverHint.compareTo(d) > 0) {
        d = serverHint;
      }
      if (maxElapsed != null) {
        Duration elapsed = Duration.between(started, clock.instant());
        if (elapsed.plus(d).compareTo(maxElapsed) > 0) {
          return Optional.empty();
        }
      }
      attempts++;
      return Optional.of(d);
    }

    /** Starts over (after a success). */
    public void reset() {
      attempts = 0;
      started = clock.instant();
    }
  }
}
