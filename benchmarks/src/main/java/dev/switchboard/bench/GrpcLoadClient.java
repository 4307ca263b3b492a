package dev.switchboard.bench;

import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * gRPC subscribers: {@code Subscribe} server streams on grpc-java's Netty client, a fixed number of
 * streams per connection (HTTP/2 multiplexing), all connections sharing two event-loop threads.
 * The same client measures Switchboard's service and the raw grpc-java baseline.
 */
final class GrpcLoadClient implements FanoutClient {
  private final String host;
  private final int port;
  private final int streamsPerConnection;
  private final EventLoopGroup group = new NioEventLoopGroup(2);
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final Recorder recorder = new Recorder(3_600_000_000L, 3);
  private final AtomicLong delivered = new AtomicLong();
  private final AtomicInteger failed = new AtomicInteger();
  private int streamsOnLast;

  GrpcLoadClient(String host, int port, int streamsPerConnection) {
    this.host = host;
    this.port = port;
    this.streamsPerConnection = streamsPerConnection;
  }

  @Override
  public synchronized void connect(int n) {
    for (int i = 0; i < n; i++) {
      if (channels.isEmpty() || streamsOnLast == streamsPerConnection) {
        channels.add(NettyChannelBuilder.forAddress(host, port).negotiationType(NegotiationType.PLAINTEXT)
            .eventLoopGroup(group).channelType(NioSocketChannel.class).directExecutor().build());
        streamsOnLast = 0;
      }
      streamsOnLast++;
      HubGrpc.newStub(channels.get(channels.size() - 1)).subscribe(
          SubscribeRequest.newBuilder().setTopic("bench").build(), new StreamObserver<>() {
            @Override
            public void onNext(SubscribeEvent e) {
              if (e.hasMessage()) {
                record(e.getMessage().getData().toByteArray());
              }
            }

            @Override
            public void onError(Throwable t) {
              failed.incrementAndGet();
            }

            @Override
            public void onCompleted() {
              failed.incrementAndGet();
            }
          });
    }
  }

  private void record(byte[] data) {
    long sent = 0;
    for (byte b : data) {
      if (b == '|') {
        break;
      }
      sent = sent * 10 + (b - '0');
    }
    Instant now = Instant.now();
    long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000 - sent;
    recorder.recordValue(Math.max(0, Math.min(micros, 3_600_000_000L)));
    delivered.incrementAndGet();
  }

  @Override
  public long delivered() {
    return delivered.get();
  }

  @Override
  public int failed() {
    return failed.get();
  }

  @Override
  public Recorder recorder() {
    return recorder;
  }

  @Override
  public synchronized void close() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (ManagedChannel c : channels) {
      c.awaitTermination(5, TimeUnit.SECONDS);
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
