package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class BackoffTest {
  /** A clock tests move by hand. */
  static final class ManualClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private static RandomGenerator fixed(double value) {
    return new RandomGenerator() {
      @Override
      public long nextLong() {
        return 0;
      }

      @Override
      public double nextDouble() {
        return value;
      }
    };
  }

  @Test
  void ceiling_growsExponentiallyUpToTheCap() {
    Backoff b = Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1));
    assertEquals(Duration.ofMillis(100), b.ceiling(1));
    assertEquals(Duration.ofMillis(200), b.ceiling(2));
    assertEquals(Duration.ofMillis(800), b.ceiling(4));
    assertEquals(Duration.ofSeconds(1), b.ceiling(5));
    assertEquals(Duration.ofSeconds(1), b.ceiling(500));
  }

  @Test
  void fullJitter_scalesTheCeilingByTheRandomDraw() {
    Backoff b = Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1)).withRandom(fixed(0.5));
    assertEquals(Duration.ofMillis(200), b.delay(3));
    assertEquals(Duration.ofMillis(400), b.withJitter(false).delay(3));
  }

  @Test
  void retry_stopsAfterMaxAttempts_andResetStartsOver() {
    Backoff.Retry r = Backoff.exponential(Duration.ofMillis(10), Duration.ofMillis(10)).withMaxAttempts(2).start();
    assertTrue(r.next().isPresent());
    assertTrue(r.next().isPresent());
    assertEquals(Optional.empty(), r.next());
    r.reset();
    assertTrue(r.next().isPresent());
  }

  @Test
  void retry_stopsWhenTheNextWaitWouldPassMaxElapsed() {
    ManualClock clock = new ManualClock();
    Backoff.Retry r = Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(1)).withJitter(false)
        .withMaxElapsed(Duration.ofSeconds(10)).withClock(clock).start();
    assertEquals(Optional.of(Duration.ofSeconds(1)), r.next());
    clock.now = clock.now.plusSeconds(9);
    assertEquals(Optional.of(Duration.ofSeconds(1)), r.next());
    clock.now = clock.now.plusMillis(1);
    assertEquals(Optional.empty(), r.next());
  }

  @Test
  void serverHint_isHonouredWhenLongerThanTheComputedDelay() {
    Backoff.Retry r = Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1)).withRandom(fixed(0.0)).start();
    assertEquals(Optional.of(Duration.ofSeconds(5)), r.next(Duration.ofSeconds(5)));
    assertEquals(Optional.of(Duration.ZERO), r.next(null));
  }

  @Test
  void badSettings_failFastNamingTheValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Backoff.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    assertTrue(e.getMessage().contains("PT1S"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Backoff.exponential(Duration.ZERO, Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class,
        () -> Backoff.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)).withMultiplier(0.5));
    assertThrows(IllegalArgumentException.class,
        () -> Backoff.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)).withMaxAttempts(-1));
  }
}
