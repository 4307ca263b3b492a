package dev.switchboard.grpc;

import com.fasterxml.jackson.core.JsonParser;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.internal.MessageJson;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One message envelope encoded and decoded by Switchboard's own codecs: protobuf (the gRPC
 * transport's {@code switchboard.v1.Message}, through {@link GrpcCodec}) against JSON (the REST, SSE
 * and WebSocket {@code <msg>}, jackson-core streaming through {@code MessageJson}), for text
 * payloads of 100 B, 1 KiB and 16 KiB. Each operation includes the conversion from/to
 * Switchboard's {@link Message}, as the transports do it.
 *
 * <p>Sizes: {@code java -cp benchmarks/target/switchboard-benchmarks.jar
 * dev.switchboard.grpc.EnvelopeCodecBenchmark}; timings: {@code ... org.openjdk.jmh.Main
 * EnvelopeCodecBenchmark}. (In package {@code dev.switchboard.grpc} to reach the package-private
 * codec.)
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class EnvelopeCodecBenchmark {
  @Param({"100", "1024", "16384"})
  public int payloadBytes;

  Message message;
  byte[] proto;
  byte[] json;

  @Setup
  public void setUp() {
    message = message(payloadBytes);
    proto = protoEncode(message);
    json = jsonEncode(message);
  }

  static Message message(int payloadBytes) {
    StringBuilder sb = new StringBuilder(payloadBytes);
    while (sb.length() < payloadBytes) {
      sb.append("price update ").append(sb.length()).append(' ');
    }
    sb.setLength(payloadBytes);
    return Message.builder("prices.ACME").id("lq3k9x2a-123456").event("price").text(sb.toString())
        .time(Instant.parse("2026-11-24T18:00:00.123456Z")).build();
  }

  static byte[] protoEncode(Message m) {
    return GrpcCodec.toProto(m).toByteArray();
  }

  static byte[] jsonEncode(Message m) {
    return MessageJson.write(g -> MessageJson.writeMessage(g, m));
  }

  @Benchmark
  public byte[] protobufEncode() {
    return protoEncode(message);
  }

  @Benchmark
  public Message protobufDecode() throws Exception {
    return GrpcCodec.fromProto(dev.switchboard.grpc.v1.Message.parseFrom(proto));
  }

  @Benchmark
  public byte[] jsonEncode() {
    return jsonEncode(message);
  }

  @Benchmark
  public Message jsonDecode() throws Exception {
    try (JsonParser p = MessageJson.JSON.createParser(json)) {
      p.nextToken();
      return MessageJson.readMessage(p, json);
    }
  }

  /** Prints the encoded sizes (and checks both codecs round-trip the message). */
  public static void main(String[] args) throws Exception {
    System.out.println("payload B | protobuf B | JSON B | JSON/protobuf");
    for (int size : new int[] {100, 1024, 16384}) {
      EnvelopeCodecBenchmark b = new EnvelopeCodecBenchmark();
      b.payloadBytes = size;
      b.setUp();
      if (!b.protobufDecode().equals(b.message) || !b.jsonDecode().equals(b.message)) {
        throw new IllegalStateException("a codec did not round-trip the message");
      }
      System.out.printf(Locale.ROOT, "%9d | %10d | %6d | %.2f%n", size, b.proto.length, b.json.length,
          b.json.length / (double) b.proto.length);
    }
  }
}
