package dev.switchboard.redis;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Small helpers for tests against a real Redis. */
final class RedisTestSupport {
  private RedisTestSupport() {}

  /** Deletes every key under {@code prefix} (on a cluster, on every master). */
  static void deleteKeys(String uri, String prefix) {
    RedisTarget target = RedisTarget.parse(uri);
    io.lettuce.core.AbstractRedisClient client = target.client(java.time.Duration.ofSeconds(5));
    try (io.lettuce.core.api.StatefulConnection<String, String> c = RedisTarget.connect(client, StringCodec.UTF8)) {
      io.lettuce.core.cluster.api.sync.RedisClusterCommands<String, String> cmd = RedisTarget.sync(c);
      ScanCursor cursor = ScanCursor.INITIAL;
      do {
        KeyScanCursor<String> page = cmd.scan(cursor, ScanArgs.Builder.matches(prefix + "*").limit(500));
        if (!page.getKeys().isEmpty()) {
          cmd.del(page.getKeys().toArray(new String[0]));
        }
        cursor = page;
      } while (!cursor.isFinished());
    } finally {
      client.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  /** Subscribers of a channel, over all nodes. */
  static long numsub(String uri, String channel) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      return c.sync().pubsubNumsub(channel).getOrDefault(channel, 0L);
    } finally {
      client.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }
}
