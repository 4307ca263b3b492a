package dev.switchboard.hub;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * Connection limits derived from the process's file-descriptor limit. Every connection holds a
 * descriptor, and a container that has run out of them cannot even accept a connection to refuse it:
 * clients hang, and the container logs accept failures. So the limits stack up below the descriptors
 * that are free (the limit less those open when asked, e.g. the class path's jars):
 *
 * <ul>
 *   <li>the hub refuses connections with 503 {@code too_many_connections} at
 *       {@link #defaultMaxConnections()}: the free descriptors less {@code max(64, limit / 4)};
 *   <li>the container stops accepting at {@link #containerMaxConnections()}: the free descriptors
 *       less {@code max(32, limit / 8)}. Between the two, refused clients still get their 503; above
 *       the container's limit, descriptors stay free for gRPC connections, brokers, files and outbound
 *       webhooks.
 * </ul>
 *
 * <p>Where the platform does not tell (not a Unix HotSpot-style JVM) the hub's default is 100,000 and
 * the container's is unlimited. Stateless and thread-safe.
 */
public final class DescriptorLimit {
  /** The hub's default connection limit when the descriptor limit is unknown or very large. */
  static final int MAX_DEFAULT_CONNECTIONS = 100_000;

  private DescriptorLimit() {}

  /** The process's descriptor limit (the soft limit the JVM runs with), or -1 where the platform does not tell. */
  public static long processLimit() {
    return query(true);
  }

  /** Descriptors the process has open now, or -1 where the platform does not tell. */
  public static long openDescriptors() {
    return query(false);
  }

  /**
   * The default for {@link Hub.Builder#maxConnections(int)} from the descriptors free now: the free
   * descriptors less {@code max(64, limit / 4)}, at least 1, at most 100,000.
   */
  public static int defaultMaxConnections() {
    return defaultMaxConnections(processLimit(), openDescriptors());
  }

  /**
   * How many connections a servlet container (Jetty's {@code NetworkConnectionLimit}, Tomcat's
   * {@code maxConnections}, Undertow's connection limit) should hold open at most, from the
   * descriptors free now: the free descriptors less {@code max(32, limit / 8)}, at least 1;
   * {@link Integer#MAX_VALUE} where the descriptor limit is unknown. It lies above the hub's default
   * limit, so clients past the hub's limit are still accepted and refused with 503, and below the
   * descriptor limit, so the container never fails to accept.
   */
  public static int containerMaxConnections() {
    return containerMaxConnections(processLimit(), openDescriptors());
  }

  static int defaultMaxConnections(long descriptorLimit, long openDescriptors) {
    if (descriptorLimit <= 0) {
      return MAX_DEFAULT_CONNECTIONS;
    }
    long free = descriptorLimit - Math.max(0, openDescriptors);
    return clamp(free - Math.max(64, descriptorLimit / 4), MAX_DEFAULT_CONNECTIONS);
  }

  static int containerMaxConnections(long descriptorLimit, long openDescriptors) {
    if (descriptorLimit <= 0) {
      return Integer.MAX_VALUE;
    }
    long free = descriptorLimit - Math.max(0, openDescriptors);
    return clamp(free - Math.max(32, descriptorLimit / 8), Integer.MAX_VALUE);
  }

  private static int clamp(long value, int max) {
    return (int) Math.max(1, Math.min(max, value));
  }

  private static long query(boolean limit) {
    try {
      OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
      if (os instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
        return limit ? unix.getMaxFileDescriptorCount() : unix.getOpenFileDescriptorCount();
      }
    } catch (RuntimeException | LinkageError e) {
      // not a HotSpot-style JVM: no descriptor figures
    } catch (InternalError e) {
      // counting needs a descriptor itself (it lists /proc/self/fd): none left right now
    }
    return -1;
  }
}
