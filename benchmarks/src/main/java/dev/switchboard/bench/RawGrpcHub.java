package dev.switchboard.bench;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gRPC baseline: a bare grpc-java service that writes the same {@code SubscribeEvent} bytes
 * Switchboard sends to every open {@code Subscribe} stream, with the minimum a correct server needs
 * (a queue per stream drained only while the call is ready), and no hub, topics, history or limits.
 */
final class RawGrpcHub extends HubGrpc.HubImplBase {
  private final Set<Stream> streams = ConcurrentHashMap.newKeySet();
  private final AtomicLong seq = new AtomicLong();

  int count() {
    return streams.size();
  }

  void broadcast(byte[] payload) {
    Instant now = Instant.now();
    SubscribeEvent event = SubscribeEvent.newBuilder().setMessage(dev.switchboard.grpc.v1.Message.newBuilder()
        .setId("raw-" + seq.incrementAndGet()).setTopic("bench").setData(ByteString.copyFrom(payload))
        .setContentType("text/plain; charset=utf-8")
        .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano())))
        .build();
    for (Stream s : streams) {
      s.queue.add(event);
      s.drain();
    }
  }

  @Override
  public void subscribe(SubscribeRequest request, StreamObserver<SubscribeEvent> responses) {
    ServerCallStreamObserver<SubscribeEvent> out = (ServerCallStreamObserver<SubscribeEvent>) responses;
    Stream s = new Stream(out);
    out.setOnReadyHandler(s::drain);
    out.setOnCancelHandler(() -> streams.remove(s));
    streams.add(s);
  }

  private static final class Stream {
    final ServerCallStreamObserver<SubscribeEvent> out;
    final Queue<SubscribeEvent> queue = new ConcurrentLinkedQueue<>();
    final AtomicInteger wip = new AtomicInteger();

    Stream(ServerCallStreamObserver<SubscribeEvent> out) {
      this.out = out;
    }

    void drain() {
      if (wip.getAndIncrement() != 0) {
        return;
      }
      int missed = 1;
      do {
        try {
          SubscribeEvent e;
          while (out.isReady() && (e = queue.poll()) != null) {
            out.onNext(e);
          }
        } catch (RuntimeException e) {
          queue.clear(); // cancelled
        }
        missed = wip.addAndGet(-missed);
      } while (missed != 0);
    }
  }
}
