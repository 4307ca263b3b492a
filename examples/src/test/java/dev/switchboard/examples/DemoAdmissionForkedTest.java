package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The demo hub in a child JVM under {@code ulimit -n 256}: clients past the hub's connection limit are
 * refused (503 with Retry-After and a JSON body on HTTP and WebSocket handshakes, UNAVAILABLE on
 * gRPC), nothing hangs, a flood of idle TCP connections stops at Jetty's limit instead of running the
 * process out of descriptors, accept never fails, and the hub serves again once connections close.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class DemoAdmissionForkedTest {
  private static final int DESCRIPTORS = 256;
  /** Every request must be answered within this; a read that waits longer fails the test. */
  private static final int ANSWER_MILLIS = 15_000;

  private Child child;
  private final List<Socket> sockets = new ArrayList<>();
  private ManagedChannel grpc;

  @AfterEach
  void stop() throws Exception {
    closeAll(sockets);
    if (grpc != null) {
      grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (child != null) {
      child.kill();
    }
  }

  @Test
  void lowDescriptorLimit_clientsPastTheHubsLimitAreRefused_acceptNeverFails_andTheHubRecovers() throws Exception {
    Consumer<String> phase = p -> System.out.println("[test] " + LocalTime.now() + " " + p);
    child = Child.start(DESCRIPTORS, "--port", "0", "--grpc-port", "0", "--no-demo-feed");
    Matcher listening = child.await(Pattern.compile("switchboard demo listening http=http://([^:]+):(\\d+) grpc=([^:]+):(\\d+)"));
    Matcher limits = child.await(Pattern.compile(
        "connection limits: the hub answers 503 past (\\d+) connections, Jetty accepts at most (\\d+) \\((\\d+) of (\\d+) descriptors open\\)"));
    String host = listening.group(1);
    int port = Integer.parseInt(listening.group(2));
    int hubLimit = Integer.parseInt(limits.group(1));
    int jettyLimit = Integer.parseInt(limits.group(2));
    int openAtStart = Integer.parseInt(limits.group(3));
    assertEquals(DESCRIPTORS, Integer.parseInt(limits.group(4)), "the child runs with the soft limit we set");
    assertTrue(hubLimit > 10 && hubLimit < jettyLimit && jettyLimit < DESCRIPTORS, limits.group());
    Http http = new Http(host, port);
    phase.accept("child listening");

    // SSE streams until the hub refuses one: exactly its limit is accepted, the next is a 503.
    Answer refused = null;
    while (refused == null && sockets.size() <= hubLimit) {
      Socket s = http.connect();
      Answer a = http.send(s, sse("adm"));
      if (a.status == 200) {
        sockets.add(s);
      } else {
        refused = a;
        s.close();
      }
    }
    assertEquals(hubLimit, sockets.size(), "streams accepted before the first refusal");
    assertRefused(refused);
    phase.accept("streams at the limit");

    // Past the limit, a long poll, a WebSocket handshake and another stream are refused alike.
    assertRefused(http.request("GET /v1/topics/adm/messages?wait=5 HTTP/1.1\r\n"));
    Answer ws = http.request(webSocketHandshake());
    assertRefused(ws);
    assertEquals("close", ws.header("connection"), "a refused handshake does not keep its connection");
    assertRefused(http.request(sse("other")));

    // gRPC: new streams are UNAVAILABLE with the same error code and retry hint; a unary publish
    // holds no connection, so it is still taken (a hub full of subscribers keeps its publishers).
    grpc = Grpc.newChannelBuilderForAddress(listening.group(3), Integer.parseInt(listening.group(4)),
        InsecureChannelCredentials.create()).build();
    HubGrpc.HubBlockingStub stub = HubGrpc.newBlockingStub(grpc);
    PublishRequest publish = PublishRequest.newBuilder().setTopic("adm").setData(ByteString.copyFromUtf8("hi"))
        .setContentType("text/plain").build();
    assertUnavailable(assertThrows(StatusRuntimeException.class, () -> stub.withDeadlineAfter(ANSWER_MILLIS, TimeUnit.MILLISECONDS)
        .subscribe(SubscribeRequest.newBuilder().setTopic("adm").build()).next()));
    assertEquals("adm", stub.withDeadlineAfter(ANSWER_MILLIS, TimeUnit.MILLISECONDS).publish(publish).getTopic());
    phase.accept("refusals checked");

    // A flood of idle TCP connections that would take the process's last descriptors stops at Jetty's
    // limit; the rest wait in the listen backlog (50 deep: more would wait in connect).
    int flood = jettyLimit - hubLimit + 40;
    assertTrue(hubLimit + flood > DESCRIPTORS - openAtStart, "the flood would exhaust the descriptors without Jetty's limit");
    List<Socket> idle = new ArrayList<>();
    try {
      for (int i = 0; i < flood; i++) {
        idle.add(http.connect());
      }
      child.await(Pattern.compile(jettyLimit + " connections open, the server's limit"));
      assertTrue(child.openDescriptors() < DESCRIPTORS, "open descriptors " + child.openDescriptors());
    } finally {
      closeAll(idle);
    }

    phase.accept("flood done");

    // Once the streams close, the hub takes new ones again, on every transport. (The hub notices a
    // stream's client has gone when it next writes to it: the heartbeat, every 15 s.)
    // Each probe holds a connection itself until the hub notices it closed, so each waits on its own.
    closeAll(sockets);
    awaitCondition("an SSE stream is accepted again", () -> http.request(sse("adm")).status == 200);
    awaitCondition("a WebSocket handshake is upgraded again", () -> http.request(webSocketHandshake()).status == 101);
    awaitCondition("a gRPC stream is accepted again", () -> {
      Context.CancellableContext call = Context.current().withCancellation();
      try {
        Iterator<SubscribeEvent> events = call.call(() -> stub.withDeadlineAfter(ANSWER_MILLIS, TimeUnit.MILLISECONDS)
            .subscribe(SubscribeRequest.newBuilder().setTopic("adm-again").setAfter("0-0").build()));
        return events.hasNext();
      } catch (StatusRuntimeException e) {
        assertUnavailable(e);
        return false;
      } catch (Exception e) {
        throw new AssertionError(e);
      } finally {
        call.cancel(null);
      }
    });

    phase.accept("recovered");

    // The episode at Jetty's limit ends once connections stay below it (the demo's quiet period: 10 s).
    child.await(Pattern.compile("connections open, below the server's limit \\(" + jettyLimit + "\\) again"));
    phase.accept("episode ended");
    String log = child.output();
    assertEquals(1, log.split("connections open, the server's limit", -1).length - 1,
        "Jetty's limit is logged once for the episode:\n" + log);
    for (String bad : new String[] {"Accept Failure", "Too many open files", "cannot accept connections", "\tat "}) {
      assertFalse(log.contains(bad), "the child's log has '" + bad.strip() + "':\n" + log);
    }
  }

  private static String sse(String topic) {
    return "GET /v1/topics/" + topic + "/events HTTP/1.1\r\nAccept: text/event-stream\r\n";
  }

  private static String webSocketHandshake() {
    return "GET /v1/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Protocol: switchboard.v1.json\r\n";
  }

  private static void assertRefused(Answer a) {
    assertTrue(a.head.startsWith("HTTP/1.1 503 "), a.head);
    assertEquals("1", a.header("retry-after"), a.head);
    assertTrue(a.header("content-type").startsWith("application/json"), a.head);
    assertTrue(a.body.startsWith("{\"status\":503,\"error\":\"too_many_connections\",\"message\":\"server at its connection limit"),
        a.body);
  }

  private static void assertUnavailable(StatusRuntimeException e) {
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    Metadata t = e.getTrailers();
    assertEquals("too_many_connections", t.get(Metadata.Key.of("switchboard-error", Metadata.ASCII_STRING_MARSHALLER)));
    assertEquals("1", t.get(Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER)));
  }

  private static void closeAll(List<Socket> list) {
    for (Socket s : list) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    list.clear();
  }

  /** A check that may fail with an I/O error, which fails the test (every answer must come). */
  private interface Check {
    boolean test() throws IOException;
  }

  private static void awaitCondition(String what, Check condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
    while (!condition.test()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(100);
    }
  }

  /** A response head (and, unless it is a 200 stream or a 101, its body). */
  private record Answer(int status, String head, String body) {
    String header(String name) {
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          return line.substring(colon + 1).trim();
        }
      }
      return "";
    }
  }

  /** HTTP/1.1 on raw sockets: one request per connection, every read bounded. */
  private record Http(String host, int port) {
    Socket connect() throws IOException {
      Socket s = new Socket();
      s.connect(new InetSocketAddress(host, port), ANSWER_MILLIS);
      s.setSoTimeout(ANSWER_MILLIS);
      return s;
    }

    /** Sends a request on a new connection and reads the whole answer. */
    Answer request(String requestLineAndHeaders) throws IOException {
      try (Socket s = connect()) {
        return send(s, requestLineAndHeaders);
      }
    }

    Answer send(Socket s, String requestLineAndHeaders) throws IOException {
      s.getOutputStream().write((requestLineAndHeaders + "Host: " + host + ":" + port + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("connection closed after " + head.toString(StandardCharsets.ISO_8859_1));
        }
        head.write(b);
      }
      String h = head.toString(StandardCharsets.ISO_8859_1);
      int status = Integer.parseInt(h.substring(9, 12));
      Answer noBody = new Answer(status, h, "");
      if (status == 200 || status == 101) {
        return noBody;
      }
      int length = Integer.parseInt(noBody.header("content-length"));
      return new Answer(status, h, new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }
  }

  /** The demo in a child JVM under a descriptor limit; its output is collected line by line. */
  private static final class Child {
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();

    private Child(Process process) {
      this.process = process;
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            lines.add(line);
            System.out.println("[child] " + line);
          }
        } catch (IOException ignored) {
          // the child is gone
        }
      }, "demo-child-output");
      reader.setDaemon(true);
      reader.start();
    }

    static Child start(int descriptors, String... args) throws IOException {
      String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
      List<String> command = new ArrayList<>(List.of("bash", "-c",
          // Soft and hard limit both, so the JVM cannot raise it (HotSpot's MaxFDLimit raises the soft
          // limit to the hard one); exec keeps one process to kill.
          "ulimit -Sn " + descriptors + " && ulimit -Hn " + descriptors + " && exec \"$0\" \"$@\"",
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError",
          "-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
          "-cp", classPath, DemoHub.class.getName()));
      command.addAll(List.of(args));
      return new Child(new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /** Waits (bounded) for a line of output matching {@code pattern}. */
    Matcher await(Pattern pattern) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline) {
        for (String line : lines) {
          Matcher m = pattern.matcher(line);
          if (m.find()) {
            return m;
          }
        }
        if (!process.isAlive()) {
          throw new AssertionError("the child exited (" + process.exitValue() + ") before printing "
              + pattern + ":\n" + output());
        }
        Thread.sleep(50);
      }
      throw new AssertionError("no line matching " + pattern + " within 60 s:\n" + output());
    }

    /** Descriptors the child has open now (Linux /proc). */
    long openDescriptors() throws IOException {
      try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
        return fds.count();
      }
    }

    String output() {
      return String.join("\n", lines);
    }

    void kill() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
