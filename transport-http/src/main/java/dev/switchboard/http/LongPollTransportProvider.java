package dev.switchboard.http;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.TransportProvider;

/**
 * Provider of the {@code longpoll} transport: downstream by long polling, upstream by HTTP POST.
 * Works through any proxy that passes plain HTTP. Thread-safe.
 */
public final class LongPollTransportProvider implements TransportProvider {
  @Override
  public String name() {
    return "longpoll";
  }

  @Override
  public int priority() {
    return 5;
  }

  @Override
  public Channel open(TransportConfig config) {
    return new LongPollChannel(config);
  }
}
