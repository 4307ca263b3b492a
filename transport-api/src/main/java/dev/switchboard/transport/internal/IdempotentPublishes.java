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
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * Publishes at most once per idempotency key: a retry with the same key and the same request gets
 * the first publish's stored message; the same key with a different request is UNPROCESSABLE (422);
 * a retry while the first is still being stored is a CONFLICT (409); a publish that failed forgets
 * its key so a retry runs again. Keys are scoped by principal and topic, bounded by count (oldest
 * forgotten first) and by age. Shared by the server transports. Thread-safe (one lock; O(1) steps).
 */
public final class IdempotentPublishes {
  /** What a publish came to: the stored message, and whether it is a replay of an earlier one. */
  public record Outcome(CompletionStage<Message> stored, boolean replayed) {}

  private static final class Entry {
    final String fingerprint;
    final Instant created;
    Message stored; // null while in flight; guarded by the cache

    Entry(String fingerprint, Instant created) {
      this.fingerprint = fingerprint;
      this.created = created;
    }
  }

  private final int maxKeys;
  private final Duration ttl;
  private final Clock clock;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

  public IdempotentPublishes(int maxKeys, Duration ttl, Clock clock) {
    if (maxKeys < 1 || ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("maxKeys must be >= 1 and ttl positive: " + maxKeys + ", " + ttl);
    }
    this.maxKeys = maxKeys;
    this.ttl = ttl;
    this.clock = clock;
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
      throw new SwitchboardException(Status.INVALID_ARGUMENT, "invalid_idempotency_key",
          "idempotency key must be 1-255 visible ASCII characters", null, null);
    }
    String scoped = principal.getName() + "\u0000" + draft.topic() + "\u0000" + key;
    String fingerprint = fingerprint(draft);
    synchronized (this) {
      Instant now = clock.instant();
      expire(now);
      Entry existing = entries.get(scoped);
      if (existing != null) {
        if (!existing.fingerprint.equals(fingerprint)) {
          throw new SwitchboardException(Status.UNPROCESSABLE, "idempotency_key_reused",
              "idempotency key '" + key + "' was already used with a different request", null, null);
        }
        if (existing.stored == null) {
          throw new SwitchboardException(Status.CONFLICT, "idempotency_key_in_flight",
              "a request with idempotency key '" + key + "' is still being processed; retry later",
              null, null);
        }
        return new Outcome(CompletableFuture.completedFuture(existing.stored), true);
      }
      entries.put(scoped, new Entry(fingerprint, now));
      while (entries.size() > maxKeys) {
        Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
        it.next();
        it.remove();
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
          entries.remove(scoped);
        } else {
          Entry e = entries.get(scoped);
          if (e != null) {
            e.stored = stored;
          }
        }
      }
    }), false);
  }

  /** Keys held now. */
  public synchronized int size() {
    return entries.size();
  }

  private void expire(Instant now) {
    Iterator<Entry> it = entries.values().iterator();
    while (it.hasNext()) {
      Entry e = it.next();
      if (Duration.between(e.created, now).compareTo(ttl) <= 0) {
        break; // insertion order: the rest are younger
      }
      it.remove();
    }
  }

  private static String fingerprint(Message m) {
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
      return Base64.getEncoder().encodeToString(d.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }
}
