package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.hub.Hub;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link GrpcHubServer}'s HTTP/2 limits with its defaults, from a hand-written HTTP/2 client over a
 * plain socket (h2c with prior knowledge): a burst of streams opened and reset at once (rapid reset)
 * gets GOAWAY ENHANCE_YOUR_CALM while the server goes on serving other clients; the SETTINGS frame
 * announces the concurrent-stream and header-list limits; oversized metadata fails the call.
 */
@Timeout(120)
class GrpcServerLimitsTest {
  private static final int DATA = 0x0;
  private static final int HEADERS = 0x1;
  private static final int RST_STREAM = 0x3;
  private static final int SETTINGS = 0x4;
  private static final int GOAWAY = 0x7;
  private static final int END_HEADERS = 0x4;
  private static final int CANCEL = 0x8;
  private static final int ENHANCE_YOUR_CALM = 0xb;

  private Hub hub;
  private GrpcHubServer server;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    hub = Hub.builder().build();
    server = GrpcHubServer.builder(hub).port(0).shutdownGrace(Duration.ofSeconds(1)).start();
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    hub.shutdown();
  }

  /** One HTTP/2 frame as read. */
  private record Frame(int type, int flags, int stream, byte[] payload) {}

  private static void writeFrame(ByteArrayOutputStream out, int type, int flags, int stream, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(9 + payload.length);
    b.put((byte) (payload.length >>> 16)).put((byte) (payload.length >>> 8)).put((byte) payload.length);
    b.put((byte) type).put((byte) flags).putInt(stream).put(payload);
    out.writeBytes(b.array());
  }

  private static Frame readFrame(DataInputStream in) throws IOException {
    int length = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
    int type = in.readUnsignedByte();
    int flags = in.readUnsignedByte();
    int stream = in.readInt() & 0x7fffffff;
    byte[] payload = new byte[length];
    in.readFully(payload);
    return new Frame(type, flags, stream, payload);
  }

  /** HPACK: a literal header field without indexing, with an indexed name or a new one (index 0). */
  private static void literal(ByteArrayOutputStream out, int nameIndex, String name, String value) {
    if (nameIndex < 15) {
      out.write(nameIndex);
    } else {
      out.write(0x0f);
      out.write(nameIndex - 15);
    }
    if (nameIndex == 0) {
      out.write(name.length());
      out.writeBytes(name.getBytes(StandardCharsets.US_ASCII));
    }
    out.write(value.length()); // every value here is shorter than 127 bytes
    out.writeBytes(value.getBytes(StandardCharsets.US_ASCII));
  }

  /** The request headers of a unary Publish call, HPACK-encoded without the dynamic table. */
  private byte[] publishHeaders() {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.write(0x83); // :method POST (static index 3)
    h.write(0x86); // :scheme http (static index 6)
    literal(h, 4, null, "/switchboard.v1.Hub/Publish"); // :path
    literal(h, 1, null, "127.0.0.1:" + server.port()); // :authority
    literal(h, 31, null, "application/grpc"); // content-type
    literal(h, 0, "te", "trailers");
    return h.toByteArray();
  }

  @Test
  void rapidReset_getsGoAwayEnhanceYourCalm_andTheServerKeepsServingOthers() throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      ByteArrayOutputStream hello = new ByteArrayOutputStream();
      hello.writeBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      writeFrame(hello, SETTINGS, 0, 0, new byte[0]);
      out.write(hello.toByteArray());
      out.flush();

      Frame settings = readFrame(in);
      assertEquals(SETTINGS, settings.type(), "the server's first frame is its SETTINGS");
      Map<Integer, Long> announced = new HashMap<>();
      ByteBuffer p = ByteBuffer.wrap(settings.payload());
      while (p.remaining() >= 6) {
        announced.put(p.getShort() & 0xffff, p.getInt() & 0xffffffffL);
      }
      assertEquals(1_000L, announced.get(0x3), "SETTINGS_MAX_CONCURRENT_STREAMS: " + announced);
      assertEquals(8_192L, announced.get(0x6), "SETTINGS_MAX_HEADER_LIST_SIZE: " + announced);
      ByteArrayOutputStream ack = new ByteArrayOutputStream();
      writeFrame(ack, SETTINGS, 0x1, 0, new byte[0]);
      out.write(ack.toByteArray());

      // Read everything the server sends on another thread, until its GOAWAY or the end.
      CompletableFuture<Frame> goAway = CompletableFuture.supplyAsync(() -> {
        try {
          while (true) {
            Frame f = readFrame(in);
            if (f.type() == GOAWAY) {
              return f;
            }
          }
        } catch (EOFException e) {
          return null;
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });

      byte[] headers = publishHeaders();
      byte[] cancel = ByteBuffer.allocate(4).putInt(CANCEL).array();
      int sent = 0;
      try {
        // Far more than the default 500 resets within 10 s; batches of 100 streams per write.
        for (int batch = 0; batch < 50 && !goAway.isDone(); batch++) {
          ByteArrayOutputStream burst = new ByteArrayOutputStream();
          for (int i = 0; i < 100; i++) {
            int stream = 2 * sent + 1;
            writeFrame(burst, HEADERS, END_HEADERS, stream, headers);
            writeFrame(burst, RST_STREAM, 0, stream, cancel);
            sent++;
          }
          out.write(burst.toByteArray());
          out.flush();
        }
      } catch (IOException closedByServer) {
        // the server closed the connection after its GOAWAY: expected
      }
      Frame f = goAway.get(30, TimeUnit.SECONDS);
      assertNotNull(f, "connection ended without GOAWAY after " + sent + " reset streams");
      ByteBuffer g = ByteBuffer.wrap(f.payload());
      g.getInt(); // last stream id
      assertEquals(ENHANCE_YOUR_CALM, g.getInt(), "GOAWAY error code after " + sent + " resets");
      assertTrue(sent <= 5_000, "sent " + sent);
    }

    // Another client is served as before.
    HubGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
        .setTopic("after").setContentType("text/plain").setData(ByteString.copyFromUtf8("still here")).build());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
        .withDeadlineAfter(20, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus());
  }

  @Test
  void metadataOverTheLimit_failsTheCall_andTheChannelStaysUsable() {
    Metadata big = new Metadata();
    big.put(Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER), "p".repeat(10_000));
    PublishRequest request = PublishRequest.newBuilder().setTopic("t").setContentType("text/plain")
        .setData(ByteString.copyFromUtf8("x")).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> HubGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(big))
        .withDeadlineAfter(20, TimeUnit.SECONDS).publish(request));
    assertTrue(e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED
        || e.getStatus().getCode() == Status.Code.INTERNAL, e.getStatus().toString());
    assertEquals(0, hub.broker().history("t", null, 10).toCompletableFuture().join().messages().size(),
        "nothing was stored");
    HubGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).publish(request);
  }

  @Test
  void builder_refusesBadLimits() {
    GrpcHubServer.Builder b = GrpcHubServer.builder(hub);
    assertThrows(IllegalArgumentException.class, () -> b.maxResetsPerWindow(-1, Duration.ofSeconds(10)));
    assertThrows(IllegalArgumentException.class, () -> b.maxResetsPerWindow(10, Duration.ofMillis(1500)));
    assertThrows(IllegalArgumentException.class, () -> b.maxConcurrentCallsPerConnection(0));
    assertThrows(IllegalArgumentException.class, () -> b.maxInboundMetadataBytes(100));
    assertThrows(IllegalArgumentException.class, () -> b.permitKeepAliveTime(Duration.ofSeconds(-1)));
  }
}
