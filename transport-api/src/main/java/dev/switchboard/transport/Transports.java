package dev.switchboard.transport;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Opens client {@link Channel}s through the {@link TransportProvider}s found on the class path or
 * module path.
 *
 * <p>Thread-safe.
 */
public final class Transports {
  /** The order {@code auto} tries transports in. */
  public static final List<String> AUTO_ORDER = List.of("ws", "sse", "longpoll");

  private static final Map<String, String> ARTIFACTS = Map.of(
      "ws", "switchboard-transport-ws",
      "sse", "switchboard-transport-sse",
      "longpoll", "switchboard-transport-http",
      "grpc", "switchboard-transport-grpc");

  private Transports() {}

  /**
   * Opens a channel with the configured transport. With {@code auto}, the available transports of
   * {@link #AUTO_ORDER} are tried in order: one refused before it ever opened (a WebSocket upgrade
   * answered with 403 or 400, say) gives way to the next, and the choice is kept for reconnects.
   *
   * @throws IllegalArgumentException when no provider serves the named transport; the message names
   *     the artifact to add
   */
  public static Channel open(TransportConfig config) {
    if ("auto".equals(config.transport())) {
      List<TransportProvider> candidates = new ArrayList<>();
      List<TransportProvider> all = providers();
      for (String name : AUTO_ORDER) {
        all.stream().filter(p -> p.name().equals(name)).findFirst().ifPresent(candidates::add);
      }
      if (candidates.isEmpty()) {
        provider("auto"); // throws, naming the artifacts to add
      }
      return candidates.size() == 1 ? candidates.get(0).open(config) : new AutoChannel(config, candidates);
    }
    return provider(config.transport()).open(config);
  }

  /** Every available provider, highest priority first, then by class name. */
  public static List<TransportProvider> providers() {
    List<TransportProvider> found = new ArrayList<>();
    ServiceLoader<TransportProvider> loader =
        ServiceLoader.load(TransportProvider.class, TransportProvider.class.getClassLoader());
    for (var it = loader.iterator(); ; ) {
      try {
        if (!it.hasNext()) {
          break;
        }
        TransportProvider p = it.next();
        if (safeAvailable(p)) {
          found.add(p);
        }
      } catch (ServiceConfigurationError e) {
        // A broken provider must not hide the working ones.
        continue;
      }
    }
    found.sort(Comparator.comparingInt(TransportProvider::priority).reversed()
        .thenComparing(p -> p.getClass().getName()));
    return found;
  }

  /**
   * The provider for a transport name, or for {@code auto} the first available in
   * {@link #AUTO_ORDER}.
   *
   * @throws IllegalArgumentException when there is none, naming the artifact to add
   */
  public static TransportProvider provider(String name) {
    List<TransportProvider> all = providers();
    if ("auto".equals(name)) {
      for (String candidate : AUTO_ORDER) {
        for (TransportProvider p : all) {
          if (p.name().equals(candidate)) {
            return p;
          }
        }
      }
      throw new IllegalArgumentException("no provider for transport 'auto': add one of "
          + AUTO_ORDER.stream().map(n -> "dev.switchboard:" + ARTIFACTS.get(n))
              .collect(Collectors.joining(", ")));
    }
    for (TransportProvider p : all) {
      if (p.name().equals(name)) {
        return p;
      }
    }
    String artifact = ARTIFACTS.get(name);
    throw new IllegalArgumentException("no provider for transport '" + name + "': "
        + (artifact != null ? "add dev.switchboard:" + artifact
            : "known transports are " + ARTIFACTS.keySet() + " and auto")
        + " (available: " + all.stream().map(TransportProvider::name).collect(Collectors.toList())
        + ")");
  }

  private static boolean safeAvailable(TransportProvider p) {
    try {
      return p.isAvailable();
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }
}
