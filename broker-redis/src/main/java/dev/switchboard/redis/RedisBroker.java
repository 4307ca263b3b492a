package dev.switchboard.redis;

import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.StoredEnvelope;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Broker} over Redis, so several hubs share topics: each topic is a Redis Stream (the
 * history, bounded by count and optionally by age) and a Pub/Sub channel (the live fan-out between
 * nodes). A publish appends to the stream and publishes on the channel in one Lua script, so the id a
 * client sees is the stream entry's id, the same on every node, and no node can see a message that
 * is not stored. Each node keeps one connection for commands and one for subscriptions, subscribes
 * once per topic that has local listeners and unsubscribes when the last one leaves.
 *
 * <pre>{@code
 * Hub hub = Hub.builder().broker(RedisBroker.builder("redis://127.0.0.1:6379").build()).build();
 * }</pre>
 *
 * <p>Concurrent publishes are batched: one arriving while {@link Builder#maxBatchesInFlight} script
 * calls are out waits and goes with the others in the next call (up to {@link Builder#maxBatchSize}),
 * so publishers share round trips; a publish on a quiet broker goes out at once, alone.
 *
 * <p>On a Redis Cluster ({@code redis-cluster://host:port,host:port}, Redis 7.0 or later) each
 * topic is a hash tag, so its stream and its channel share a slot and topics spread over the
 * masters; live messages use sharded Pub/Sub ({@code SPUBLISH}/{@code SSUBSCRIBE}), so a message
 * travels only from its topic's master to the nodes subscribed there, and batches are per slot.
 *
 * <p>When Redis (or, on a cluster, the master of a topic's slot) is unreachable, {@link #publish}
 * fails fast with UNAVAILABLE (with a retry hint) and never reports success for a message it did
 * not store; the connections reconnect by themselves and re-subscribe their channels, and each
 * topic first delivers what it missed from its stream. Thread-safe.
 */
public final class RedisBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(RedisBroker.class);
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /**
   * Publishes a batch. KEYS[i] the stream of message i (on a cluster all in one slot); ARGV: max
   * length (0 = none), exact (1/0), max age ms (0 = none), then for each message its channel and its
   * envelope. Returns the ids, in order. Each entry also records the id before it ({@code p}), so a
   * resume can tell exactly whether anything between the client's id and the oldest retained entry
   * was trimmed. {@code PUBLISH} is {@code SPUBLISH} (sharded Pub/Sub) on a cluster.
   */
  private static final String PUBLISH = String.join("\n",
      "local maxlen, exact, age = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])",
      "local prevs, ids = {}, {}",
      "for i = 1, #KEYS do",
      "  local key = KEYS[i]",
      "  local prev = prevs[key]",
      "  if prev == nil then",
      "    local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)",
      "    prev = ''",
      "    if #newest > 0 then prev = newest[1][1] end",
      "  end",
      "  local env = ARGV[3 + 2 * i]",
      "  local id",
      "  if maxlen > 0 then",
      "    if exact then",
      "      id = redis.call('XADD', key, 'MAXLEN', ARGV[1], '*', 'm', env, 'p', prev)",
      "    else",
      "      id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', 'm', env, 'p', prev)",
      "    end",
      "  else",
      "    id = redis.call('XADD', key, '*', 'm', env, 'p', prev)",
      "  end",
      "  prevs[key] = id",
      "  ids[i] = id",
      "  redis.call('PUBLISH', ARGV[2 + 2 * i], id .. '\\n' .. env)",
      "end",
      "if age > 0 then",
      "  local t = redis.call('TIME')",
      "  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age",
      "  if minid > 0 then",
      "    for key in pairs(prevs) do redis.call('XTRIM', key, 'MINID', '~', string.format('%d', minid)) end",
      "  end",
      "end",
      "return ids");

  /**
   * KEYS[1] stream; ARGV: after id ('' for the oldest), limit. Returns {0} when the stream does not
   * exist, else {1, recovered, last-generated-id, entries}. A resume after an id is a gap when the id
   * was never issued, or when the oldest retained entry's predecessor ({@code p}) is newer than it
   * (something between them was trimmed).
   */
  private static final String HISTORY = String.join("\n",
      "if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end",
      "local info = redis.call('XINFO', 'STREAM', KEYS[1])",
      "local lastGen = '0-0'",
      "for i = 1, #info, 2 do",
      "  if info[i] == 'last-generated-id' then lastGen = info[i + 1] end",
      "end",
      "local function parse(id)",
      "  local a, b = string.match(id, '^(%d+)-(%d+)$')",
      "  return tonumber(a), tonumber(b)",
      "end",
      "local function lt(x, y)",
      "  local xm, xs = parse(x)",
      "  local ym, ys = parse(y)",
      "  if xm ~= ym then return xm < ym end",
      "  return xs < ys",
      "end",
      "local recovered, start = 1, '-'",
      "local after = ARGV[1]",
      "if after ~= '' then",
      "  local gap = lt(lastGen, after)",
      "  if not gap then",
      "    local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)",
      "    if #oldest > 0 then",
      "      local f = oldest[1][2]",
      "      for i = 1, #f, 2 do",
      "        if f[i] == 'p' and f[i + 1] ~= '' and lt(after, f[i + 1]) then gap = true end",
      "      end",
      "    end",
      "  end",
      "  if gap then recovered = 0 else start = '(' .. after end",
      "end",
      "local limit = tonumber(ARGV[2])",
      "local entries = {}",
      "if limit > 0 then entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', limit) end",
      "return {1, recovered, lastGen, entries}");

  private final RedisTarget target;
  private final AbstractRedisClient client;
  private final StatefulConnection<String, byte[]> connection;
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final StatefulRedisPubSubConnection<String, byte[]> pubsub;
  private final ExecutorService callbacks;
  private final String keyPrefix;
  private final String publishScript;
  private final long maxLength;
  private final boolean exactTrimming;
  private final Duration maxAge;
  private final Duration commandTimeout;
  private final int maxBatchSize;
  private final int maxBatchesInFlight;
  private final long maxQueuedPublishBytes;
  private final Clock clock;
  private final Map<String, TopicListeners> topics = new ConcurrentHashMap<>();
  private final Map<String, String> scriptShas = new ConcurrentHashMap<>();
  private final ArrayDeque<PendingPublish> queue = new ArrayDeque<>(); // guarded by itself
  private final Object sendLock = new Object(); // held while a batch is taken from the queue and sent
  /** Drains for Netty threads, which must never hand Lettuce a publish themselves (see {@link #drain}). */
  private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "switchboard-redis-sender");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean senderDrainQueued = new AtomicBoolean();
  private int batchesInFlight; // guarded by queue
  private final AtomicLong queuedBytes = new AtomicLong();
  private volatile boolean closed;

  private RedisBroker(Builder b) {
    this.keyPrefix = b.keyPrefix;
    this.maxLength = b.maxLength;
    this.exactTrimming = b.exactTrimming;
    this.maxAge = b.maxAge;
    this.commandTimeout = b.commandTimeout;
    this.maxBatchSize = b.maxBatchSize;
    this.maxBatchesInFlight = b.maxBatchesInFlight;
    this.maxQueuedPublishBytes = b.maxQueuedPublishBytes;
    this.clock = b.clock;
    RedisTarget.Connected<byte[]> connected;
    try {
      connected = b.target.open(b.commandTimeout, CODEC);
    } catch (RuntimeException e) {
      throw new SwitchboardException(Status.UNAVAILABLE, "redis_unavailable",
          "cannot connect to Redis at " + b.target.describe() + ": " + e.getMessage(), Duration.ofSeconds(1), e);
    }
    this.target = connected.target();
    this.client = connected.client();
    this.connection = connected.connection();
    this.commands = RedisTarget.async(connection);
    this.publishScript = target.cluster ? PUBLISH.replace("'PUBLISH'", "'SPUBLISH'") : PUBLISH;
    try {
      if (target.cluster && (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0)) {
        throw new IllegalArgumentException("keyPrefix must not contain braces on a Redis Cluster"
            + " (they would make a hash tag putting every topic on one slot): " + keyPrefix);
      }
      this.pubsub = client instanceof RedisClusterClient
          ? ((RedisClusterClient) client).connectPubSub(CODEC) : ((RedisClient) client).connectPubSub(CODEC);
    } catch (RuntimeException e) {
      connection.close();
      RedisTarget.shutdown(client);
      if (e instanceof IllegalArgumentException) {
        throw e;
      }
      throw new SwitchboardException(Status.UNAVAILABLE, "redis_unavailable",
          "cannot connect to Redis at " + target.describe() + ": " + e.getMessage(), Duration.ofSeconds(1), e);
    }
    this.callbacks = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "switchboard-redis-callbacks");
      t.setDaemon(true);
      return t;
    });
    if (pubsub instanceof StatefulRedisClusterPubSubConnection) {
      RedisTarget.connectMasters(clusterPubSub());
      // Sharded Pub/Sub: each channel is served by the master of its slot, which Lettuce subscribes
      // on (and re-subscribes after that node reconnects).
      ((StatefulRedisClusterPubSubConnection<String, byte[]>) pubsub).addListener(new RedisClusterPubSubAdapter<>() {
        @Override
        public void smessage(RedisClusterNode node, String channel, byte[] message) {
          onPubSubMessage(channel, message);
        }

        @Override
        public void ssubscribed(RedisClusterNode node, String channel, long count) {
          onSubscribed(channel);
        }
      });
    } else {
      pubsub.addListener(new RedisPubSubAdapter<>() {
        @Override
        public void message(String channel, byte[] message) {
          onPubSubMessage(channel, message);
        }

        @Override
        public void subscribed(String channel, long count) {
          onSubscribed(channel);
        }
      });
    }
  }

  /**
   * A builder for a broker on the Redis at {@code uri}: {@code redis://[user:password@]host:port[/db]}
   * ({@code rediss://} for TLS) for one server, or {@code redis-cluster://[user:password@]host:port,host:port}
   * ({@code rediss-cluster://}) for a Redis Cluster (7.0 or later: sharded Pub/Sub); any reachable
   * node of the cluster is enough. A {@code redis://} URI of a cluster node is detected when the
   * broker is built and used as the cluster.
   *
   * @throws IllegalArgumentException when {@code uri} is not one of these
   */
  public static Builder builder(String uri) {
    return new Builder(RedisTarget.parse(uri));
  }

  /**
   * The stream of a topic. On a cluster the topic is a hash tag, so its stream and its channel share
   * a slot (the publish script touches both) and topics spread over the masters.
   */
  private String streamKey(String topic) {
    return keyPrefix + "stream:" + target.tag(topic);
  }

  private String channel(String topic) {
    return keyPrefix + "live:" + target.tag(topic);
  }

  /** The topic of one of this broker's live channels, or null for any other channel. */
  private String topicOf(String channel) {
    String prefix = keyPrefix + "live:";
    if (!channel.startsWith(prefix)) {
      return null;
    }
    String tagged = channel.substring(prefix.length());
    if (!target.cluster) {
      return tagged;
    }
    return tagged.length() >= 2 && tagged.startsWith("{") && tagged.endsWith("}")
        ? tagged.substring(1, tagged.length() - 1) : null;
  }

  @Override
  public CompletionStage<Message> publish(Message draft) {
    if (closed) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    Instant time = clock.instant();
    PendingPublish p = new PendingPublish(draft, time, StoredEnvelope.encode(draft, time),
        streamKey(draft.topic()), bytes(channel(draft.topic())));
    // Completed on Lettuce's I/O thread: publish callbacks never block (unlike a history read,
    // whose callback may subscribe, which waits for Redis; those hop to the callback pool).
    if (maxBatchSize == 1) {
      if (onNettyThread()) {
        sendLater(() -> send(List.of(p), false)); // see drain()
      } else {
        send(List.of(p), false);
      }
      return p.result;
    }
    long size = p.size();
    if (queuedBytes.addAndGet(size) > maxQueuedPublishBytes) {
      queuedBytes.addAndGet(-size);
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "publish_queue_full",
          "more than " + maxQueuedPublishBytes + " bytes of publishes are waiting for Redis", Duration.ofSeconds(1), null));
    }
    synchronized (queue) {
      queue.add(p);
    }
    drain();
    return p.result;
  }

  /**
   * Sends what is queued while fewer than {@code maxBatchesInFlight} batches are out: a publish on a
   * quiet broker goes out at once on its own, and publishes that arrive while Redis works on earlier
   * ones go out together, up to {@code maxBatchSize} in one script call (on a cluster, one call per
   * slot among them), so concurrent publishers share round trips and script calls.
   */
  private void drain() {
    // Batches must reach Redis in the order they left the queue, or a topic is stored out of
    // publish order. Two rules keep it:
    // - Taking a batch and sending it happen under one lock: two threads draining at once (a
    //   publisher, and a thread finishing an earlier batch) could otherwise send the later batch first.
    // - No Netty thread sends. Lettuce hands a command to Netty, which writes it at once when called
    //   on the connection's own event loop but queues it as a task from any other thread: a batch
    //   sent from the event loop (where batches complete, and where callers chain their next
    //   publish) would overtake one a publisher's thread had sent just before. Netty threads leave
    //   the draining to one sender thread; every other thread drains itself (no hand-off, so a
    //   publish on a quiet broker goes out at once).
    // Sending only hands the command to Lettuce (it does not wait for Redis); a command refused at
    // once completes on the sending thread and drains again, which the reentrant lock allows.
    if (onNettyThread()) {
      synchronized (queue) {
        if (queue.isEmpty() || batchesInFlight >= maxBatchesInFlight) {
          return; // nothing to send now: no hand-off (a publish queued after this drains itself)
        }
      }
      if (senderDrainQueued.compareAndSet(false, true)) {
        sendLater(() -> {
          senderDrainQueued.set(false);
          drain();
        });
      }
      return;
    }
    synchronized (sendLock) {
      drainLocked();
    }
  }

  private static boolean onNettyThread() {
    return Thread.currentThread() instanceof FastThreadLocalThread;
  }

  private void sendLater(Runnable task) {
    try {
      sender.execute(task);
    } catch (RejectedExecutionException e) {
      // closed: close() fails what is still queued
    }
  }

  private void drainLocked() {
    while (true) {
      List<PendingPublish> batch;
      synchronized (queue) {
        if (queue.isEmpty() || batchesInFlight >= maxBatchesInFlight) {
          return;
        }
        batch = new ArrayList<>(Math.min(queue.size(), maxBatchSize));
        while (batch.size() < maxBatchSize && !queue.isEmpty()) {
          batch.add(queue.poll());
        }
        batchesInFlight++;
      }
      long size = 0;
      for (PendingPublish p : batch) {
        size += p.size();
      }
      queuedBytes.addAndGet(-size);
      if (!target.cluster) {
        send(batch, true);
        continue;
      }
      // One script call per slot; every call but the first counts as another batch in flight.
      Map<Integer, List<PendingPublish>> bySlot = new java.util.LinkedHashMap<>();
      for (PendingPublish p : batch) {
        bySlot.computeIfAbsent(SlotHash.getSlot(p.streamKey), x -> new ArrayList<>()).add(p);
      }
      synchronized (queue) {
        batchesInFlight += bySlot.size() - 1;
      }
      for (List<PendingPublish> slotBatch : bySlot.values()) {
        send(slotBatch, true);
      }
    }
  }

  /** One script call for {@code batch}; when it completes, the next batch may go. */
  private void send(List<PendingPublish> batch, boolean queued) {
    String[] keys = new String[batch.size()];
    byte[][] args = new byte[3 + 2 * batch.size()][];
    args[0] = bytes(Long.toString(maxLength));
    args[1] = bytes(exactTrimming ? "1" : "0");
    args[2] = bytes(Long.toString(maxAge.toMillis()));
    for (int i = 0; i < batch.size(); i++) {
      PendingPublish p = batch.get(i);
      keys[i] = p.streamKey;
      args[3 + 2 * i] = p.channel;
      args[4 + 2 * i] = p.envelope;
    }
    // EVAL with the script's text, not EVALSHA: a batch refused with NOSCRIPT (a node that has not
    // seen the script yet, or restarted) and sent again would be stored after a later batch of the
    // same topic that found the script already loaded (by another topic's EVAL in between), out of
    // publish order. Redis caches the compiled script by its hash either way.
    evalScript(publishScript, ScriptOutputType.MULTI, keys, args).whenComplete((result, err) -> {
      if (queued) {
        synchronized (queue) {
          batchesInFlight--;
        }
        // The next batch goes out before this one's callers run: what they chain on their
        // futures runs on this thread and would otherwise hold back the publishes still queued.
        drain();
      }
      List<?> ids = err == null ? (List<?>) result : null;
      for (int i = 0; i < batch.size(); i++) {
        PendingPublish p = batch.get(i);
        if (ids == null || i >= ids.size()) {
          p.result.completeExceptionally(err != null ? err
              : new SwitchboardException(Status.INTERNAL, "Redis returned " + (ids == null ? 0 : ids.size())
                  + " ids for " + batch.size() + " publishes"));
        } else {
          p.result.complete(p.draft.toBuilder().id(new String((byte[]) ids.get(i), StandardCharsets.US_ASCII))
              .time(p.time).build());
        }
      }
    });
  }

  /** A publish waiting for (or in) a script call. */
  private static final class PendingPublish {
    final Message draft;
    final Instant time;
    final byte[] envelope;
    final String streamKey;
    final byte[] channel;
    final CompletableFuture<Message> result = new CompletableFuture<>();

    PendingPublish(Message draft, Instant time, byte[] envelope, String streamKey, byte[] channel) {
      this.draft = draft;
      this.time = time;
      this.envelope = envelope;
      this.streamKey = streamKey;
      this.channel = channel;
    }

    long size() {
      return envelope.length + channel.length + 2L * streamKey.length() + 64;
    }
  }

  /** Stream ids ({@code <ms>-<seq>}) in stream order. */
  @Override
  public java.util.Comparator<String> idOrder() {
    return ID_ORDER;
  }

  private static final long[] NOT_OURS = {Long.MAX_VALUE, Long.MAX_VALUE}; // never taken for an old message
  private static final java.util.Comparator<String> ID_ORDER = (a, b) -> {
    long[] x = RedisCodecs.parseId(a);
    long[] y = RedisCodecs.parseId(b);
    return RedisCodecs.compareIds(x != null ? x : NOT_OURS, y != null ? y : NOT_OURS);
  };

  @Override
  public CompletionStage<History> history(String topic, String afterId, int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0: " + limit);
    }
    if (afterId != null && RedisCodecs.parseId(afterId) == null) {
      // Not a stream id, so not one of ours (another broker's, or garbage): a gap, from the oldest.
      return history(topic, null, limit).thenApply(h -> new History(h.messages(), false, h.latestId()));
    }
    byte[][] args = {bytes(afterId == null ? "" : afterId), bytes(Integer.toString(limit))};
    return script(HISTORY, ScriptOutputType.MULTI, new String[] {streamKey(topic)}, args)
        .thenApplyAsync(result -> parseHistory(topic, afterId, (List<?>) result), callbacks);
  }

  private static History parseHistory(String topic, String afterId, List<?> r) {
    if (((Number) r.get(0)).longValue() == 0) {
      return new History(List.of(), afterId == null, null);
    }
    boolean recovered = ((Number) r.get(1)).longValue() == 1;
    String latest = new String((byte[]) r.get(2), StandardCharsets.US_ASCII);
    List<Message> messages = new ArrayList<>();
    for (Object entry : (List<?>) r.get(3)) {
      messages.add(entryToMessage(topic, (List<?>) entry));
    }
    return new History(messages, recovered, latest.equals("0-0") ? null : latest);
  }

  private static Message entryToMessage(String topic, List<?> entry) {
    String id = new String((byte[]) entry.get(0), StandardCharsets.US_ASCII);
    List<?> fields = (List<?>) entry.get(1);
    for (int i = 0; i + 1 < fields.size(); i += 2) {
      if ("m".equals(new String((byte[]) fields.get(i), StandardCharsets.US_ASCII))) {
        return StoredEnvelope.decode(topic, id, (byte[]) fields.get(i + 1));
      }
    }
    throw new IllegalStateException("stream entry " + id + " of " + topic + " has no message field");
  }

  @Override
  public CompletionStage<Optional<Message>> get(String topic, String id) {
    if (RedisCodecs.parseId(id) == null) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return unavailableOnFailure(commands.xrange(streamKey(topic), io.lettuce.core.Range.create(id, id)))
        .thenApplyAsync(list -> list.isEmpty() ? Optional.<Message>empty()
            : Optional.of(StoredEnvelope.decode(topic, id, list.get(0).getBody().get("m"))), callbacks);
  }

  @Override
  public AutoCloseable subscribe(String topic, Listener listener) {
    if (closed) {
      throw new SwitchboardException(Status.UNAVAILABLE, "broker is closed");
    }
    TopicListeners t;
    CompletableFuture<Void> ready;
    synchronized (topics) {
      t = topics.computeIfAbsent(topic, x -> new TopicListeners());
      t.listeners.add(listener);
      if (t.ready == null || t.ready.isCompletedExceptionally()) {
        t.ready = (target.cluster ? clusterPubSub().async().ssubscribe(channel(topic))
            : pubsub.async().subscribe(channel(topic))).toCompletableFuture();
      }
      ready = t.ready;
    }
    try {
      // The contract: once this returns, every later publish reaches the listener.
      ready.get(commandTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException | ExecutionException | TimeoutException | RuntimeException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      remove(topic, t, listener);
      throw new SwitchboardException(Status.UNAVAILABLE, "redis_unavailable",
          "cannot subscribe to topic " + topic + " on Redis: " + e, Duration.ofSeconds(1), e);
    }
    return () -> remove(topic, t, listener);
  }

  private void remove(String topic, TopicListeners t, Listener listener) {
    synchronized (topics) {
      if (!t.listeners.remove(listener) || !t.listeners.isEmpty() || topics.get(topic) != t) {
        return;
      }
      topics.remove(topic);
    }
    if (!closed) {
      if (target.cluster) {
        clusterPubSub().async().sunsubscribe(channel(topic));
      } else {
        pubsub.async().unsubscribe(channel(topic));
      }
    }
  }

  private StatefulRedisClusterPubSubConnection<String, byte[]> clusterPubSub() {
    return (StatefulRedisClusterPubSubConnection<String, byte[]>) pubsub;
  }

  private void onPubSubMessage(String channel, byte[] message) {
    String topic = topicOf(channel);
    TopicListeners t = topic == null ? null : topics.get(topic);
    if (t == null) {
      return;
    }
    int nl = 0;
    while (nl < message.length && message[nl] != '\n') {
      nl++;
    }
    Message m;
    try {
      String id = new String(message, 0, nl, StandardCharsets.US_ASCII);
      byte[] envelope = java.util.Arrays.copyOfRange(message, Math.min(nl + 1, message.length), message.length);
      m = StoredEnvelope.decode(topic, id, envelope);
    } catch (RuntimeException e) {
      log.warn("ignoring an unreadable message on {}: {}", channel, e.toString());
      return;
    }
    synchronized (t) {
      if (t.recovering) {
        t.pending.add(m); // delivered after what the node missed while it was disconnected
        return;
      }
      t.deliver(topic, m);
    }
  }

  /**
   * A channel is subscribed. The first time, nothing to do; again (Lettuce re-subscribes after a
   * reconnect, of the one server or of the master serving the channel's slot), live messages may
   * have been missed meanwhile: deliver what the stream holds after the last id this node
   * delivered, then the live messages that arrive meanwhile (held until then), each once and in
   * order. The confirmation comes before any message on the new subscription, on the same
   * connection, so holding starts in time.
   */
  private void onSubscribed(String channel) {
    String topic = topicOf(channel);
    TopicListeners t = topic == null ? null : topics.get(topic);
    if (t == null) {
      return;
    }
    synchronized (t) {
      if (!t.subscribedOnce) {
        t.subscribedOnce = true;
        return;
      }
      if (t.recovering) {
        t.recoverAgain = true; // the catch-up under way may have read before this gap: read once more after it
        return;
      }
      t.recovering = true;
    }
    recover(topic, t);
  }

  /** How long a failed catch-up read after a re-subscription waits before it is tried again. */
  private static final long RECOVERY_RETRY_MILLIS = 200;

  private void recover(String topic, TopicListeners t) {
    String from;
    synchronized (t) {
      from = t.lastId;
    }
    if (from == null) {
      finishRecovery(topic, t, List.of()); // nothing delivered here yet: nothing to catch up on
      return;
    }
    history(topic, from, 10_000).whenComplete((h, err) -> {
      if (err != null && !closed && topics.get(topic) == t) {
        // The subscription came back before the command connection did (each reconnects on its own):
        // what was published meanwhile reached no subscription here, and only this read delivers it.
        // Live messages stay held until it succeeds.
        log.debug("reading what topic {} missed while Redis was unreachable failed; trying again: {}", topic,
            err.toString());
        CompletableFuture.runAsync(() -> recover(topic, t),
            CompletableFuture.delayedExecutor(RECOVERY_RETRY_MILLIS, TimeUnit.MILLISECONDS));
        return;
      }
      if (err != null) {
        log.debug("topic {}: broker closed or topic dropped while catching up: {}", topic, err.toString());
      } else if (!h.recovered()) {
        log.warn("topic {}: history no longer reaches back to {}; live delivery resumes after a gap", topic, from);
      }
      finishRecovery(topic, t, err == null ? h.messages() : List.of());
    });
  }

  private void finishRecovery(String topic, TopicListeners t, List<Message> missed) {
    synchronized (t) {
      for (Message m : missed) {
        t.deliver(topic, m);
      }
      if (t.recoverAgain) {
        t.recoverAgain = false; // keep holding live messages; they come after the next read
      } else {
        for (Message m : t.pending) {
          t.deliver(topic, m);
        }
        t.pending.clear();
        t.recovering = false;
        return;
      }
    }
    recover(topic, t);
  }

  /** Runs a Lua script by its text (see {@link #send} for why publishes never use EVALSHA). */
  private CompletableFuture<Object> evalScript(String script, ScriptOutputType type, String[] keys, byte[][] args) {
    CompletableFuture<Object> result = new CompletableFuture<>();
    commands.<Object>eval(script, type, keys, args).whenComplete((v, err) -> {
      if (err != null) {
        result.completeExceptionally(unavailable(err));
      } else {
        result.complete(v);
      }
    });
    return result;
  }

  /**
   * Runs a read-only Lua script by its SHA, loading it again when Redis has forgotten it (a restart).
   * Only for reads: a retried write could be reordered (see {@link #send}).
   */
  private CompletableFuture<Object> script(String script, ScriptOutputType type, String[] keys, byte[][] args) {
    String sha = scriptShas.computeIfAbsent(script, s -> java.util.HexFormat.of().formatHex(digest(s)));
    CompletableFuture<Object> result = new CompletableFuture<>();
    commands.<Object>evalsha(sha, type, keys, args).whenComplete((v, err) -> {
      if (err instanceof RedisNoScriptException || (err != null && String.valueOf(err.getMessage()).startsWith("NOSCRIPT"))) {
        commands.<Object>eval(script, type, keys, args).whenComplete((v2, err2) -> {
          if (err2 != null) {
            result.completeExceptionally(unavailable(err2));
          } else {
            result.complete(v2);
          }
        });
      } else if (err != null) {
        result.completeExceptionally(unavailable(err));
      } else {
        result.complete(v);
      }
    });
    return result;
  }

  private static byte[] digest(String script) {
    try {
      return java.security.MessageDigest.getInstance("SHA-1").digest(script.getBytes(StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static <T> CompletableFuture<T> unavailableOnFailure(CompletionStage<T> stage) {
    CompletableFuture<T> f = new CompletableFuture<>();
    stage.whenComplete((v, err) -> {
      if (err != null) {
        f.completeExceptionally(unavailable(err));
      } else {
        f.complete(v);
      }
    });
    return f;
  }

  private static SwitchboardException unavailable(Throwable err) {
    Throwable t = err instanceof java.util.concurrent.CompletionException && err.getCause() != null ? err.getCause() : err;
    if (t instanceof SwitchboardException) {
      return (SwitchboardException) t;
    }
    return new SwitchboardException(Status.UNAVAILABLE, "redis_unavailable",
        "Redis did not answer: " + t.getMessage(), Duration.ofSeconds(1), t);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<PendingPublish> left;
    synchronized (queue) {
      left = new ArrayList<>(queue);
      queue.clear();
    }
    for (PendingPublish p : left) {
      p.result.completeExceptionally(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    sender.shutdown();
    pubsub.close();
    connection.close();
    RedisTarget.shutdown(client);
    callbacks.shutdown();
  }

  /** A topic's local listeners; deliveries are serialised on it and never repeat or go back. */
  private static final class TopicListeners {
    final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    final List<Message> pending = new ArrayList<>(); // guarded by this
    CompletableFuture<Void> ready; // guarded by topics
    String lastId; // the newest id delivered here; guarded by this
    long[] lastParsed; // guarded by this
    boolean recovering; // guarded by this
    boolean subscribedOnce; // guarded by this
    boolean recoverAgain; // guarded by this

    /** Delivers {@code m} unless it is not newer than the last one delivered. Called holding this. */
    void deliver(String topic, Message m) {
      long[] id = RedisCodecs.parseId(m.id());
      if (id == null || (lastParsed != null && RedisCodecs.compareIds(id, lastParsed) <= 0)) {
        return;
      }
      lastId = m.id();
      lastParsed = id;
      for (Listener l : listeners) {
        try {
          l.onMessage(m);
        } catch (RuntimeException e) {
          log.warn("listener on topic {} threw; others still get the message", topic, e);
        }
      }
    }
  }

  /** Builds a {@link RedisBroker}. Not thread-safe. */
  public static final class Builder {
    private final RedisTarget target;
    private int maxBatchSize = 128;
    private int maxBatchesInFlight = 4;
    private long maxQueuedPublishBytes = 64L << 20;
    private String keyPrefix = "switchboard:";
    private long maxLength = 10_000;
    private boolean exactTrimming;
    private Duration maxAge = Duration.ZERO;
    private Duration commandTimeout = Duration.ofSeconds(2);
    private Clock clock = Clock.systemUTC();

    private Builder(RedisTarget target) {
      this.target = target;
    }

    /**
     * Prefix of every key and channel; lets several deployments share one Redis. Default
     * {@code switchboard:}. No braces on a cluster: a hash tag in the prefix would put every topic on
     * one slot.
     *
     * @throws IllegalArgumentException for a prefix with braces on a cluster
     */
    public Builder keyPrefix(String prefix) {
      Objects.requireNonNull(prefix, "prefix");
      if (target.cluster && (prefix.indexOf('{') >= 0 || prefix.indexOf('}') >= 0)) {
        throw new IllegalArgumentException("keyPrefix must not contain braces on a Redis Cluster"
            + " (they would make a hash tag putting every topic on one slot): " + prefix);
      }
      this.keyPrefix = prefix;
      return this;
    }

    /** Messages kept per topic (0 = no count bound). Default 10,000. */
    public Builder maxLength(long messages) {
      if (messages < 0) {
        throw new IllegalArgumentException("maxLength must be >= 0: " + messages);
      }
      this.maxLength = messages;
      return this;
    }

    /**
     * Trim to exactly {@link #maxLength} on every publish (slower) instead of Redis's approximate
     * trimming, which keeps up to about 100 more. Default false.
     */
    public Builder exactTrimming(boolean exact) {
      this.exactTrimming = exact;
      return this;
    }

    /** Also drop messages older than this (approximately); {@link Duration#ZERO} (default) for no age bound. */
    public Builder maxAge(Duration age) {
      if (age.isNegative()) {
        throw new IllegalArgumentException("maxAge must not be negative: " + age);
      }
      this.maxAge = age;
      return this;
    }

    /** How long any Redis command may take before it fails with UNAVAILABLE. Default 2 s. */
    public Builder commandTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("commandTimeout must be positive: " + timeout);
      }
      this.commandTimeout = timeout;
      return this;
    }

    /**
     * Most publishes sent to Redis in one script call. Publishes that arrive while
     * {@link #maxBatchesInFlight} calls are out wait and go together in the next one, so concurrent
     * publishers share round trips; a publish on a quiet broker goes out at once, alone. 1 sends
     * every publish on its own as it comes. Default 128.
     */
    public Builder maxBatchSize(int publishes) {
      if (publishes < 1) {
        throw new IllegalArgumentException("maxBatchSize must be >= 1: " + publishes);
      }
      this.maxBatchSize = publishes;
      return this;
    }

    /** Publish script calls out at once (pipelined on the connection) before publishes queue. Default 4. */
    public Builder maxBatchesInFlight(int batches) {
      if (batches < 1) {
        throw new IllegalArgumentException("maxBatchesInFlight must be >= 1: " + batches);
      }
      this.maxBatchesInFlight = batches;
      return this;
    }

    /**
     * Bytes of publishes that may wait for a batch; beyond it a publish fails at once with
     * UNAVAILABLE ({@code publish_queue_full}, retry hint 1 s). Default 64 MiB.
     */
    public Builder maxQueuedPublishBytes(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("maxQueuedPublishBytes must be >= 1: " + bytes);
      }
      this.maxQueuedPublishBytes = bytes;
      return this;
    }

    /** The clock for message times (tests). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Connects and returns the broker.
     *
     * @throws SwitchboardException UNAVAILABLE when Redis cannot be reached
     * @throws IllegalArgumentException when the URI turns out to be a cluster node's and the key prefix
     *     has braces
     */
    public RedisBroker build() {
      return new RedisBroker(this);
    }
  }
}
