package dev.switchboard.redis;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@link MultiNodeTest}'s nodes sharing a three-master Redis Cluster instead of one Redis. */
@ExtendWith(SharedRedisCluster.class)
class RedisClusterMultiNodeTest extends MultiNodeTest {
  private static LocalRedisCluster cluster;

  @BeforeAll
  static void cluster(LocalRedisCluster shared) {
    cluster = shared;
  }

  @Override
  protected String redisUri() {
    return cluster.uri();
  }
}
