package dev.switchboard.transport.internal;

import dev.switchboard.transport.Message;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Encodes a value once per fan-out instead of once per subscriber: a fan-out hands the same instance
 * (a {@link Message}, or a transport's frame built from it) to every connection, so a small cache
 * keyed by identity serves them all. Values over 16 KiB are encoded each time, which bounds the cache
 * to about 4 MiB. Internal. Thread-safe (a racing miss encodes twice, harmlessly).
 *
 * @param <K> what is fanned out, compared by identity
 * @param <V> its encoded form
 */
public final class FanoutCache<K, V> {
  private static final int SLOTS = 256;
  /** Values larger than this (bytes) are not cached. */
  public static final int MAX_CACHED_SIZE = 16 * 1024;

  private record Entry<K, V>(K key, V value) {}

  private final AtomicReferenceArray<Entry<K, V>> slots = new AtomicReferenceArray<>(SLOTS);
  private final ToIntFunction<? super K> size;
  private final Function<? super K, V> encoder;

  /**
   * @param size a value's size in bytes, to leave large ones out of the cache
   * @param encoder encodes a value; called once per instance while it stays cached
   */
  public FanoutCache(ToIntFunction<? super K> size, Function<? super K, V> encoder) {
    this.size = size;
    this.encoder = encoder;
  }

  /** A cache of messages' encoded forms, sized by payload. */
  public static <V> FanoutCache<Message, V> ofMessages(Function<Message, V> encoder) {
    return new FanoutCache<>(Message::payloadSize, encoder);
  }

  /** The encoded form of {@code k}, from the cache when this very instance was encoded recently. */
  public V get(K k) {
    if (size.applyAsInt(k) > MAX_CACHED_SIZE) {
      return encoder.apply(k);
    }
    int slot = System.identityHashCode(k) & (SLOTS - 1);
    Entry<K, V> e = slots.get(slot);
    if (e != null && e.key == k) {
      return e.value;
    }
    V value = encoder.apply(k);
    slots.set(slot, new Entry<>(k, value));
    return value;
  }
}
