package dev.switchboard.redis;

import dev.switchboard.webhook.Delivery;
import dev.switchboard.webhook.DeliveryStore;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The webhook module's {@link DeliveryStore} on Redis: one queue shared by several sender nodes.
 * Pending deliveries are a sorted set by due time per endpoint plus a hash of their contents (and one
 * of their endpoints, so a delivery can be removed by id); {@link #due} hands
 * each due delivery to one node by moving its due time a <em>lease</em> into the future (atomically,
 * in a Lua script), so other nodes skip it while it is attempted. The node then records the
 * outcome ({@code update}, {@code remove}, {@code deadLetter}); if it crashes instead, the lease runs
 * out and another node takes the delivery over. A delivery whose attempt outlives the lease may be
 * sent twice, so receivers deduplicate by {@code webhook-id} (as {@code WebhookFilter} does).
 *
 * <p>On a Redis Cluster ({@code redis-cluster://host:port,host:port}) every key of the queue carries
 * one hash tag ({@code {<prefix>webhook}}), so the scripts that move a delivery between them run on
 * one master: the queue is not spread over the cluster, it just works on one.
 *
 * <p>Thread-safe. Redis errors surface as Lettuce's runtime exceptions.
 */
public final class RedisDeliveryStore implements DeliveryStore, AutoCloseable {
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /** KEYS: endpoint's pending zset, contents hash. ARGV: now ms, max, lease ms. Returns leased contents. */
  private static final String DUE = String.join("\n",
      "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))",
      "local out = {}",
      "for _, id in ipairs(ids) do",
      "  local v = redis.call('HGET', KEYS[2], id)",
      "  if v then",
      "    redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[3]), id)",
      "    table.insert(out, v)",
      "  else",
      "    redis.call('ZREM', KEYS[1], id)",
      "  end",
      "end",
      "return out");

  /** KEYS: endpoint's pending zset, contents hash, endpoint-of hash. ARGV: id, due ms, contents, endpoint. */
  private static final String ADD = String.join("\n",
      "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])",
      "redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])",
      "redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])",
      "return 1");

  /** KEYS: endpoint's pending zset, contents hash. ARGV: id, due ms, contents. Updates only a pending one. */
  private static final String UPDATE = String.join("\n",
      "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end",
      "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])",
      "redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])",
      "return 1");

  /** KEYS: endpoint's pending zset, contents hash, endpoint-of hash. ARGV: id. */
  private static final String REMOVE = String.join("\n",
      "redis.call('ZREM', KEYS[1], ARGV[1])",
      "redis.call('HDEL', KEYS[2], ARGV[1])",
      "redis.call('HDEL', KEYS[3], ARGV[1])",
      "return 1");

  /**
   * KEYS: endpoint's pending zset, contents hash, endpoint-of hash, dead hash, dead order zset.
   * ARGV: id, now ms, contents.
   */
  private static final String DEAD_LETTER = String.join("\n",
      "redis.call('ZREM', KEYS[1], ARGV[1])",
      "redis.call('HDEL', KEYS[2], ARGV[1])",
      "redis.call('HDEL', KEYS[3], ARGV[1])",
      "redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])",
      "redis.call('ZADD', KEYS[5], tonumber(ARGV[2]), ARGV[1])",
      "return 1");

  /** KEYS: dead hash, dead order zset. ARGV: id. Returns the contents, or nil. */
  private static final String TAKE_DEAD = String.join("\n",
      "local v = redis.call('HGET', KEYS[1], ARGV[1])",
      "if v then",
      "  redis.call('HDEL', KEYS[1], ARGV[1])",
      "  redis.call('ZREM', KEYS[2], ARGV[1])",
      "end",
      "return v");

  private final AbstractRedisClient client;
  private final StatefulConnection<String, byte[]> connection;
  private final RedisClusterCommands<String, byte[]> redis;
  private final String pendingPrefix;
  private final String contents;
  private final String endpointOf;
  private final String dead;
  private final String deadOrder;
  private final Duration lease;

  private RedisDeliveryStore(String uri, String keyPrefix, Duration lease) {
    Objects.requireNonNull(keyPrefix, "keyPrefix");
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive: " + lease);
    }
    this.lease = lease;
    RedisTarget.Connected<byte[]> c = RedisTarget.parse(uri).open(Duration.ofSeconds(5), CODEC);
    this.client = c.client();
    this.connection = c.connection();
    this.redis = RedisTarget.sync(connection);
    String base = c.target().cluster ? "{" + keyPrefix + "webhook}:" : keyPrefix + "webhook:";
    this.pendingPrefix = base + "pending:";
    this.contents = base + "deliveries";
    this.endpointOf = base + "endpoint-of";
    this.dead = base + "dead";
    this.deadOrder = base + "dead-order";
  }

  /**
   * A store on the Redis at {@code uri} ({@code redis://host:port}, or {@code redis-cluster://host:port,host:port}
   * for a Redis Cluster), keys under {@code keyPrefix}. A node that took a delivery holds it for
   * {@code lease} (longer than the sender's attempt timeout; e.g. 1 minute).
   *
   * @throws IllegalArgumentException when {@code uri} is not a Redis URI or {@code lease} is not positive
   */
  public static RedisDeliveryStore create(String uri, String keyPrefix, Duration lease) {
    return new RedisDeliveryStore(uri, keyPrefix, lease);
  }

  @Override
  public void add(Delivery d) {
    redis.eval(ADD, ScriptOutputType.INTEGER, new String[] {pending(d.endpointId()), contents, endpointOf},
        bytes(d.id()), bytes(Long.toString(d.nextAttempt().toEpochMilli())), encode(d), bytes(d.endpointId()));
  }

  @Override
  public List<Delivery> due(String endpointId, Instant now, int max) {
    if (max <= 0) {
      return List.of();
    }
    List<byte[]> leased = redis.eval(DUE, ScriptOutputType.MULTI, new String[] {pending(endpointId), contents},
        bytes(Long.toString(now.toEpochMilli())), bytes(Integer.toString(max)),
        bytes(Long.toString(lease.toMillis())));
    List<Delivery> out = new ArrayList<>(leased.size());
    for (byte[] b : leased) {
      out.add(decode(b));
    }
    return out;
  }

  /** Ends this node's lease early: the delivery is due again for any node. */
  @Override
  public void release(Delivery d) {
    redis.zadd(pending(d.endpointId()), io.lettuce.core.ZAddArgs.Builder.xx(), (double) d.nextAttempt().toEpochMilli(),
        bytes(d.id()));
  }

  @Override
  public void update(Delivery d) {
    redis.eval(UPDATE, ScriptOutputType.INTEGER, new String[] {pending(d.endpointId()), contents},
        bytes(d.id()), bytes(Long.toString(d.nextAttempt().toEpochMilli())), encode(d));
  }

  @Override
  public void remove(String id) {
    byte[] endpoint = redis.hget(endpointOf, id);
    if (endpoint != null) {
      redis.eval(REMOVE, ScriptOutputType.INTEGER,
          new String[] {pending(new String(endpoint, StandardCharsets.UTF_8)), contents, endpointOf}, bytes(id));
    }
  }

  @Override
  public void deadLetter(Delivery d) {
    redis.eval(DEAD_LETTER, ScriptOutputType.INTEGER,
        new String[] {pending(d.endpointId()), contents, endpointOf, dead, deadOrder},
        bytes(d.id()), bytes(Long.toString(System.currentTimeMillis())), encode(d));
  }

  @Override
  public List<Delivery> deadLetters() {
    List<byte[]> ids = redis.zrange(deadOrder, 0, -1);
    List<Delivery> out = new ArrayList<>();
    for (byte[] id : ids) {
      byte[] v = redis.hget(dead, new String(id, StandardCharsets.UTF_8));
      if (v != null) {
        out.add(decode(v));
      }
    }
    return out;
  }

  @Override
  public Optional<Delivery> takeDeadLetter(String id) {
    byte[] v = redis.eval(TAKE_DEAD, ScriptOutputType.VALUE, new String[] {dead, deadOrder}, bytes(id));
    return Optional.ofNullable(v).map(RedisDeliveryStore::decode);
  }

  @Override
  public int pendingCount() {
    return Math.toIntExact(redis.hlen(contents));
  }

  @Override
  public void close() {
    connection.close();
    RedisTarget.shutdown(client);
  }

  private String pending(String endpointId) {
    return pendingPrefix + endpointId;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] encode(Delivery d) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(d.body().length + 128);
    try (DataOutputStream out = new DataOutputStream(buf)) {
      out.writeByte(1);
      out.writeUTF(d.id());
      out.writeUTF(d.endpointId());
      out.writeUTF(d.url().toString());
      out.writeInt(d.body().length);
      out.write(d.body());
      writeNullable(out, d.contentType());
      out.writeLong(d.created().getEpochSecond());
      out.writeInt(d.created().getNano());
      out.writeInt(d.attempts());
      out.writeLong(d.nextAttempt().getEpochSecond());
      out.writeInt(d.nextAttempt().getNano());
      writeNullable(out, d.lastError() == null ? null
          : d.lastError().length() > 2000 ? d.lastError().substring(0, 2000) : d.lastError());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buf.toByteArray();
  }

  static Delivery decode(byte[] b) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
      int version = in.readUnsignedByte();
      if (version != 1) {
        throw new IllegalStateException("unknown delivery encoding version " + version);
      }
      String id = in.readUTF();
      String endpointId = in.readUTF();
      URI url = URI.create(in.readUTF());
      byte[] body = new byte[in.readInt()];
      in.readFully(body);
      String contentType = readNullable(in);
      Instant created = Instant.ofEpochSecond(in.readLong(), in.readInt());
      int attempts = in.readInt();
      Instant next = Instant.ofEpochSecond(in.readLong(), in.readInt());
      String lastError = readNullable(in);
      return new Delivery(id, endpointId, url, body, contentType, created, attempts, next, lastError);
    } catch (IOException e) {
      throw new UncheckedIOException("a stored delivery could not be read", e);
    }
  }

  private static void writeNullable(DataOutputStream out, String s) throws IOException {
    out.writeBoolean(s != null);
    if (s != null) {
      out.writeUTF(s);
    }
  }

  private static String readNullable(DataInputStream in) throws IOException {
    return in.readBoolean() ? in.readUTF() : null;
  }
}
