package dev.switchboard.transport.internal;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.Principal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * Publishes at most once per idempotency key: a retry with the same key and the same request gets
 * the first publish's stored message; the same key with a different request is UNPROCESSABLE (422);
 * a retry while the first is still being stored is a CONFLICT (409); a publish that failed forgets
 * its key so a retry runs again. Keys are scoped by principal and topic.
 *
 * <p>Per key it keeps a SHA-256 digest of the request (content type, event, headers, payload) and
 * the stored id and time, never the payload: a replay rebuilds the stored message from the retried
 * request, which has the same digest. Bounded by age ({@code ttl}), by keys and by estimated bytes
 * (per key {@value #ENTRY_OVERHEAD_BYTES} bytes plus two per character of the scoped key); past a
 * bound the oldest keys are forgotten first, after which a retry publishes again.
 *
 * <p>Shared by the server transports. Thread-safe (one lock; O(1) steps).
 */
public final class IdempotentPublishes {
  /** Estimated bytes of one remembered key besides the key's characters. */
  public static final int ENTRY_OVERHEAD_BYTES = 320;

  /** What a publish came to: the stored message, and whether it is a replay of an earlier one. */
  public record Outcome(CompletionStage<Message> stored, boolean replayed) {}

  private static final class Entry {
    final byte[] digest;
    final Instant created;
    final long bytes;
    String id; // null while in flight; guarded by the cache
    Instant time; // guarded by the cache

    Entry(byte[] digest, Instant created, long bytes) {
      this.digest = digest;
      this.created = created;
      this.bytes = bytes;
    }
  }

  private final int maxKeys;
  private final long maxBytes;
  private final Duration ttl;
  private final Clock clock;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();
  private long bytes; // guarded by this

  /**
   * A cache bounded by {@code maxKeys} and by {@link #defaultMaxBytes()}.
   *
   * @throws IllegalArgumentException if {@code maxKeys < 1} or {@code ttl} is not positive
   */
  public IdempotentPublishes(int maxKeys, Duration ttl, Clock clock) {
    this(maxKeys, defaultMaxBytes(), ttl, clock);
  }

  /**
   * A cache bounded by {@code maxKeys} and {@code maxBytes} (estimated).
   *
   * @throws IllegalArgumentException if {@code maxKeys < 1}, {@code maxBytes < 1} or {@code ttl} is
   *     not positive
   */
  public IdempotentPublishes(int maxKeys, long maxBytes, Duration ttl, Clock clock) {
    if (maxKeys < 1 || maxBytes < 1 || ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("maxKeys and maxBytes must be >= 1 and ttl positive: " + maxKeys + ", "
          + maxBytes + ", " + ttl);
    }
    this.maxKeys = maxKeys;
    this.maxBytes = maxBytes;
    this.ttl = ttl;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * The default byte bound: a sixteenth of the maximum heap ({@link Runtime#maxMemory()}; 16 MiB under
   * {@code -Xmx256m}), or 64 MiB when the heap has no limit.
   */
  public static long defaultMaxBytes() {
    long max = Runtime.getRuntime().maxMemory();
    return max == Long.MAX_VALUE ? 64L << 20 : max / 16;
  }

  /**
   * Publishes {@code draft} with {@code publisher} unless {@code key} was already used.
   *
   * @throws SwitchboardException INVALID_ARGUMENT for a malformed key (not 1-255 visible ASCII
   *     characters), UNPROCESSABLE for a key used with another request, CONFLICT while in flight
   */
  public Outcome publish(Principal principal, Message draft, String key,
      Function<Message, CompletionStage<Message>> publisher) {
    if (key.isEmpty() || key.length() > 255 || !key.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "invalid_idempotency_key",
          "idempotency key must be 1-255 visible ASCII characters");
    }
    String scoped = principal.getName() + "\u0000" + draft.topic() + "\u0000" + key;
    byte[] digest = digest(draft);
    Entry mine;
    synchronized (this) {
      Instant now = clock.instant();
      expire(now);
      Entry existing = entries.get(scoped);
      if (existing != null) {
        if (!MessageDigest.isEqual(existing.digest, digest)) {
          throw SwitchboardException.of(Status.UNPROCESSABLE, "idempotency_key_reused",
              "idempotency key '" + key + "' was already used with a different request");
        }
        if (existing.id == null) {
          throw SwitchboardException.of(Status.CONFLICT, "idempotency_key_in_flight",
              "a request with idempotency key '" + key + "' is still being processed; retry later");
        }
        // Same digest: the retried request is the stored message but for its id and time.
        return new Outcome(CompletableFuture.completedFuture(
            draft.toBuilder().id(existing.id).time(existing.time).build()), true);
      }
      mine = new Entry(digest, now, ENTRY_OVERHEAD_BYTES + 2L * scoped.length());
      entries.put(scoped, mine);
      bytes += mine.bytes;
      Iterator<Entry> oldest = entries.values().iterator();
      while ((entries.size() > maxKeys || bytes > maxBytes) && oldest.hasNext()) {
        bytes -= oldest.next().bytes;
        oldest.remove();
      }
    }
    CompletionStage<Message> stage;
    try {
      stage = publisher.apply(draft);
    } catch (RuntimeException e) {
      stage = CompletableFuture.failedFuture(e);
    }
    return new Outcome(stage.whenComplete((stored, err) -> {
      synchronized (this) {
        if (err != null) {
          if (entries.remove(scoped, mine)) {
            bytes -= mine.bytes;
          }
        } else {
          mine.id = stored.id();
          mine.time = stored.time();
        }
      }
    }), false);
  }

  /** Keys held now. */
  public synchronized int size() {
    return entries.size();
  }

  /** Estimated bytes held now. */
  public synchronized long heldBytes() {
    return bytes;
  }

  private void expire(Instant now) {
    Iterator<Entry> it = entries.values().iterator();
    while (it.hasNext()) {
      Entry e = it.next();
      if (Duration.between(e.created, now).compareTo(ttl) <= 0) {
        break; // insertion order: the rest are younger
      }
      bytes -= e.bytes;
      it.remove();
    }
  }

  private static byte[] digest(Message m) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(m.contentType().getBytes(StandardCharsets.UTF_8));
      d.update((byte) 0);
      d.update(String.valueOf(m.event()).getBytes(StandardCharsets.UTF_8));
      d.update((byte) 0);
      new TreeMap<>(m.headers()).forEach((k, v) -> {
        d.update(k.getBytes(StandardCharsets.UTF_8));
        d.update((byte) 1);
        d.update(v.getBytes(StandardCharsets.UTF_8));
        d.update((byte) 0);
      });
      d.update(m.payload());
      return d.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }
}
