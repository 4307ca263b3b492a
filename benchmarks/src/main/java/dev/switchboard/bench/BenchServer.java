package dev.switchboard.bench;

import dev.switchboard.grpc.GrpcHubServer;
import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.internal.MessageJson;
import dev.switchboard.ws.WebSocketTransport;
import jakarta.websocket.server.ServerEndpointConfig;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import io.grpc.InsecureServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.springframework.web.context.support.AnnotationConfigWebApplicationContext;
import org.springframework.web.servlet.DispatcherServlet;

/**
 * The server side of the fan-out benchmark, run in its own JVM: either Switchboard (hub + SSE and
 * REST/long-poll filters) or the raw-Jetty SSE baseline, plus a control servlet at {@code /bench}
 * that publishes at a paced rate and reports heap and RSS.
 *
 * <p>Usage: {@code BenchServer switchboard|switchboard-metrics|switchboard-unbatched|raw|raw-ws|raw-grpc|spring|atmosphere}. Prints {@code READY <http port> <grpc
 * port>} when listening (Switchboard serves gRPC too; -1 when there is no gRPC server).
 */
public final class BenchServer {
  private BenchServer() {}

  public static void main(String[] args) throws Exception {
    String kind = args.length > 0 ? args[0] : "switchboard";
    Server server = new Server(new QueuedThreadPool(200, 8));
    HttpConfiguration http = new HttpConfiguration();
    Integer headerCache = Integer.getInteger("bench.headerCacheSize");
    if (headerCache != null) {
      http.setHeaderCacheSize(headerCache); // 0 turns off Jetty's per-connection header-field cache
    }
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    connector.setAcceptQueueSize(4096);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");

    Consumer<byte[]> publish;
    IntSupplier subscribers;
    io.grpc.Server grpc = null;
    GrpcHubServer grpcHub = null;
    if (kind.equals("raw-grpc")) {
      RawGrpcHub raw = new RawGrpcHub();
      grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0), InsecureServerCredentials.create())
          .addService(raw).build().start();
      publish = raw::broadcast;
      subscribers = raw::count;
    } else if (kind.equals("raw")) {
      RawSseServlet raw = new RawSseServlet();
      ServletHolder h = new ServletHolder(raw);
      h.setAsyncSupported(true);
      context.addServlet(h, "/raw/events");
      publish = raw::broadcast;
      subscribers = raw::count;
    } else if (kind.equals("raw-ws")) {
      AtomicLong seq = new AtomicLong();
      JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) ->
          container.addEndpoint(ServerEndpointConfig.Builder.create(RawWsEndpoint.class, "/raw/ws").build()));
      // The same frame bytes Switchboard sends for such a message.
      publish = payload -> RawWsEndpoint.broadcast(wsFrame(payload, "raw-" + seq.incrementAndGet()));
      subscribers = RawWsEndpoint.SESSIONS::size;
    } else if (kind.equals("switchboard") || kind.equals("switchboard-metrics") || kind.equals("switchboard-unbatched")) {
      Hub hub = Hub.builder().broker(new InMemoryBroker(10_000)).maxConnections(200_000).build();
      if (kind.equals("switchboard-metrics")) {
        // The same hub with its meters bound, to measure what metrics cost fan-out.
        new dev.switchboard.micrometer.SwitchboardMetrics(hub)
            .bindTo(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
      }
      FilterHolder sse = new FilterHolder(new SseTransportFilter(hub));
      sse.setAsyncSupported(true);
      FilterHolder rest = new FilterHolder(new HttpTransportFilter(hub));
      rest.setAsyncSupported(true);
      context.addFilter(sse, "/v1/*", EnumSet.of(DispatcherType.REQUEST));
      context.addFilter(rest, "/v1/*", EnumSet.of(DispatcherType.REQUEST));
      WebSocketTransport ws = WebSocketTransport.builder(hub)
          .maxWriteBatch(kind.equals("switchboard-unbatched") ? 0 : 64 * 1024).build();
      JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(container));
      context.addServlet(new ServletHolder(new HttpServlet() {
        private static final long serialVersionUID = 1L;
      }), "/");
      publish = payload -> hub.publish(Message.builder("bench").payload(payload, "text/plain; charset=utf-8").build());
      subscribers = hub::subscriberCount;
      grpcHub = GrpcHubServer.builder(hub).port(0).start();
    } else if (kind.equals("spring")) {
      JakartaWebSocketServletContainerInitializer.configure(context, null);
      AnnotationConfigWebApplicationContext spring = new AnnotationConfigWebApplicationContext();
      spring.register(SpringPeer.Config.class);
      ServletHolder dispatcher = new ServletHolder(new DispatcherServlet(spring));
      dispatcher.setAsyncSupported(true);
      dispatcher.setInitOrder(1);
      context.addServlet(dispatcher, "/");
      publish = payload -> spring.getBean(SpringPeer.Broadcaster.class).broadcast(payload);
      subscribers = () -> spring.getBean(SpringPeer.Broadcaster.class).count();
    } else if (kind.equals("atmosphere")) {
      JakartaWebSocketServletContainerInitializer.configure(context, null);
      AtmospherePeer atmosphere = new AtmospherePeer();
      atmosphere.mount(context);
      publish = atmosphere::broadcast;
      subscribers = atmosphere::count;
    } else {
      throw new IllegalArgumentException(
          "kind must be switchboard, switchboard-metrics, switchboard-unbatched, raw, raw-ws, raw-grpc, spring"
              + " or atmosphere: " + kind);
    }
    ServletHolder control = new ServletHolder(new ControlServlet(publish, subscribers));
    context.addServlet(control, "/bench/*");
    server.setHandler(context);
    server.start();
    int grpcPort = grpc != null ? grpc.getPort() : grpcHub != null ? grpcHub.port() : -1;
    System.out.println("READY " + connector.getLocalPort() + " " + grpcPort);
    System.out.flush();
    server.join();
  }

  /** The frame Switchboard's WebSocket transport sends for such a message: every WebSocket peer sends these bytes. */
  static String wsFrame(byte[] payload, String id) {
    return new String(MessageJson.write(g -> {
      g.writeStartObject();
      g.writeStringField("op", "message");
      MessageJson.writeMessageFields(g, Message.builder("bench").id(id).time(Instant.now())
          .payload(payload, "text/plain; charset=utf-8").build());
      g.writeEndObject();
    }), StandardCharsets.UTF_8);
  }

  static long epochMicros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }

  /** A text payload of {@code size} bytes starting with the current time in epoch microseconds. */
  static byte[] payload(int size) {
    return payload(size, epochMicros(Instant.now()));
  }

  /** A text payload of {@code size} bytes starting with {@code sentMicros} (epoch µs) and a bar. */
  static byte[] payload(int size, long sentMicros) {
    String stamp = sentMicros + "|";
    StringBuilder sb = new StringBuilder(size).append(stamp);
    while (sb.length() < size) {
      sb.append('x');
    }
    return sb.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * {@code /bench/stats} (heap after GC, RSS), {@code /bench/cpu} (process CPU ns),
   * {@code /bench/cost} (process CPU ns and bytes allocated by all threads, {@link #allocatedBytes}),
   * {@code /bench/subscribers}, {@code /bench/publish?rate=&seconds=}.
   */
  private static final class ControlServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final transient Consumer<byte[]> publish;
    private final transient IntSupplier subscribers;

    ControlServlet(Consumer<byte[]> publish, IntSupplier subscribers) {
      this.publish = publish;
      this.subscribers = subscribers;
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      String op = req.getPathInfo();
      String body;
      if ("/stats".equals(op)) {
        for (int i = 0; i < 3; i++) {
          System.gc();
          try {
            Thread.sleep(200);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        body = "heap=" + heap + " rss=" + rss();
      } else if ("/cpu".equals(op)) {
        body = Long.toString(((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime());
      } else if ("/cost".equals(op)) {
        body = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime() + " " + allocatedBytes();
      } else if ("/subscribers".equals(op)) {
        body = Integer.toString(subscribers.getAsInt());
      } else if ("/publish".equals(op)) {
        int rate = Integer.parseInt(req.getParameter("rate"));
        double seconds = Double.parseDouble(req.getParameter("seconds"));
        long count = (long) (rate * seconds);
        long intervalNanos = 1_000_000_000L / rate;
        long start = System.nanoTime();
        long startMicros = epochMicros(Instant.now());
        for (long i = 0; i < count; i++) {
          long due = start + i * intervalNanos;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(wait);
          }
          // Stamped with the time it was due, not the time the publisher got to it: a server that
          // slows its publisher down shows that as latency (no coordinated omission).
          publish.accept(payload(100, startMicros + (due - start) / 1000));
        }
        body = "published=" + count;
      } else {
        res.sendError(404);
        return;
      }
      res.setContentType("text/plain");
      res.getWriter().print(body);
    }

    /** The last allocated-bytes figure seen of every thread, live or ended, by thread id (never reused). */
    private static final java.util.Map<Long, Long> ALLOCATED = new java.util.HashMap<>();

    /**
     * Bytes allocated so far by all of this JVM's threads ({@code ThreadMXBean.getThreadAllocatedBytes}):
     * the container's, the hub's and the publisher's threads alike. JDK 17 has no total that includes ended
     * threads, so each thread's last figure is kept: a thread that ends between two reads loses only
     * what it allocated after the first (the container's pool threads live for the whole run).
     */
    static synchronized long allocatedBytes() {
      com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
      long[] ids = threads.getAllThreadIds();
      long[] bytes = threads.getThreadAllocatedBytes(ids);
      for (int i = 0; i < ids.length; i++) {
        if (bytes[i] >= 0) {
          ALLOCATED.put(ids[i], bytes[i]);
        }
      }
      long sum = 0;
      for (long b : ALLOCATED.values()) {
        sum += b;
      }
      return sum;
    }

    private static long rss() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
          if (line.startsWith("VmRSS:")) {
            return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
          }
        }
      } catch (IOException | RuntimeException e) {
        return -1;
      }
      return -1;
    }
  }

  /**
   * The baseline: a minimal, correct raw-Jetty async SSE broadcaster (per-connection queue, one
   * non-blocking writer per connection via WriteListener), with no hub, topics or history.
   */
  static final class RawSseServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final transient Set<Conn> conns = ConcurrentHashMap.newKeySet();
    private final AtomicLong seq = new AtomicLong();

    int count() {
      return conns.size();
    }

    void broadcast(byte[] payload) {
      byte[] event = ("id: " + seq.incrementAndGet() + "\ndata: " + new String(payload, StandardCharsets.US_ASCII)
          + "\n\n").getBytes(StandardCharsets.US_ASCII);
      for (Conn c : conns) {
        c.queue.add(event);
        c.drain();
      }
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.setContentType("text/event-stream");
      res.setHeader("Cache-Control", "no-cache");
      AsyncContext ctx = req.startAsync();
      ctx.setTimeout(0);
      Conn c = new Conn(ctx, res.getOutputStream());
      conns.add(c);
      res.getOutputStream().setWriteListener(c);
    }

    private final class Conn implements WriteListener {
      final AsyncContext ctx;
      final ServletOutputStream out;
      final Queue<byte[]> queue = new ConcurrentLinkedQueue<>();
      final AtomicInteger wip = new AtomicInteger();
      boolean needFlush;

      Conn(AsyncContext ctx, ServletOutputStream out) {
        this.ctx = ctx;
        this.out = out;
        queue.add("retry: 1000\n\n".getBytes(StandardCharsets.US_ASCII));
      }

      void drain() {
        if (wip.getAndIncrement() != 0) {
          return;
        }
        int missed = 1;
        do {
          try {
            while (out.isReady()) {
              byte[] b = queue.poll();
              if (b != null) {
                out.write(b);
                needFlush = true;
              } else if (needFlush) {
                needFlush = false;
                out.flush();
              } else {
                break;
              }
            }
          } catch (IOException | RuntimeException e) {
            onError(e);
            return;
          }
          missed = wip.addAndGet(-missed);
        } while (missed != 0);
      }

      @Override
      public void onWritePossible() {
        drain();
      }

      @Override
      public void onError(Throwable t) {
        conns.remove(this);
        try {
          ctx.complete();
        } catch (RuntimeException e) {
          // already completed
        }
      }
    }
  }
}
