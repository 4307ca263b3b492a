package dev.switchboard.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the soak's clients share: the hub's addresses, JDK HTTP/1.1 clients for the raw SSE,
 * long-polling and WebSocket subscribers, one for the steady ones and one for the churners (each
 * subscriber still has its own TCP connection: SSE streams and WebSockets are never pooled, and a long
 * poll holds its connection while it waits), two
 * Netty event-loop threads for every raw gRPC connection, a timer, and a tally of what happened to
 * connections ({@link #event}), e.g. {@code churn ws ended: close 4000}.
 *
 * <p>Thread-safe.
 */
final class SoakClients implements AutoCloseable {
  /** Steady raw gRPC subscribers share connections, this many streams on each (HTTP/2 multiplexing). */
  static final int GRPC_STREAMS_PER_CONNECTION = 10;

  final String httpUrl;
  final URI wsUri;
  final int grpcPort;
  /** For the steady raw subscribers. */
  final HttpClient http = newHttpClient();
  /**
   * For the churners, apart: the JDK's pool hands out its idle connections first in, first out, so a
   * pool that keeps being used never shrinks. Churners' long polls in the steady subscribers' pool
   * would keep its size at the churn's peak for as long as the steady polls go on.
   */
  final HttpClient churnHttp = newHttpClient();
  final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2, r -> {
    Thread t = new Thread(r, "soak-timer");
    t.setDaemon(true);
    return t;
  });
  private final EventLoopGroup group = new NioEventLoopGroup(2);
  private final List<ManagedChannel> shared = new ArrayList<>();
  private int streamsOnLast; // guarded by shared
  private final Map<String, LongAdder> events = new ConcurrentHashMap<>();

  SoakClients(String httpUrl, int grpcPort) {
    this.httpUrl = httpUrl;
    this.wsUri = URI.create(httpUrl.replaceFirst("^http", "ws") + "/v1/ws");
    this.grpcPort = grpcPort;
  }

  private static HttpClient newHttpClient() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
  }

  /** A new gRPC connection of its own (the caller shuts it down). */
  ManagedChannel newGrpcChannel() {
    return NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).negotiationType(NegotiationType.PLAINTEXT)
        .eventLoopGroup(group).channelType(NioSocketChannel.class).directExecutor().build();
  }

  /** A connection shared by up to {@link #GRPC_STREAMS_PER_CONNECTION} steady streams. */
  ManagedChannel sharedGrpcChannel() {
    synchronized (shared) {
      if (shared.isEmpty() || streamsOnLast == GRPC_STREAMS_PER_CONNECTION) {
        shared.add(newGrpcChannel());
        streamsOnLast = 0;
      }
      streamsOnLast++;
      return shared.get(shared.size() - 1);
    }
  }

  /** Counts one occurrence of {@code what}. */
  void event(String what) {
    events.computeIfAbsent(what, k -> new LongAdder()).increment();
  }

  /** Every event and its count, sorted by name. */
  Map<String, Long> events() {
    Map<String, Long> out = new TreeMap<>();
    events.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    timer.shutdownNow();
    synchronized (shared) {
      shared.forEach(ManagedChannel::shutdownNow);
      for (ManagedChannel c : shared) {
        c.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
