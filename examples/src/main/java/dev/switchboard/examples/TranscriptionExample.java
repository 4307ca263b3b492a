package dev.switchboard.examples;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A bidirectional gRPC stream, like live transcription: the speaker streams audio chunks up and
 * receives partial results down, both over one {@code switchboard.v1.Hub/Connect} stream; the
 * transcriber (any other client) turns chunks into growing partial transcripts.
 *
 * <pre>
 * java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.TranscriptionExample transcriber --url grpc://127.0.0.1:9090
 * java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.TranscriptionExample speak --url grpc://127.0.0.1:9090 --text "hello world"
 * </pre>
 */
public final class TranscriptionExample {
  static final String USAGE = "usage: TranscriptionExample transcriber|speak [--url grpc://127.0.0.1:9090] [--text WORDS]";
  static final String END = "<end>";

  private TranscriptionExample() {}

  public static void main(String[] args) throws Exception {
    ExampleArgs.main(USAGE, () -> {
      if (args.length == 0 || !(args[0].equals("transcriber") || args[0].equals("speak"))) {
        throw new IllegalArgumentException("first argument must be transcriber or speak");
      }
      ExampleArgs a = new ExampleArgs(java.util.Arrays.copyOfRange(args, 1, args.length), List.of("url", "text"),
          Map.of("url", "grpc://127.0.0.1:9090", "text", "the quick brown fox jumps over the lazy dog"));
      TransportConfig config = TransportConfig.builder().transport("grpc").url(a.get("url")).build();
      if (args[0].equals("transcriber")) {
        try (AutoCloseable t = transcriber(config)) {
          System.out.println("transcribing; Ctrl-C stops");
          Thread.currentThread().join();
        }
      } else {
        speak(config, a.get("text"), System.out);
      }
    });
  }

  /** Listens for audio chunks of every session and publishes each session's growing transcript. */
  static AutoCloseable transcriber(TransportConfig config) {
    Channel channel = Transports.open(config);
    Map<String, StringBuilder> sessions = new ConcurrentHashMap<>();
    channel.subscribe("audio", (MessageListener) chunk -> {
      String session = chunk.headers().get("session");
      if (session == null) {
        return;
      }
      StringBuilder text = sessions.computeIfAbsent(session, s -> new StringBuilder());
      boolean last = chunk.text().equals(END);
      if (!last) {
        text.append(text.length() == 0 ? "" : " ").append(chunk.text()); // "recognise" the chunk
      }
      channel.send(Message.builder("transcript").header("session", session).event(last ? "final" : "partial")
          .text(text.toString()).build());
      if (last) {
        sessions.remove(session);
      }
    });
    return channel;
  }

  /** Streams {@code text} word by word as chunks and prints the partial results until the final one. */
  static void speak(TransportConfig config, String text, PrintStream out) throws Exception {
    String session = UUID.randomUUID().toString();
    CountDownLatch done = new CountDownLatch(1);
    try (Channel channel = Transports.open(config)) {
      Message marker = channel.send(Message.text("transcript", "(marker)")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      channel.subscribe("transcript", marker.id(), (MessageListener) m -> {
        if (session.equals(m.headers().get("session"))) {
          out.println(m.event() + ": " + m.text());
          if ("final".equals(m.event())) {
            done.countDown();
          }
        }
      });
      for (String word : text.split("\\s+")) {
        channel.send(Message.builder("audio").header("session", session).text(word).build())
            .toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      channel.send(Message.builder("audio").header("session", session).text(END).build())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      if (!done.await(60, TimeUnit.SECONDS)) {
        out.println("no final transcript within 60 s (is a transcriber running?)");
      }
    }
  }
}
