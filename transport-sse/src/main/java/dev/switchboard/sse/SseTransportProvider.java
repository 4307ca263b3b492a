package dev.switchboard.sse;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.TransportProvider;

/** Provider of the {@code sse} transport: Server-Sent Events down, HTTP POST up. Thread-safe. */
public final class SseTransportProvider implements TransportProvider {
  @Override
  public String name() {
    return "sse";
  }

  @Override
  public int priority() {
    return 5;
  }

  @Override
  public Channel open(TransportConfig config) {
    return new SseChannel(config);
  }
}
