package dev.switchboard.transport;

/**
 * Service-provider interface for a client transport, discovered with {@link java.util.ServiceLoader}
 * (register in {@code module-info} with {@code provides} and in
 * {@code META-INF/services/dev.switchboard.transport.TransportProvider}).
 *
 * <p>Implementations must be thread-safe and have a public no-argument constructor.
 */
public interface TransportProvider {
  /** The transport name used in configuration: {@code ws}, {@code sse}, {@code longpoll}, {@code grpc}. */
  String name();

  /** Higher wins when two providers have the same name. */
  default int priority() {
    return 5;
  }

  /** Whether this provider can work in this runtime. Never throws. */
  default boolean isAvailable() {
    return true;
  }

  /**
   * Opens a channel. Does not block on the network.
   *
   * @throws IllegalArgumentException if the configuration does not suit this transport
   */
  Channel open(TransportConfig config);
}
