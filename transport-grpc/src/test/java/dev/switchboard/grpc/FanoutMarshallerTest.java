package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.Message;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.hub.Hub;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class FanoutMarshallerTest {
  private final FanoutMarshaller<SubscribeEvent> marshaller =
      new FanoutMarshaller<>(ProtoUtils.marshaller(SubscribeEvent.getDefaultInstance()));

  private static SubscribeEvent event(int payloadBytes) {
    return SubscribeEvent.newBuilder().setMessage(Message.newBuilder().setId("42").setTopic("prices")
        .setData(ByteString.copyFrom(new byte[payloadBytes])).setContentType("application/octet-stream")
        .putHeaders("a", "1").putHeaders("b", "2")).build();
  }

  @Test
  void sameInstanceToManyStreams_everyStreamGetsProtobufsExactBytes_andParsesBack() throws Exception {
    SubscribeEvent e = event(100);
    for (int stream = 0; stream < 3; stream++) {
      InputStream in = marshaller.stream(e);
      assertInstanceOf(KnownLength.class, in, "gRPC's framer needs the length up front");
      assertEquals(e.getSerializedSize(), in.available());
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      assertEquals(e.getSerializedSize(), ((Drainable) in).drainTo(out));
      assertArrayEquals(e.toByteArray(), out.toByteArray());
      assertEquals(0, in.available(), "drained");
      assertEquals(e, marshaller.parse(new java.io.ByteArrayInputStream(out.toByteArray())));
    }
  }

  @Test
  void differentInstances_neverShareBytes() throws Exception {
    for (int i = 0; i < 500; i++) { // more instances than slots: collisions must re-encode, not mix up
      SubscribeEvent e = event(i);
      assertArrayEquals(e.toByteArray(), marshaller.stream(e).readAllBytes(), "instance " + i);
    }
  }

  @Test
  void largeMessages_areNotKept_butStillStreamedExactly() throws Exception {
    SubscribeEvent big = event(dev.switchboard.transport.internal.FanoutCache.MAX_CACHED_SIZE + 1);
    InputStream in = marshaller.stream(big);
    assertFalse(in instanceof java.io.ByteArrayInputStream, "streamed by protobuf's marshaller");
    assertArrayEquals(big.toByteArray(), in.readAllBytes());
  }

  @Test
  void theHubServiceWrapsSubscribeAndConnectOnly_andKeepsTheSchemaForReflection() {
    ServerServiceDefinition def = new GrpcHubService(Hub.builder().build()).bindService();
    Map<String, MethodDescriptor.Marshaller<?>> responses = def.getMethods().stream().collect(Collectors.toMap(
        m -> m.getMethodDescriptor().getBareMethodName(), m -> m.getMethodDescriptor().getResponseMarshaller()));
    assertEquals(Set.of("Publish", "Subscribe", "PublishStream", "Connect"), responses.keySet());
    assertInstanceOf(FanoutMarshaller.class, responses.get("Subscribe"));
    assertInstanceOf(FanoutMarshaller.class, responses.get("Connect"));
    assertFalse(responses.get("Publish") instanceof FanoutMarshaller);
    assertSame(HubGrpc.getServiceDescriptor().getSchemaDescriptor(), def.getServiceDescriptor().getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
      assertNotNull(m.getMethodDescriptor().getSchemaDescriptor(), m.getMethodDescriptor().getFullMethodName());
    }
  }
}
