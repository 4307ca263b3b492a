package dev.switchboard.redis;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link MultiNodeTest}'s nodes sharing a three-master Redis Cluster instead of one Redis. */
@ExtendWith(SharedRedisCluster.class)
class RedisClusterMultiNodeTest extends MultiNodeTest {
  @Override
  protected String redisUri() {
    return SharedRedisCluster.uri();
  }
}
