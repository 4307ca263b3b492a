package dev.switchboard.grpc;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.TransportProvider;

/**
 * Provider of the {@code grpc} transport: one {@code switchboard.v1.Hub/Connect} stream carries
 * everything. URLs: {@code grpc://host:port} (plain text, default port 9090), {@code grpcs://} or
 * {@code https://} (TLS), {@code http://} (plain text), {@code inprocess://NAME} (an in-process server, for tests). Thread-safe.
 */
public final class GrpcTransportProvider implements TransportProvider {
  @Override
  public String name() {
    return "grpc";
  }

  @Override
  public Channel open(TransportConfig config) {
    return new GrpcChannel(config);
  }
}
