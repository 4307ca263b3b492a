package dev.switchboard.hub;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * The default connection limit, derived from the process's file-descriptor limit: every connection
 * holds a descriptor, and a container that runs out of them cannot even accept a connection to
 * refuse it (clients hang). So the hub refuses with 503 well before: the limit leaves a quarter of
 * the descriptors (at least 64) for the container's own sockets, requests in progress, brokers,
 * files and outbound webhooks.
 *
 * <p>Stateless and thread-safe.
 */
final class DescriptorLimit {
  /** The connection limit when the descriptor limit is unknown or very large. */
  static final int MAX_DEFAULT_CONNECTIONS = 100_000;

  private DescriptorLimit() {}

  /** The process's descriptor limit (soft limit), or -1 where the platform does not tell. */
  static long processLimit() {
    try {
      OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
      if (os instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
        return unix.getMaxFileDescriptorCount();
      }
    } catch (RuntimeException | LinkageError e) {
      // not a HotSpot-style JVM: no descriptor figures
    }
    return -1;
  }

  /** The default for {@link Hub.Builder#maxConnections(int)} given a descriptor limit (-1: unknown). */
  static int defaultMaxConnections(long descriptorLimit) {
    if (descriptorLimit <= 0) {
      return MAX_DEFAULT_CONNECTIONS;
    }
    long headroom = Math.max(64, descriptorLimit / 4);
    return (int) Math.max(1, Math.min(MAX_DEFAULT_CONNECTIONS, descriptorLimit - headroom));
  }
}
