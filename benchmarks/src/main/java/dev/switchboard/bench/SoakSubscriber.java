package dev.switchboard.bench;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;

/**
 * One subscription of the soak to one topic over one transport, its messages checked by a
 * {@link SequenceCheck}. Either the project's own client ({@link OverChannel}: what applications use,
 * with its reconnects and resume) or a raw client that sees exactly what the hub sends
 * ({@link RawSubscriber}).
 *
 * <p>Thread-safe.
 */
abstract class SoakSubscriber {
  /** The four transports, by the names {@link Transports} knows them. */
  static final String[] TRANSPORTS = {"sse", "ws", "longpoll", "grpc"};

  final String group;
  final String transport;
  final String topic;
  final SequenceCheck check;

  SoakSubscriber(String group, String transport, String topic, SequenceCheck check) {
    this.group = group;
    this.transport = transport;
    this.topic = topic;
    this.check = check;
  }

  /** A short name for reports, e.g. {@code channel-sse} or {@code raw-grpc}. */
  abstract String kind();

  /**
   * Ends the subscription: {@code abrupt} drops the connection with no goodbye (TCP reset, aborted
   * WebSocket, cancelled stream), otherwise it closes as a well-behaved client does. Idempotent.
   */
  abstract void close(boolean abrupt);

  /**
   * A subscriber over a {@link Channel} from {@link Transports#open}: one channel, one subscription.
   * The channel reconnects and resumes by itself; each reconnect is counted as an event.
   */
  static final class OverChannel extends SoakSubscriber {
    private final Channel channel;

    OverChannel(SoakClients clients, String group, String transport, String topic, SequenceCheck check) {
      super(group, transport, topic, check);
      String url = transport.equals("grpc") ? "grpc://127.0.0.1:" + clients.grpcPort : clients.httpUrl;
      channel = Transports.open(TransportConfig.builder().transport(transport).url(url).build());
      channel.addStateListener((from, to, cause) -> {
        if (to == Channel.State.RECONNECTING) {
          clients.event(group + " " + kind() + " reconnect: " + describe(cause));
        } else if (to == Channel.State.CLOSED && cause != null) {
          clients.event(group + " " + kind() + " channel failed: " + describe(cause));
        }
      });
      channel.subscribe(topic, null, new MessageListener() {
        @Override
        public void onMessage(Message m) {
          check.onMessage(m.id(), m.payload());
        }

        @Override
        public void onReset(String t, String reason) {
          check.onReset();
          clients.event(group + " " + kind() + " reset: " + reason);
        }

        @Override
        public void onError(SwitchboardException e) {
          clients.event(group + " " + kind() + " subscription failed: " + describe(e));
        }
      });
    }

    private static String describe(SwitchboardException e) {
      return e == null ? "-" : e.status().httpStatus() + " " + e.errorCode();
    }

    @Override
    String kind() {
      return "channel-" + transport;
    }

    @Override
    void close(boolean abrupt) {
      channel.close();
    }
  }
}
