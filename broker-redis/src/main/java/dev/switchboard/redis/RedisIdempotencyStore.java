package dev.switchboard.redis;

import dev.switchboard.webhook.IdempotencyStore;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.Objects;

/**
 * The webhook module's {@link IdempotencyStore} on Redis, shared by every node that receives
 * webhooks: {@code claim} is one {@code SET NX PX}, so when two nodes get the same delivery at once
 * exactly one of them processes it. Keys are {@code <prefix>webhook:seen:<key>}, value {@code p}
 * (processing) or {@code d} (done), expiring after the claim's ttl (renewed when marked done). On a
 * Redis Cluster ({@code redis-cluster://host:port,host:port}) each key lives on the master of its slot,
 * so the keys spread over the cluster.
 *
 * <p>Thread-safe. Redis errors surface as Lettuce's runtime exceptions, which the
 * {@code WebhookFilter} answers with a 5xx so the sender retries.
 */
public final class RedisIdempotencyStore implements IdempotencyStore, AutoCloseable {
  /** KEYS[1] key; ARGV[1] ttl ms. Returns 'claimed', or the current value ('p' or 'd'). */
  private static final String CLAIM = String.join("\n",
      "if redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'NX', 'PX', ARGV[1]) then return 'claimed' end",
      "local v = redis.call('GET', KEYS[1])",
      "if not v then",
      "  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[1])",
      "  return 'claimed'",
      "end",
      "return string.sub(v, 1, 1)");

  /** KEYS[1] key. Marks a claimed key done for the ttl it was claimed with. */
  private static final String COMPLETE = String.join("\n",
      "local v = redis.call('GET', KEYS[1])",
      "if v and string.sub(v, 1, 1) == 'p' then",
      "  redis.call('SET', KEYS[1], 'd', 'PX', string.sub(v, 3))",
      "end",
      "return 1");

  private final AbstractRedisClient client;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterCommands<String, String> redis;
  private final String prefix;

  private RedisIdempotencyStore(String uri, String keyPrefix) {
    this.prefix = Objects.requireNonNull(keyPrefix, "keyPrefix") + "webhook:seen:";
    RedisTarget.Connected<String> c = RedisTarget.parse(uri).open(Duration.ofSeconds(5), StringCodec.UTF8);
    this.client = c.client();
    this.connection = c.connection();
    this.redis = RedisTarget.sync(connection);
  }

  /**
   * A store on the Redis at {@code uri} ({@code redis://host:port}, or {@code redis-cluster://host:port,host:port}
   * for a Redis Cluster), keys under {@code keyPrefix} (e.g. {@code switchboard:}).
   *
   * @throws IllegalArgumentException when {@code uri} is not a Redis URI
   */
  public static RedisIdempotencyStore create(String uri, String keyPrefix) {
    return new RedisIdempotencyStore(uri, keyPrefix);
  }

  @Override
  public Claim claim(String key, Duration ttl) {
    String r = redis.eval(CLAIM, ScriptOutputType.VALUE, new String[] {prefix + key},
        Long.toString(Math.max(1, ttl.toMillis())));
    switch (r) {
      case "claimed": return Claim.CLAIMED;
      case "d": return Claim.DONE;
      default: return Claim.IN_PROGRESS;
    }
  }

  @Override
  public void complete(String key) {
    redis.eval(COMPLETE, ScriptOutputType.INTEGER, prefix + key);
  }

  @Override
  public void release(String key) {
    redis.del(prefix + key);
  }

  @Override
  public void close() {
    connection.close();
    RedisTarget.shutdown(client);
  }
}
