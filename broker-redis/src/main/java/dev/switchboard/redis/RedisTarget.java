package dev.switchboard.redis;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Where Redis is: one server ({@code redis://}, {@code rediss://}) or a Redis Cluster
 * ({@code redis-cluster://host:port,host:port}, {@code rediss-cluster://} for TLS; any reachable
 * node is enough, the client discovers the others), and a client for it with the options every
 * Switchboard connection uses: commands fail fast while disconnected instead of queueing, and the
 * connections reconnect by themselves.
 */
final class RedisTarget {
  final boolean cluster;
  final List<RedisURI> uris;

  private RedisTarget(boolean cluster, List<RedisURI> uris) {
    this.cluster = cluster;
    this.uris = uris;
  }

  /**
   * Parses {@code uri}.
   *
   * @throws IllegalArgumentException naming what is wrong with it
   */
  static RedisTarget parse(String uri) {
    Objects.requireNonNull(uri, "uri");
    int colon = uri.indexOf("://");
    String scheme = colon < 0 ? "" : uri.substring(0, colon);
    if (!scheme.equals("redis-cluster") && !scheme.equals("rediss-cluster")) {
      try {
        return new RedisTarget(false, List.of(RedisURI.create(uri)));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("not a Redis URI (redis://host:port, rediss://, redis-cluster://host:port,host:port): "
            + uri + ": " + e.getMessage(), e);
      }
    }
    String rest = uri.substring(colon + 3);
    int slash = rest.indexOf('/');
    if (slash >= 0) {
      rest = rest.substring(0, slash); // a cluster has only database 0
    }
    int at = rest.lastIndexOf('@');
    String userInfo = at < 0 ? "" : rest.substring(0, at + 1);
    String nodeScheme = scheme.equals("rediss-cluster") ? "rediss://" : "redis://";
    List<RedisURI> nodes = new ArrayList<>();
    for (String hostPort : rest.substring(at + 1).split(",")) {
      if (hostPort.isBlank()) {
        continue;
      }
      try {
        nodes.add(RedisURI.create(nodeScheme + userInfo + hostPort.trim()));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("bad node '" + hostPort + "' in " + scheme + " URI: " + e.getMessage(), e);
      }
    }
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException(scheme + " URI names no node (" + scheme + "://host:port,host:port)");
    }
    return new RedisTarget(true, List.copyOf(nodes));
  }

  /** A client, its command connection, and the target it turned out to be. */
  record Connected<V>(RedisTarget target, AbstractRedisClient client, StatefulConnection<String, V> connection) {}

  /**
   * Makes a client and connects. A {@code redis://} URI that names a node of a Redis Cluster
   * ({@code INFO cluster} says {@code cluster_enabled:1}) is used as the cluster, so pointing at any
   * cluster node works as {@code redis-cluster://} would instead of failing on every key of another
   * slot. On failure the client is shut down and Lettuce's exception thrown.
   */
  <V> Connected<V> open(Duration commandTimeout, RedisCodec<String, V> codec) {
    AbstractRedisClient client = client(commandTimeout);
    StatefulConnection<String, V> c;
    try {
      c = connect(client, codec);
      if (cluster || !isClusterNode(c)) {
        return new Connected<>(this, client, c);
      }
      c.close();
    } catch (RuntimeException e) {
      shutdown(client);
      throw e;
    }
    shutdown(client);
    return new RedisTarget(true, uris).open(commandTimeout, codec);
  }

  private static boolean isClusterNode(StatefulConnection<String, ?> c) {
    try {
      return sync(c).info("cluster").contains("cluster_enabled:1");
    } catch (RuntimeException e) {
      return false; // INFO renamed or not allowed (ACL, managed Redis): take it for one server, as before
    }
  }

  /** {@code host:port[,host:port]} for messages (never the password). */
  String describe() {
    return uris.stream().map(u -> u.getHost() + ":" + u.getPort()).collect(Collectors.joining(","));
  }

  /**
   * {@code name} as a hash tag on a cluster, so every key and channel made from it lands on one slot
   * (one Lua script may touch them together); unchanged on one server, where key names stay as
   * they always were.
   */
  String tag(String name) {
    return cluster ? "{" + name + "}" : name;
  }

  /** A client whose commands time out after {@code commandTimeout} and fail fast while disconnected. */
  AbstractRedisClient client(Duration commandTimeout) {
    // Reconnect attempts back off to at most 1 s (Lettuce's default is 30 s), so a Redis or a
    // master that is back is used again within a second. Released by shutdown(client).
    ClientResources resources = DefaultClientResources.builder()
        .reconnectDelay(Delay.exponential(Duration.ofMillis(10), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
        .build();
    if (!cluster) {
      RedisClient c = RedisClient.create(resources, uris.get(0));
      c.setOptions(ClientOptions.builder()
          .protocolVersion(ProtocolVersion.RESP2)
          .autoReconnect(true)
          .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
          .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
          .build());
      return c;
    }
    RedisClusterClient c = RedisClusterClient.create(resources, uris);
    c.setOptions(ClusterClientOptions.builder()
        .protocolVersion(ProtocolVersion.RESP2)
        .autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
        // Follow failovers and resharding: refresh on MOVED/ASK and failed reconnects, and every 30 s.
        .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
            .enableAllAdaptiveRefreshTriggers()
            .enablePeriodicRefresh(Duration.ofSeconds(30))
            .build())
        .build());
    return c;
  }

  /** Shuts down a client made by {@link #client} and its resources. */
  static void shutdown(AbstractRedisClient client) {
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    client.getResources().shutdown(0, 2, TimeUnit.SECONDS);
  }

  static <V> StatefulConnection<String, V> connect(AbstractRedisClient client, RedisCodec<String, V> codec) {
    if (!(client instanceof RedisClusterClient)) {
      return ((RedisClient) client).connect(codec);
    }
    StatefulRedisClusterConnection<String, V> c = ((RedisClusterClient) client).connect(codec);
    try {
      for (RedisClusterNode node : c.getPartitions()) {
        if (node.is(RedisClusterNode.NodeFlag.UPSTREAM)) {
          c.getConnection(node.getUri().getHost(), node.getUri().getPort()); // opened now: see connectMasters
        }
      }
    } catch (RuntimeException e) {
      // A master that is down now: commands for its slots fail until it is back.
    }
    return c;
  }

  /**
   * Opens the connections of a cluster Pub/Sub connection to every master now. Lettuce opens a
   * master's connection when a command first needs it, and with commands rejected while
   * disconnected (so a publish to a master that is down fails at once) that first command would be
   * rejected; opened up front, they reconnect by themselves from then on.
   */
  static void connectMasters(StatefulRedisClusterPubSubConnection<String, ?> c) {
    try {
      for (RedisClusterNode node : c.getPartitions()) {
        if (node.is(RedisClusterNode.NodeFlag.UPSTREAM)) {
          c.getConnection(node.getUri().getHost(), node.getUri().getPort());
        }
      }
    } catch (RuntimeException e) {
      // A master that is down now: subscribing to its slots fails until it is back.
    }
  }

  @SuppressWarnings("unchecked")
  static <V> RedisClusterAsyncCommands<String, V> async(StatefulConnection<String, V> c) {
    return c instanceof StatefulRedisClusterConnection
        ? ((StatefulRedisClusterConnection<String, V>) c).async()
        : ((io.lettuce.core.api.StatefulRedisConnection<String, V>) c).async();
  }

  @SuppressWarnings("unchecked")
  static <V> RedisClusterCommands<String, V> sync(StatefulConnection<String, V> c) {
    return c instanceof StatefulRedisClusterConnection
        ? ((StatefulRedisClusterConnection<String, V>) c).sync()
        : ((io.lettuce.core.api.StatefulRedisConnection<String, V>) c).sync();
  }
}
