package dev.switchboard.examples;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Notifications where only {@code switchboard.transport} changes: the same code sends a notification
 * and receives it over SSE, WebSocket, long polling or gRPC.
 *
 * <pre>java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.NotificationsExample --transport grpc --url grpc://127.0.0.1:9090</pre>
 */
public final class NotificationsExample {
  static final String USAGE = "usage: NotificationsExample [--transport sse|ws|longpoll|grpc|auto] [--url URL] [--user NAME]";

  private NotificationsExample() {}

  public static void main(String[] args) throws Exception {
    ExampleArgs.main(USAGE, () -> {
      ExampleArgs a = new ExampleArgs(args, List.of("transport", "url", "user"),
          Map.of("transport", "auto", "url", "http://127.0.0.1:8080", "user", "alice"));
      run(TransportConfig.builder().transport(a.get("transport")).url(a.get("url")).build(), a.get("user"), System.out);
    });
  }

  /** Subscribes to the user's notifications, sends one, and prints it when it comes back. */
  static void run(TransportConfig config, String user, PrintStream out) throws Exception {
    String topic = "notifications." + user;
    try (Channel channel = Transports.open(config)) {
      LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
      Message marker = channel.send(Message.text(topic, "(marker)")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      channel.subscribe(topic, marker.id(), (MessageListener) inbox::add);
      channel.send(Message.builder(topic).event("order.shipped").json("{\"order\":\"A-1001\"}").build())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      Message n = inbox.poll(30, TimeUnit.SECONDS);
      out.println(n == null ? "no notification arrived"
          : "notification over " + channel.transport() + ": " + n.event() + " " + n.text());
    }
  }
}
