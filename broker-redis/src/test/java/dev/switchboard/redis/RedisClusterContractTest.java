package dev.switchboard.redis;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole transport contract with {@link RedisBroker} on a three-master Redis Cluster, over SSE (one
 * transport is enough here: what differs from {@link RedisContractTest} is the broker, and each
 * transport's own behaviour is covered there, over one Redis).
 */
@ExtendWith(SharedRedisCluster.class)
class RedisClusterContractTest {
  @Nested
  class Sse extends RedisContractTest.OverRedis {
    @Override
    protected String redisUri() {
      return SharedRedisCluster.uri();
    }

    @Override
    protected String transport() {
      return "sse";
    }
  }
}
