package dev.switchboard.webhook.subscriptions;

import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Endpoints and cursors in Redis, under one key prefix: {@code <prefix>ep:<id>} holds the endpoint's
 * JSON document (secrets included: protect the Redis like any credential store),
 * {@code <prefix>eps} the set of ids and {@code <prefix>cur:<id>} a hash topic → cursor. Lettuce
 * is an optional dependency of this module; add {@code io.lettuce:lettuce-core} to use this store.
 *
 * <p>Thread-safe (Lettuce connections are). Redis errors surface as Lettuce's runtime exceptions.
 */
public final class RedisEndpointStore implements EndpointStore {
  private final StatefulRedisConnection<String, String> connection;
  private final String prefix;

  /**
   * @param connection a connection the caller owns (and closes)
   * @param prefix the key prefix, e.g. {@code "switchboard:webhooks:"}
   */
  public RedisEndpointStore(StatefulRedisConnection<String, String> connection, String prefix) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.prefix = Objects.requireNonNull(prefix, "prefix");
  }

  private RedisCommands<String, String> cmd() {
    return connection.sync();
  }

  @Override
  public void save(Endpoint e) {
    RedisCommands<String, String> c = cmd();
    c.set(prefix + "ep:" + e.id(), EndpointJson.write(e));
    c.sadd(prefix + "eps", e.id());
  }

  @Override
  public Optional<Endpoint> get(String id) {
    String doc = cmd().get(prefix + "ep:" + id);
    return doc == null ? Optional.empty() : Optional.of(EndpointJson.read(doc));
  }

  @Override
  public List<Endpoint> list() {
    RedisCommands<String, String> c = cmd();
    List<String> ids = new ArrayList<>(c.smembers(prefix + "eps"));
    List<Endpoint> out = new ArrayList<>();
    for (int i = 0; i < ids.size(); i += 500) {
      String[] keys = ids.subList(i, Math.min(ids.size(), i + 500)).stream().map(id -> prefix + "ep:" + id)
          .toArray(String[]::new);
      c.mget(keys).forEach(kv -> {
        if (kv.hasValue()) {
          out.add(EndpointJson.read(kv.getValue()));
        }
      });
    }
    out.sort(Comparator.comparing(Endpoint::created).thenComparing(Endpoint::id));
    return out;
  }

  @Override
  public boolean delete(String id) {
    RedisCommands<String, String> c = cmd();
    c.srem(prefix + "eps", id);
    c.del(prefix + "cur:" + id);
    return c.del(prefix + "ep:" + id) > 0;
  }

  @Override
  public Map<String, String> cursors(String endpointId) {
    return new LinkedHashMap<>(cmd().hgetall(prefix + "cur:" + endpointId));
  }

  @Override
  public void saveCursors(String endpointId, Map<String, String> cursors) {
    if (!cursors.isEmpty()) {
      cmd().hset(prefix + "cur:" + endpointId, cursors);
    }
  }

  @Override
  public void deleteCursor(String endpointId, String topic) {
    cmd().hdel(prefix + "cur:" + endpointId, topic);
  }
}
