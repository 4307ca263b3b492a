package dev.switchboard.redis;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The one {@link LocalRedisCluster} shared by the whole test run, started before the first class that
 * uses it and stopped when JUnit finishes (also after failures): {@link #uri()}, or a
 * {@link LocalRedisCluster} parameter.
 */
final class SharedRedisCluster implements BeforeAllCallback, ParameterResolver {
  private static volatile LocalRedisCluster cluster;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    cluster = LocalRedisCluster.shared(context);
  }

  /** The shared cluster's {@code redis-cluster://} URI. */
  static String uri() {
    return cluster.uri();
  }

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == LocalRedisCluster.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    try {
      return LocalRedisCluster.shared(e);
    } catch (Exception x) {
      throw new ParameterResolutionException("cannot start a local Redis Cluster: " + x.getMessage(), x);
    }
  }
}
