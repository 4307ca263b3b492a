package dev.switchboard.examples;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A chat client: lines typed on stdin go to topic {@code chat}, everyone's lines are printed.
 * {@code auto} picks WebSocket, falling back to SSE or long polling where WebSocket is blocked.
 * Two demo hubs started with the same {@code --broker redis://…} make one chat room across them.
 *
 * <pre>java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.ChatExample --url http://127.0.0.1:8080 --name alice</pre>
 */
public final class ChatExample implements AutoCloseable {
  static final String USAGE = "usage: ChatExample [--url http://127.0.0.1:8080] [--name NAME] [--transport auto|ws|sse|longpoll|grpc]";

  private final Channel channel;
  private final String name;

  private ChatExample(Channel channel, String name) {
    this.channel = channel;
    this.name = name;
  }

  public static void main(String[] args) throws Exception {
    ExampleArgs.main(USAGE, () -> {
      ExampleArgs a = new ExampleArgs(args, List.of("url", "name", "transport"),
          Map.of("url", "http://127.0.0.1:8080", "name", System.getProperty("user.name", "me"), "transport", "auto"));
      try (ChatExample chat = join(TransportConfig.builder().transport(a.get("transport")).url(a.get("url")).build(),
          a.get("name"), System.out)) {
        System.out.println("joined over " + chat.channel.transport() + "; type a line and press enter (Ctrl-D leaves)");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
          chat.say(line);
        }
      }
    });
  }

  /** Joins the room: every line said from now on is printed to {@code out}. */
  static ChatExample join(TransportConfig config, String name, PrintStream out) {
    Channel channel = Transports.open(config);
    channel.subscribe("chat", (MessageListener) m -> out.println(m.text()));
    return new ChatExample(channel, name);
  }

  /** Says one line; returns once the hub has stored it. */
  void say(String text) throws Exception {
    channel.send(Message.text("chat", name + ": " + text)).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  String transport() {
    return channel.transport();
  }

  @Override
  public void close() {
    channel.close();
  }
}
