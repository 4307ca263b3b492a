package dev.switchboard.redis;

import dev.switchboard.hub.Broker;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.internal.StoredEnvelope;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
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
 * <p>When Redis is unreachable, {@link #publish} fails fast with UNAVAILABLE (with a retry hint)
 * and never reports success for a message it did not store; the connections reconnect by
 * themselves and re-subscribe their channels. Thread-safe.
 */
public final class RedisBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(RedisBroker.class);
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /**
   * KEYS[1] stream; ARGV: channel, max length (0 = none), exact (1/0), max age ms (0 = none),
   * envelope. Each entry also records the id before it ({@code p}), so a resume can tell exactly
   * whether anything between the client's id and the oldest retained entry was trimmed.
   */
  private static final String PUBLISH = String.join("\n",
      "local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)",
      "local prev = ''",
      "if #newest > 0 then prev = newest[1][1] end",
      "local id",
      "if tonumber(ARGV[2]) > 0 then",
      "  if ARGV[3] == '1' then",
      "    id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'm', ARGV[5], 'p', prev)",
      "  else",
      "    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[5], 'p', prev)",
      "  end",
      "else",
      "  id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[5], 'p', prev)",
      "end",
      "local age = tonumber(ARGV[4])",
      "if age > 0 then",
      "  local t = redis.call('TIME')",
      "  local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age",
      "  if minid > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', minid)) end",
      "end",
      "redis.call('PUBLISH', ARGV[1], id .. '\\n' .. ARGV[5])",
      "return id");

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

  private final RedisClient client;
  private final StatefulRedisConnection<String, byte[]> connection;
  private final RedisAsyncCommands<String, byte[]> commands;
  private final StatefulRedisPubSubConnection<String, byte[]> pubsub;
  private final ExecutorService callbacks;
  private final String keyPrefix;
  private final long maxLength;
  private final boolean exactTrimming;
  private final Duration maxAge;
  private final Duration commandTimeout;
  private final Clock clock;
  private final Map<String, TopicListeners> topics = new ConcurrentHashMap<>();
  private final Map<String, String> scriptShas = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private RedisBroker(Builder b) {
    this.keyPrefix = b.keyPrefix;
    this.maxLength = b.maxLength;
    this.exactTrimming = b.exactTrimming;
    this.maxAge = b.maxAge;
    this.commandTimeout = b.commandTimeout;
    this.clock = b.clock;
    this.client = RedisClient.create(b.uri);
    client.setOptions(ClientOptions.builder()
        .protocolVersion(ProtocolVersion.RESP2)
        .autoReconnect(true)
        // Fail fast while disconnected instead of queueing: a publish must never hang.
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(TimeoutOptions.enabled(b.commandTimeout))
        .build());
    this.callbacks = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "switchboard-redis-callbacks");
      t.setDaemon(true);
      return t;
    });
    try {
      this.connection = client.connect(CODEC);
      this.commands = connection.async();
      this.pubsub = client.connectPubSub(CODEC);
    } catch (RuntimeException e) {
      client.shutdown();
      callbacks.shutdownNow();
      throw new SwitchboardException(Status.UNAVAILABLE, "redis_unavailable",
          "cannot connect to Redis at " + b.uri.toURI().getHost() + ":" + b.uri.getPort() + ": " + e.getMessage(),
          Duration.ofSeconds(1), e);
    }
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
    client.addListener(new RedisConnectionStateListener() {
      @Override
      public void onRedisDisconnected(RedisChannelHandler<?, ?> c) {
        if (c == pubsub) {
          onPubSubDisconnected();
        }
      }
    });
  }

  /**
   * A builder for a broker on the Redis at {@code uri} ({@code redis://[user:password@]host:port[/db]},
   * {@code rediss://} for TLS).
   */
  public static Builder builder(String uri) {
    return new Builder(RedisURI.create(uri));
  }

  private String streamKey(String topic) {
    return keyPrefix + "stream:" + topic;
  }

  private String channel(String topic) {
    return keyPrefix + "live:" + topic;
  }

  /** The topic of one of this broker's live channels, or null for any other channel. */
  private String topicOf(String channel) {
    String prefix = keyPrefix + "live:";
    return channel.startsWith(prefix) ? channel.substring(prefix.length()) : null;
  }

  @Override
  public CompletionStage<Message> publish(Message draft) {
    if (closed) {
      return CompletableFuture.failedFuture(new SwitchboardException(Status.UNAVAILABLE, "broker is closed"));
    }
    Instant time = clock.instant();
    byte[] envelope = StoredEnvelope.encode(draft, time);
    byte[][] args = {
        bytes(channel(draft.topic())), bytes(Long.toString(maxLength)), bytes(exactTrimming ? "1" : "0"),
        bytes(Long.toString(maxAge.toMillis())), envelope};
    // Completed on Lettuce's I/O thread: publish callbacks never block (unlike a history read,
    // whose callback may subscribe, which waits for Redis; those hop to the callback pool).
    return script(PUBLISH, ScriptOutputType.VALUE, streamKey(draft.topic()), args)
        .thenApply(id -> draft.toBuilder().id(new String((byte[]) id, StandardCharsets.US_ASCII)).time(time).build());
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
    return script(HISTORY, ScriptOutputType.MULTI, streamKey(topic), args)
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
        t.ready = pubsub.async().subscribe(channel(topic)).toCompletableFuture();
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
      pubsub.async().unsubscribe(channel(topic));
    }
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
   * The subscription connection dropped: live messages may be missed until it is back, so every
   * topic holds new live messages until it has read what it missed from the stream.
   */
  private void onPubSubDisconnected() {
    for (TopicListeners t : topics.values()) {
      synchronized (t) {
        t.recovering = true;
      }
    }
  }

  /**
   * A channel is subscribed (again): after a reconnect, deliver what the stream holds after the
   * last id this node delivered, then the live messages held meanwhile, each once and in order.
   */
  private void onSubscribed(String channel) {
    String topic = topicOf(channel);
    TopicListeners t = topic == null ? null : topics.get(topic);
    if (t == null) {
      return;
    }
    String from;
    synchronized (t) {
      if (!t.recovering) {
        return;
      }
      from = t.lastId;
    }
    if (from == null) {
      finishRecovery(topic, t, List.of()); // nothing delivered here yet: nothing to catch up on
      return;
    }
    history(topic, from, 10_000).whenComplete((h, err) -> {
      if (err != null) {
        log.warn("could not read what topic {} missed while Redis was unreachable: {}", topic, err.toString());
      } else if (!h.recovered()) {
        log.warn("topic {}: history no longer reaches back to {}; live delivery resumes after a gap", topic, from);
      }
      finishRecovery(topic, t, err == null ? h.messages() : List.of());
    });
  }

  private static void finishRecovery(String topic, TopicListeners t, List<Message> missed) {
    synchronized (t) {
      for (Message m : missed) {
        t.deliver(topic, m);
      }
      for (Message m : t.pending) {
        t.deliver(topic, m);
      }
      t.pending.clear();
      t.recovering = false;
    }
  }

  /** Runs a Lua script by its SHA, loading it again when Redis has forgotten it (a restart). */
  private CompletableFuture<Object> script(String script, ScriptOutputType type, String key, byte[][] args) {
    String sha = scriptShas.computeIfAbsent(script, s -> java.util.HexFormat.of().formatHex(digest(s)));
    CompletableFuture<Object> result = new CompletableFuture<>();
    commands.<Object>evalsha(sha, type, new String[] {key}, args).whenComplete((v, err) -> {
      if (err instanceof RedisNoScriptException || (err != null && String.valueOf(err.getMessage()).startsWith("NOSCRIPT"))) {
        commands.<Object>eval(script, type, new String[] {key}, args).whenComplete((v2, err2) -> {
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
    pubsub.close();
    connection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
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
    private final RedisURI uri;
    private String keyPrefix = "switchboard:";
    private long maxLength = 10_000;
    private boolean exactTrimming;
    private Duration maxAge = Duration.ZERO;
    private Duration commandTimeout = Duration.ofSeconds(2);
    private Clock clock = Clock.systemUTC();

    private Builder(RedisURI uri) {
      this.uri = Objects.requireNonNull(uri, "uri");
    }

    /** Prefix of every key and channel; lets several deployments share one Redis. Default {@code switchboard:}. */
    public Builder keyPrefix(String prefix) {
      this.keyPrefix = Objects.requireNonNull(prefix, "prefix");
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

    /** The clock for message times (tests). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Connects and returns the broker.
     *
     * @throws SwitchboardException UNAVAILABLE when Redis cannot be reached
     */
    public RedisBroker build() {
      return new RedisBroker(this);
    }
  }
}
