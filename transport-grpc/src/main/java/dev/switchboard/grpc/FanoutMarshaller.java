package dev.switchboard.grpc;

import com.google.protobuf.MessageLite;
import dev.switchboard.transport.internal.FanoutCache;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A response marshaller that serializes a message instance once for every stream it is written to:
 * a fan-out hands the very same {@code SubscribeEvent} (or {@code ServerFrame}) to N streams, and
 * protobuf's own marshaller would encode it N times on the publishing thread (≈ 20 % of the server's
 * CPU in a 1,000-stream fan-out profile). Recently streamed instances keep their bytes in a
 * {@link FanoutCache}; messages over {@link FanoutCache#MAX_CACHED_SIZE} are streamed by the delegate.
 *
 * <p>Thread-safe: a lost race only encodes a message twice. Parsing is the delegate's.
 */
final class FanoutMarshaller<T> implements MethodDescriptor.Marshaller<T> {
  private final MethodDescriptor.Marshaller<T> delegate;
  private final FanoutCache<MessageLite, byte[]> bytes =
      new FanoutCache<>(MessageLite::getSerializedSize, MessageLite::toByteArray);

  FanoutMarshaller(MethodDescriptor.Marshaller<T> delegate) {
    this.delegate = delegate;
  }

  @Override
  public InputStream stream(T value) {
    if (!(value instanceof MessageLite) || ((MessageLite) value).getSerializedSize() > FanoutCache.MAX_CACHED_SIZE) {
      return delegate.stream(value); // streamed straight into the frame, no byte[] of its own
    }
    return new Bytes(bytes.get((MessageLite) value));
  }

  @Override
  public T parse(InputStream stream) {
    return delegate.parse(stream);
  }

  /**
   * {@code service} with the response marshaller of the named methods (bare names, e.g.
   * {@code "Subscribe"}) wrapped in a {@link FanoutMarshaller}; everything else, the schema
   * descriptor (for reflection) included, is kept.
   */
  static ServerServiceDefinition wrapResponses(ServerServiceDefinition service, Set<String> methods) {
    ServiceDescriptor sd = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(sd.getName())
        .setSchemaDescriptor(sd.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> wrapped = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<?, ?> w = methods.contains(m.getMethodDescriptor().getBareMethodName()) ? wrap(m) : m;
      descriptor.addMethod(w.getMethodDescriptor());
      wrapped.add(w);
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    for (ServerMethodDefinition<?, ?> w : wrapped) {
      out.addMethod(w);
    }
    return out.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> wrap(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> md = m.getMethodDescriptor();
    return ServerMethodDefinition.create(
        md.toBuilder().setResponseMarshaller(new FanoutMarshaller<>(md.getResponseMarshaller())).build(),
        m.getServerCallHandler());
  }

  /** Serialized bytes whose length gRPC's framer can see, drained into it in one write. */
  private static final class Bytes extends ByteArrayInputStream implements KnownLength, Drainable {
    Bytes(byte[] bytes) {
      super(bytes);
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = count - pos;
      target.write(buf, pos, n);
      pos = count;
      return n;
    }
  }
}
