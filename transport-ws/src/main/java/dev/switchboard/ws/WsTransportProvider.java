package dev.switchboard.ws;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.TransportProvider;

/** Provider of the {@code ws} transport: one WebSocket carries everything. Thread-safe. */
public final class WsTransportProvider implements TransportProvider {
  @Override
  public String name() {
    return "ws";
  }

  @Override
  public int priority() {
    return 5;
  }

  @Override
  public Channel open(TransportConfig config) {
    return new WsChannel(config);
  }
}
