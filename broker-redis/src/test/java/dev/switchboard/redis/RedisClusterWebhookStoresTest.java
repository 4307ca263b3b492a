package dev.switchboard.redis;

import org.junit.jupiter.api.extension.ExtendWith;

/** {@link RedisWebhookStoresTest}'s idempotency and delivery stores on a three-master Redis Cluster. */
@ExtendWith(SharedRedisCluster.class)
class RedisClusterWebhookStoresTest extends RedisWebhookStoresTest {
  @Override
  protected String redisUri() {
    return SharedRedisCluster.uri();
  }
}
