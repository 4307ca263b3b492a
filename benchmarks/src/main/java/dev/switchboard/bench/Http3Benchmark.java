package dev.switchboard.bench;

import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.http3.Http3;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.testkit.EmbeddedJetty;
import dev.switchboard.testkit.SelfSignedCertificate;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.HdrHistogram.ConcurrentHistogram;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * SSE fan-out over HTTP/3 against HTTP/2 over TLS, in paired rounds in one JVM: one hub on Jetty with
 * an HTTPS connector (h2) and a QUIC connector (h3) on the same port number; N SSE subscribers on one
 * topic, spread over C channels (one connection each: Jetty allows 128 concurrent streams per
 * connection); each round runs both protocols (alternating which goes first) and measures
 *
 * <ul>
 *   <li>throughput: a burst of B messages published in-process, deliveries per second until all N×B
 *       arrived;
 *   <li>latency: K messages, one every P ms, publish→receive p50/p99 (nanoTime in the payload);
 *   <li>server CPU per delivery: the process's CPU time less the client threads' during the burst
 *       (so the server's threads, the hub's, the publishing thread, GC and JIT), divided by the
 *       deliveries.
 * </ul>
 *
 * <p>{@code --profile FILE} records the last HTTP/3 burst with JFR and prints the top frames of the
 * server's threads. Clients and server share the machine (and the JVM): say so next to the figures.
 *
 * <pre>java -cp ... dev.switchboard.bench.Http3Benchmark [--n 1000] [--channels 10] [--burst 100]
 *     [--latency-messages 100] [--period-ms 20] [--rounds 3] [--profile h3.jfr]</pre>
 */
public final class Http3Benchmark {
  private static final String SERVER_THREADS = "bench-server";
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private Http3Benchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    int n = Integer.parseInt(opt.getOrDefault("n", "1000"));
    int channels = Integer.parseInt(opt.getOrDefault("channels", "10"));
    int burst = Integer.parseInt(opt.getOrDefault("burst", "100"));
    int latencyMessages = Integer.parseInt(opt.getOrDefault("latency-messages", "100"));
    int periodMs = Integer.parseInt(opt.getOrDefault("period-ms", "20"));
    int rounds = Integer.parseInt(opt.getOrDefault("rounds", "3"));
    String profile = opt.get("profile");
    Http3.requireAvailable();

    SelfSignedCertificate cert = SelfSignedCertificate.localhost();
    Hub hub = Hub.builder().broker(new InMemoryBroker(2000)).maxQueuedMessages(4096).maxQueuedBytes(64 << 20).build();
    QueuedThreadPool pool = new QueuedThreadPool(200, 8);
    pool.setName(SERVER_THREADS);
    Server server = new Server(pool);
    server.setStopTimeout(2000);
    HttpConfiguration config = new HttpConfiguration();
    var ssl = EmbeddedJetty.sslContextFactory(cert);
    ServerConnector tls = EmbeddedJetty.httpsConnector(server, ssl, config);
    tls.setHost("127.0.0.1");
    server.addConnector(tls);
    tls.open();
    Http3.addConnector(server, ssl, config, "127.0.0.1", tls.getLocalPort());
    server.setHandler(EmbeddedJetty.context(List.of(SseTransportFilter.builder(hub).build(), new HttpTransportFilter(hub))));
    server.start();
    String url = "https://localhost:" + tls.getLocalPort();
    System.out.printf(Locale.ROOT, "N=%d subscribers over %d channels, burst %d, latency %d msgs every %d ms, %d rounds, %d cores%n",
        n, channels, burst, latencyMessages, periodMs, rounds, Runtime.getRuntime().availableProcessors());
    List<double[]> ratios = new ArrayList<>();
    try {
      for (int r = 1; r <= rounds; r++) {
        Result[] res = new Result[2];
        boolean h3First = r % 2 == 0;
        for (int k = 0; k < 2; k++) {
          boolean h3 = (k == 0) == h3First;
          Path jfr = profile != null && h3 && r == rounds ? Path.of(profile) : null;
          res[h3 ? 1 : 0] = run(hub, url, cert, h3, n, channels, burst, latencyMessages, periodMs, "r" + r, jfr);
        }
        System.out.printf(Locale.ROOT, "round %d  h2: %s%n          h3: %s%n", r, res[0], res[1]);
        double[] ratio = {res[1].deliveriesPerSecond / res[0].deliveriesPerSecond,
            res[1].p50Micros / res[0].p50Micros, res[1].p99Micros / res[0].p99Micros,
            res[1].cpuMicrosPerDelivery / res[0].cpuMicrosPerDelivery};
        ratios.add(ratio);
        System.out.printf(Locale.ROOT, "          h3/h2: throughput %.2f×, p50 %.2f×, p99 %.2f×, server CPU/delivery %.2f×%n",
            ratio[0], ratio[1], ratio[2], ratio[3]);
      }
      String[] names = {"throughput", "p50", "p99", "server CPU per delivery"};
      for (int i = 0; i < names.length; i++) {
        final int j = i;
        double[] v = ratios.stream().mapToDouble(a -> a[j]).sorted().toArray();
        System.out.printf(Locale.ROOT, "median h3/h2 %s: %.2f× (rounds: %s)%n", names[i], v[v.length / 2],
            Arrays.toString(ratios.stream().mapToDouble(a -> Math.round(a[j] * 100) / 100.0).toArray()));
      }
      if (profile != null) {
        printProfile(Path.of(profile));
      }
    } catch (Exception e) {
      e.printStackTrace();
      throw e;
    } finally {
      hub.shutdown();
      server.stop();
    }
  }

  record Result(double deliveriesPerSecond, double p50Micros, double p99Micros, double cpuMicrosPerDelivery) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%,.0f deliveries/s, p50 %.0f µs, p99 %.0f µs, server CPU %.1f µs/delivery",
          deliveriesPerSecond, p50Micros, p99Micros, cpuMicrosPerDelivery);
    }
  }

  private static Result run(Hub hub, String url, SelfSignedCertificate cert, boolean h3, int n, int channels, int burst,
      int latencyMessages, int periodMs, String round, Path jfr) throws Exception {
    String topic = "bench-" + (h3 ? "h3-" : "h2-") + round;
    LongAdder received = new LongAdder();
    ConcurrentHistogram latency = new ConcurrentHistogram(3);
    AtomicLong recordFrom = new AtomicLong(Long.MAX_VALUE);
    MessageListener listener = m -> {
      received.increment();
      String text = m.text();
      int at = text.indexOf(':');
      long sent = Long.parseLong(text.substring(0, at));
      if (sent >= recordFrom.get()) {
        latency.recordValue(Math.max(0, (System.nanoTime() - sent) / 1000));
      }
    };
    Message marker = hub.publish(Message.text(topic, System.nanoTime() + ":marker")).toCompletableFuture().get();
    received.reset();
    List<Channel> open = new ArrayList<>();
    try {
      for (int c = 0; c < channels; c++) {
        Channel ch = Transports.open(TransportConfig.builder().transport("sse").url(url).http3(h3)
            .trustStore(cert.trustStore()).build());
        open.add(ch);
        for (int i = c; i < n; i += channels) {
          ch.subscribe(topic, marker.id(), listener);
        }
      }
      // Every subscriber is in place once a probe reaches all of them.
      hub.publish(Message.text(topic, System.nanoTime() + ":probe")).toCompletableFuture().get();
      await(received, n, Duration.ofSeconds(120), (h3 ? "h3" : "h2") + " subscribers connected");
      System.err.println((h3 ? "h3" : "h2") + ": " + n + " subscribers connected");
      received.reset();

      Recording recording = null;
      if (jfr != null) {
        recording = new Recording();
        recording.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(10));
        recording.start();
      }
      long cpu0 = serverCpuNanos();
      long t0 = System.nanoTime();
      for (int i = 0; i < burst; i++) {
        hub.publish(Message.text(topic, System.nanoTime() + ":" + "x".repeat(80)));
      }
      await(received, (long) n * burst, Duration.ofSeconds(300), "burst delivered");
      long elapsed = System.nanoTime() - t0;
      long cpu = serverCpuNanos() - cpu0;
      if (recording != null) {
        recording.stop();
        recording.dump(jfr);
        recording.close();
      }
      received.reset();

      recordFrom.set(System.nanoTime());
      for (int i = 0; i < latencyMessages; i++) {
        hub.publish(Message.text(topic, System.nanoTime() + ":" + "y".repeat(80)));
        Thread.sleep(periodMs);
      }
      await(received, (long) n * latencyMessages, Duration.ofSeconds(300), "latency messages delivered");
      double deliveries = (double) n * burst;
      return new Result(deliveries / (elapsed / 1e9), latency.getValueAtPercentile(50), latency.getValueAtPercentile(99),
          cpu / 1000.0 / deliveries);
    } finally {
      for (Channel c : open) {
        c.close();
      }
    }
  }

  private static void await(LongAdder counter, long target, Duration limit, String what) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (counter.sum() < target) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(what + ": " + counter.sum() + " of " + target + " after " + limit);
      }
      Thread.sleep(2);
    }
  }

  /**
   * The process's CPU time less the client threads' (Jetty's HTTP/3 client pool, the JDK HttpClient's
   * threads): the server's threads, the hub's, the publishing thread, GC and JIT.
   */
  private static long serverCpuNanos() {
    long sum = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    for (ThreadInfo t : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
      if (t != null && (t.getThreadName().startsWith("switchboard-h3-client") || t.getThreadName().startsWith("HttpClient-"))) {
        long c = THREADS.getThreadCpuTime(t.getThreadId());
        if (c > 0) {
          sum -= c;
        }
      }
    }
    return sum;
  }

  /** The top frames (self time) of the server's threads in the JFR recording. */
  private static void printProfile(Path jfr) throws Exception {
    Map<String, Integer> top = new HashMap<>();
    Map<String, Integer> packages = new HashMap<>();
    int total = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(jfr)) {
      if (!e.getEventType().getName().equals("jdk.ExecutionSample") || e.getThread("sampledThread") == null
          || e.getThread("sampledThread").getJavaName() == null
          || !e.getThread("sampledThread").getJavaName().startsWith(SERVER_THREADS) || e.getStackTrace() == null
          || e.getStackTrace().getFrames().isEmpty()) {
        continue;
      }
      total++;
      RecordedFrame f = e.getStackTrace().getFrames().get(0);
      String method = f.getMethod().getType().getName() + "." + f.getMethod().getName();
      top.merge(method, 1, Integer::sum);
      String pkg = f.getMethod().getType().getName();
      pkg = pkg.contains("quiche") || pkg.contains("jna") ? "quiche/JNA (native QUIC+TLS)"
          : pkg.startsWith("org.eclipse.jetty.quic") ? "jetty-quic"
          : pkg.startsWith("org.eclipse.jetty.http3") ? "jetty-http3"
          : pkg.startsWith("dev.switchboard") ? "switchboard"
          : pkg.startsWith("org.eclipse.jetty") ? "jetty (core)"
          : pkg.startsWith("sun.nio") || pkg.startsWith("java.nio") ? "JDK NIO" : "other JDK";
      packages.merge(pkg, 1, Integer::sum);
    }
    System.out.println("profile of the server threads, last HTTP/3 burst (" + total + " samples, top frame):");
    int t = total;
    packages.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .forEach(en -> System.out.printf(Locale.ROOT, "  %5.1f%%  %s%n", 100.0 * en.getValue() / t, en.getKey()));
    top.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(15)
        .forEach(en -> System.out.printf(Locale.ROOT, "  %5.1f%%  %s%n", 100.0 * en.getValue() / t, en.getKey()));
  }
}
