package dev.switchboard.transport.internal;

import dev.switchboard.transport.Message;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;

/**
 * Encodes a message once per fan-out instead of once per subscriber: a fan-out hands the same
 * {@link Message} instance to every connection, so a small cache keyed by identity serves them all.
 * Payloads over 16 KiB are encoded each time, which bounds the cache to about 4 MiB. Internal.
 * Thread-safe (a racing miss encodes twice, harmlessly).
 */
public final class FanoutCache<V> {
  private static final int SLOTS = 256;
  private static final int MAX_CACHED_PAYLOAD = 16 * 1024;

  private record Entry<V>(Message message, V value) {}

  private final AtomicReferenceArray<Entry<V>> slots = new AtomicReferenceArray<>(SLOTS);
  private final Function<Message, V> encoder;

  public FanoutCache(Function<Message, V> encoder) {
    this.encoder = encoder;
  }

  /** The encoded form of {@code m}, from the cache when this very instance was encoded recently. */
  public V get(Message m) {
    if (m.payloadSize() > MAX_CACHED_PAYLOAD) {
      return encoder.apply(m);
    }
    int slot = System.identityHashCode(m) & (SLOTS - 1);
    Entry<V> e = slots.get(slot);
    if (e != null && e.message == m) {
      return e.value;
    }
    V value = encoder.apply(m);
    slots.set(slot, new Entry<>(m, value));
    return value;
  }
}
