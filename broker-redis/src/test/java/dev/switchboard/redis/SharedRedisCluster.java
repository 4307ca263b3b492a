package dev.switchboard.redis;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Resolves a {@link LocalRedisCluster} parameter to the one cluster shared by the whole test run,
 * started on first use and stopped when JUnit finishes (also after failures).
 */
final class SharedRedisCluster implements ParameterResolver {
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
