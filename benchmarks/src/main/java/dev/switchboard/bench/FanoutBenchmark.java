package dev.switchboard.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * The fan-out benchmark: for each subscriber count N and each target (raw-Jetty SSE baseline,
 * Switchboard SSE, Switchboard long polling, raw Jakarta WebSocket baseline, Switchboard WebSocket) it starts the server in its own JVM, connects N
 * subscribers to one topic from one cheap NIO client, measures heap and RSS per idle connection,
 * then publishes 100-byte messages at stepped-up rates until delivery falls behind, and finally
 * measures latency at half the highest sustained rate. Prints a table and writes JSON.
 *
 * <p>Usage: {@code FanoutBenchmark [--quick] [--subscribers 1000,10000] [--step-seconds 5] [--targets a,b]
 * [--grpc-streams-per-connection 10] [--out FILE]}; targets are raw-jetty-sse, switchboard-sse,
 * switchboard-longpoll, raw-jakarta-ws, switchboard-ws, raw-grpc, switchboard-grpc. SSE and long
 * polling are compared with raw-jetty-sse, WebSocket with raw-jakarta-ws, gRPC server streaming with
 * raw-grpc (a bare grpc-java service writing the same messages).
 */
public final class FanoutBenchmark {
  record Target(String name, String serverKind, String path, LoadClient.Mode mode) {}

  record Step(int rate, long expected, long delivered, double deliveredPerSec, long p50, long p99, long max,
      boolean complete) {}

  record Result(String target, int subscribers, double connectSeconds, double heapPerConn, double rssPerConn,
      double maxDeliveredPerSec, Step half, List<Step> steps) {}

  static final List<Target> TARGETS = List.of(
      new Target("raw-jetty-sse", "raw", "/raw/events", LoadClient.Mode.SSE),
      new Target("switchboard-sse", "switchboard", "/v1/topics/bench/events", LoadClient.Mode.SSE),
      new Target("switchboard-longpoll", "switchboard", "/v1/topics/bench/messages", LoadClient.Mode.LONGPOLL),
      new Target("raw-jakarta-ws", "raw-ws", "/raw/ws", LoadClient.Mode.WS),
      new Target("switchboard-ws", "switchboard", "/v1/ws", LoadClient.Mode.WS),
      new Target("raw-grpc", "raw-grpc", "Subscribe", LoadClient.Mode.GRPC),
      new Target("switchboard-grpc", "switchboard", "Subscribe", LoadClient.Mode.GRPC));

  /** gRPC subscribers share connections (HTTP/2 streams), this many per connection. */
  static int grpcStreamsPerConnection = 10;

  private static final HttpClient CONTROL = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private FanoutBenchmark() {}

  public static void main(String[] args) throws Exception {
    boolean quick = false;
    List<Integer> ns = new ArrayList<>(List.of(1000, 10_000));
    double stepSeconds = 5;
    Path out = Path.of("benchmarks/target/fanout.json");
    List<String> only = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick": quick = true; ns = List.of(50); stepSeconds = 1; break;
        case "--subscribers":
          ns = new ArrayList<>();
          for (String s : args[++i].split(",")) {
            ns.add(Integer.parseInt(s.trim()));
          }
          break;
        case "--step-seconds": stepSeconds = Double.parseDouble(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        case "--targets": only = List.of(args[++i].split(",")); break;
        case "--grpc-streams-per-connection": grpcStreamsPerConnection = Integer.parseInt(args[++i]); break;
        default:
          System.err.println("unknown option " + args[i]
              + "\nusage: FanoutBenchmark [--quick] [--subscribers 1000,10000] [--step-seconds 5] [--targets a,b]"
              + " [--grpc-streams-per-connection 10] [--out FILE]");
          System.exit(2);
      }
    }
    List<Result> results = run(ns, stepSeconds, quick, only);
    String table = table(results);
    System.out.println(table);
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, json(results));
    System.out.println("wrote " + out);
  }

  static List<Result> run(List<Integer> ns, double stepSeconds, boolean quick, List<String> only) throws Exception {
    List<Result> results = new ArrayList<>();
    for (int n : ns) {
      for (Target t : TARGETS) {
        if (only != null && !only.contains(t.name())) {
          continue;
        }
        results.add(runOne(t, n, stepSeconds, quick));
      }
    }
    return results;
  }

  private static Result runOne(Target t, int n, double stepSeconds, boolean quick) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx2g", "-Xss256k", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
    String extra = System.getProperty("bench.serverJvmArgs", "").trim();
    if (!extra.isEmpty()) {
      cmd.addAll(List.of(extra.split("\\s+"))); // e.g. a JFR recording for profiling
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), BenchServer.class.getName(), t.serverKind()));
    Process server = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      String line;
      int port = -1;
      int grpcPort = -1;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("READY ")) {
          String[] ports = line.substring(6).trim().split(" ");
          port = Integer.parseInt(ports[0]);
          grpcPort = ports.length > 1 ? Integer.parseInt(ports[1]) : -1;
          break;
        }
      }
      if (port < 0) {
        throw new IllegalStateException("server did not start");
      }
      Thread drainer = new Thread(() -> r.lines().forEach(l -> { }));
      drainer.setDaemon(true);
      drainer.start();
      String base = "http://127.0.0.1:" + port;
      control(base + "/bench/publish?rate=1&seconds=1"); // seed: the topic exists before anyone polls
      long[] before = stats(base);
      try (FanoutClient client = t.mode() == LoadClient.Mode.GRPC
          ? new GrpcLoadClient("127.0.0.1", grpcPort, grpcStreamsPerConnection)
          : new LoadClient(new InetSocketAddress("127.0.0.1", port), t.mode(), t.path())) {
        long c0 = System.nanoTime();
        client.connect(n);
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (Integer.parseInt(control(base + "/bench/subscribers").trim()) < n) {
          if (System.nanoTime() > deadline || client.failed() > 0) {
            throw new IllegalStateException(t.name() + ": only " + control(base + "/bench/subscribers")
                + " of " + n + " subscribers connected (" + client.failed() + " failed)");
          }
          Thread.sleep(20);
        }
        double connectSeconds = (System.nanoTime() - c0) / 1e9;
        Thread.sleep(Long.getLong("bench.idlePauseMillis", 500));
        long[] after = stats(base);
        double heapPer = (after[0] - before[0]) / (double) n;
        double rssPer = (after[1] - before[1]) / (double) n;

        int[] ladder = quick ? new int[] {500, 2000} : new int[] {10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 800_000};
        List<Step> steps = new ArrayList<>();
        double best = 0;
        int bestRate = 1;
        for (int target : ladder) {
          int rate = Math.max(1, target / n);
          Step s = step(base, client, n, rate, stepSeconds);
          steps.add(s);
          System.err.printf(Locale.ROOT, "%s N=%d rate=%d msg/s -> %.0f deliveries/s p99=%.1fms %s%n", t.name(), n,
              rate, s.deliveredPerSec(), s.p99() / 1000.0, s.complete() ? "" : "(fell behind)");
          if (!s.complete()) {
            break;
          }
          if (s.deliveredPerSec() > best) {
            best = s.deliveredPerSec();
            bestRate = rate;
          }
        }
        Step half = step(base, client, n, Math.max(1, bestRate / 2), stepSeconds);
        return new Result(t.name(), n, connectSeconds, heapPer, rssPer, best, half, steps);
      }
    } finally {
      server.destroy();
      server.waitFor();
    }
  }

  private static Step step(String base, FanoutClient client, int n, int rate, double seconds) throws Exception {
    client.recorder().getIntervalHistogram(); // reset
    long d0 = client.delivered();
    long expected = (long) (rate * seconds) * n;
    long start = System.nanoTime();
    control(base + "/bench/publish?rate=" + rate + "&seconds=" + seconds);
    long drainUntil = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (client.delivered() - d0 < expected && System.nanoTime() < drainUntil) {
      Thread.sleep(5);
    }
    long end = System.nanoTime();
    long got = client.delivered() - d0;
    Histogram h = client.recorder().getIntervalHistogram();
    double perSec = got / ((end - start) / 1e9);
    return new Step(rate, expected, got, perSec, h.getValueAtPercentile(50), h.getValueAtPercentile(99),
        h.getMaxValue(), got >= expected * 0.99 && client.failed() == 0);
  }

  private static String control(String url) throws IOException, InterruptedException {
    HttpResponse<String> r = CONTROL.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException(url + " -> " + r.statusCode());
    }
    return r.body();
  }

  private static long[] stats(String base) throws IOException, InterruptedException {
    String s = control(base + "/bench/stats");
    long heap = Long.parseLong(s.replaceAll(".*heap=(\\d+).*", "$1"));
    long rss = Long.parseLong(s.replaceAll(".*rss=(-?\\d+).*", "$1"));
    return new long[] {heap, rss};
  }

  static String table(List<Result> results) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-22s %7s %12s %10s %14s %9s %9s %9s %11s %11s %9s%n",
        "target", "N", "max deliv/s", "vs raw", "@half p50 ms", "p99 ms", "max ms", "connect s",
        "heap B/conn", "RSS B/conn", "ovh heap"));
    for (Result r : results) {
      String baseline = r.target().endsWith("-ws") ? "raw-jakarta-ws"
          : r.target().endsWith("-grpc") ? "raw-grpc" : "raw-jetty-sse";
      Result raw = results.stream().filter(x -> x.subscribers() == r.subscribers() && x.target().equals(baseline))
          .findFirst().orElse(r);
      sb.append(String.format(Locale.ROOT, "%-22s %7d %12.0f %9.2fx %14.2f %9.2f %9.2f %9.2f %11.0f %11.0f %9.0f%n",
          r.target(), r.subscribers(), r.maxDeliveredPerSec(), r.maxDeliveredPerSec() / raw.maxDeliveredPerSec(),
          r.half().p50() / 1000.0, r.half().p99() / 1000.0, r.half().max() / 1000.0, r.connectSeconds(),
          r.heapPerConn(), r.rssPerConn(), r.heapPerConn() - raw.heapPerConn()));
    }
    return sb.toString();
  }

  static String json(List<Result> results) {
    StringBuilder sb = new StringBuilder("[\n");
    for (int i = 0; i < results.size(); i++) {
      Result r = results.get(i);
      sb.append(String.format(Locale.ROOT,
          "  {\"target\":\"%s\",\"subscribers\":%d,\"connectSeconds\":%.3f,\"heapBytesPerConnection\":%.0f,"
              + "\"rssBytesPerConnection\":%.0f,\"maxDeliveredPerSecond\":%.0f,\"atHalfRate\":{\"rate\":%d,"
              + "\"p50Micros\":%d,\"p99Micros\":%d,\"maxMicros\":%d},\"steps\":[",
          r.target(), r.subscribers(), r.connectSeconds(), r.heapPerConn(), r.rssPerConn(), r.maxDeliveredPerSec(),
          r.half().rate(), r.half().p50(), r.half().p99(), r.half().max()));
      for (int j = 0; j < r.steps().size(); j++) {
        Step s = r.steps().get(j);
        sb.append(String.format(Locale.ROOT,
            "%s{\"rate\":%d,\"expected\":%d,\"delivered\":%d,\"deliveredPerSecond\":%.0f,\"p99Micros\":%d,\"complete\":%b}",
            j == 0 ? "" : ",", s.rate(), s.expected(), s.delivered(), s.deliveredPerSec(), s.p99(), s.complete()));
      }
      sb.append("]}").append(i + 1 < results.size() ? ",\n" : "\n");
    }
    return sb.append("]\n").toString();
  }
}
