package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.redis.RedisBroker;
import dev.switchboard.transport.TransportConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Each small example run against an embedded demo hub, its output checked. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ExamplesTest {
  /** Output captured from an example (thread-safe: PrintStream synchronises). */
  static final class Out {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream stream = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    List<String> lines() {
      synchronized (stream) {
        return Arrays.stream(bytes.toString(StandardCharsets.UTF_8).split("\n")).filter(l -> !l.isEmpty())
            .collect(Collectors.toList());
      }
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }

  private static DemoHub demo(String... extra) throws Exception {
    String[] base = {"--port", "0", "--grpc-port", "0"};
    String[] all = Arrays.copyOf(base, base.length + extra.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return DemoHub.start(DemoHub.parse(all));
  }

  @Test
  void prices_overSse_printsEachPrice() throws Exception {
    try (DemoHub hub = demo()) {
      Out out = new Out();
      PricesExample.run(hub.httpUrl(), 3, out.stream);
      List<String> lines = out.lines();
      assertEquals(3, lines.size(), lines.toString());
      assertTrue(lines.stream().allMatch(l -> l.matches("price \\S+ \\{\"symbol\":\"ACME\",\"price\":[0-9.]+,.*")), lines.toString());
    }
  }

  @Test
  void notifications_sameCodeOverEveryTransport() throws Exception {
    try (DemoHub hub = demo("--no-demo-feed")) {
      for (String transport : List.of("sse", "ws", "longpoll", "grpc")) {
        Out out = new Out();
        String url = transport.equals("grpc") ? "grpc://" + hub.grpcAddress() : hub.httpUrl();
        NotificationsExample.run(TransportConfig.builder().transport(transport).url(url).build(), "alice", out.stream);
        assertEquals(List.of("notification over " + transport + ": order.shipped {\"order\":\"A-1001\"}"), out.lines());
      }
    }
  }

  @Test
  void chat_acrossTwoHubsSharingRedis_withAutoAndSse() throws Exception {
    String prefix = "sbtest:" + UUID.randomUUID() + ":";
    DemoHub.Options o = DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--no-demo-feed"});
    try (RedisBroker b1 = RedisBroker.builder("redis://127.0.0.1:6379").keyPrefix(prefix).build();
        RedisBroker b2 = RedisBroker.builder("redis://127.0.0.1:6379").keyPrefix(prefix).build();
        DemoHub hub1 = DemoHub.start(o, b1);
        DemoHub hub2 = DemoHub.start(o, b2)) {
      Out aliceOut = new Out();
      Out bobOut = new Out();
      try (ChatExample alice = ChatExample.join(TransportConfig.builder().url(hub1.httpUrl()).build(), "alice", aliceOut.stream);
          ChatExample bob = ChatExample.join(TransportConfig.builder().transport("sse").url(hub2.httpUrl()).build(), "bob", bobOut.stream)) {
        await("both are in the room", () -> hub1.hub().subscriberCount() == 1 && hub2.hub().subscriberCount() == 1);
        alice.say("hello bob");
        bob.say("hi alice");
        await("bob heard alice and himself", () -> bobOut.lines().size() == 2);
        await("alice heard both", () -> aliceOut.lines().size() == 2);
        assertEquals(List.of("alice: hello bob", "bob: hi alice"), bobOut.lines());
        assertEquals(List.of("alice: hello bob", "bob: hi alice"), aliceOut.lines());
        assertEquals("ws", alice.transport(), "auto chose WebSocket");
      }
    } finally {
      dev.switchboard.redis.RedisTestSupportAccess.deleteKeys("redis://127.0.0.1:6379", prefix);
    }
  }

  @Test
  void transcription_bidirectionalGrpcStream_partialResultsThenFinal() throws Exception {
    try (DemoHub hub = demo("--no-demo-feed")) {
      TransportConfig grpc = TransportConfig.builder().transport("grpc").url("grpc://" + hub.grpcAddress()).build();
      try (AutoCloseable transcriber = TranscriptionExample.transcriber(grpc)) {
        await("the transcriber listens", () -> hub.hub().subscriberCount() == 1);
        Out out = new Out();
        TranscriptionExample.speak(grpc, "hello world again", out.stream);
        assertEquals(List.of("partial: hello", "partial: hello world", "partial: hello world again",
            "final: hello world again"), out.lines());
      }
    }
  }

  @Test
  void webhookPair_signedRetriedDeduplicated() throws Exception {
    Out out = new Out();
    WebhookPairExample.run(out.stream);
    List<String> lines = out.lines();
    String all = String.join("\n", lines);
    assertTrue(lines.get(0).startsWith("receiver: msg_") && lines.get(0).endsWith("503"), all);
    assertTrue(all.contains("attempt 1 of msg_") && all.contains("-> RETRY"), all);
    assertTrue(all.contains("receiver: processed msg_") && all.contains("\"id\":\"pay_1001\""), all);
    assertTrue(all.contains("-> DELIVERED"), all);
    assertTrue(lines.get(lines.size() - 1).matches("duplicate of msg_\\S+: HTTP 200, not processed again"), all);
    assertEquals(1, lines.stream().filter(l -> l.startsWith("receiver: processed")).count(), all);
  }
}
