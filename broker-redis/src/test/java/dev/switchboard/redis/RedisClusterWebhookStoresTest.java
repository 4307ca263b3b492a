package dev.switchboard.redis;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@link RedisWebhookStoresTest}'s idempotency and delivery stores on a three-master Redis Cluster. */
@ExtendWith(SharedRedisCluster.class)
class RedisClusterWebhookStoresTest extends RedisWebhookStoresTest {
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
