package dev.switchboard.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
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
 * The fan-out benchmark: for each subscriber count N and each target it starts the server in its own
 * JVM, connects N subscribers to one topic from one cheap NIO client, measures heap and RSS per idle
 * connection and the time to connect them, then publishes 100-byte messages at stepped-up rates until
 * delivery falls behind, and finally measures latency and server CPU at half the highest rate that
 * kept p99 within 100 ms, and CPU time and bytes allocated per delivery in one more step at the same
 * offered rate for every target ({@link #costRate}; the ratios to the raw baseline are the comparable
 * cost figures). Prints a table, writes JSON and draws PNG charts ({@link FanoutCharts}).
 *
 * <p>Targets: Switchboard ({@code switchboard-sse}, {@code -longpoll}, {@code -ws}, {@code -grpc});
 * the containers' own limits ({@code raw-jetty-sse}, {@code raw-jakarta-ws}, {@code raw-grpc}); what
 * users would pick instead ({@code spring-sse}, {@code spring-ws}: {@link SpringPeer};
 * {@code atmosphere-sse}, {@code atmosphere-ws}: {@link AtmospherePeer}); on request only,
 * {@code switchboard-metrics-sse} and {@code -ws}: the same hub with {@code SwitchboardMetrics} bound,
 * to compare with {@code switchboard-sse} and {@code -ws}; {@code switchboard-unbatched-ws}: WebSocket
 * without coalesced writes ({@code maxWriteBatch(0)}), to compare with {@code switchboard-ws}. Each is compared with the
 * raw baseline of its protocol ({@link #baselineOf}).
 *
 * <p>Usage: {@code FanoutBenchmark [--quick] [--subscribers 1000,10000] [--step-seconds 3]
 * [--targets a,b] [--grpc-streams-per-connection 10] [--rounds 1] [--cost-rate 20000] [--cost-seconds 5]
 * [--out FILE] [--charts DIR]}; {@code --targets} runs those targets, in the order given, in each
 * round; with {@code --rounds K} every target runs K times, interleaved with its baseline, and the table shows the
 * median round and each round's ratio to its baseline; the JSON then holds the median rows and every
 * round ({@link #jsonRounds}), so the ratios can be recomputed from it. {@code --replot FILE.json}
 * prints the table and draws the charts of an earlier run's JSON (the median rows of a rounds file).
 */
public final class FanoutBenchmark {
  record Target(String name, String serverKind, String path, LoadClient.Mode mode) {}

  /**
   * One publish rate held for a step: what arrived, how late (µs), the server's CPU time and the
   * bytes its threads allocated (-1 when not measured: files written before issue 22).
   */
  record Step(int rate, long expected, long delivered, double deliveredPerSec, long p50, long p99, long max,
      boolean complete, long serverCpuNanos, long serverAllocBytes) {
    Step(int rate, long expected, long delivered, double deliveredPerSec, long p50, long p99, long max,
        boolean complete, long serverCpuNanos) {
      this(rate, expected, delivered, deliveredPerSec, p50, p99, max, complete, serverCpuNanos, -1);
    }

    /** Within the latency bound: everything arrived and p99 stayed at or under {@link #P99_BOUND_MICROS}. */
    boolean sustained() {
      return complete && p99 <= P99_BOUND_MICROS;
    }

    /** Server CPU milliseconds per 100,000 deliveries in this step. */
    double cpuMillisPer100k() {
      return delivered == 0 ? 0 : serverCpuNanos / 1e6 / (delivered / 1e5);
    }

    /** Server CPU microseconds per delivery. */
    double cpuMicrosPerDelivery() {
      return delivered == 0 ? 0 : serverCpuNanos / 1e3 / delivered;
    }

    /** Bytes the server allocated per delivery, or -1 when not measured. */
    double allocBytesPerDelivery() {
      return delivered == 0 || serverAllocBytes < 0 ? -1 : (double) serverAllocBytes / delivered;
    }
  }

  /**
   * One target at one N. {@code maxDeliveredPerSec}: best step where everything arrived;
   * {@code maxSustainedPerSec}: best step that also kept p99 ≤ 100 ms (0 when even the lowest rate
   * did not); {@code half}: the step at half the rate of the sustained best (of the delivered best
   * when nothing was sustained); {@code cost}: the step at the rate offered to every target alike
   * ({@link #costRate}), where CPU and allocation per delivery are compared (null in files written
   * before issue 22).
   */
  record Result(String target, int subscribers, double connectSeconds, double heapPerConn, double rssPerConn,
      double maxDeliveredPerSec, double maxSustainedPerSec, Step half, List<Step> steps, Step cost) {
    Result(String target, int subscribers, double connectSeconds, double heapPerConn, double rssPerConn,
        double maxDeliveredPerSec, double maxSustainedPerSec, Step half, List<Step> steps) {
      this(target, subscribers, connectSeconds, heapPerConn, rssPerConn, maxDeliveredPerSec, maxSustainedPerSec,
          half, steps, null);
    }
  }

  /**
   * Deliveries per second offered to every target, at every N, for the cost step (publish rate
   * {@code costRate / N} msg/s, at least 1): low enough for every Switchboard target and raw baseline
   * to deliver everything, so CPU and allocation per delivery are compared at the same load.
   */
  static int costRate = 20_000;

  /** Length of the cost step, seconds. */
  static double costSeconds = 5;

  /**
   * Only the cost: one warm-up step at the cost rate, then the cost step; no ladder (throughput
   * figures are 0). For profiling and for quick paired cost rounds.
   */
  static boolean costOnly;

  /** The latency bound of "sustained" throughput. */
  static final long P99_BOUND_MICROS = 100_000;

  /** A step whose p99 exceeds this is the last of the ladder: higher rates only grow the backlog. */
  static final long OVERLOAD_MICROS = 1_000_000;

  /** Run only when named in {@code --targets}: the same hub with its Micrometer meters bound. */
  static final List<Target> ON_REQUEST_TARGETS = List.of(
      new Target("switchboard-metrics-sse", "switchboard-metrics", "/v1/topics/bench/events", LoadClient.Mode.SSE),
      new Target("switchboard-metrics-ws", "switchboard-metrics", "/v1/ws", LoadClient.Mode.WS),
      new Target("switchboard-unbatched-ws", "switchboard-unbatched", "/v1/ws", LoadClient.Mode.WS));

  static final List<Target> TARGETS = List.of(
      new Target("raw-jetty-sse", "raw", "/raw/events", LoadClient.Mode.SSE),
      new Target("switchboard-sse", "switchboard", "/v1/topics/bench/events", LoadClient.Mode.SSE),
      new Target("switchboard-longpoll", "switchboard", "/v1/topics/bench/messages", LoadClient.Mode.LONGPOLL),
      new Target("raw-jakarta-ws", "raw-ws", "/raw/ws", LoadClient.Mode.WS),
      new Target("switchboard-ws", "switchboard", "/v1/ws", LoadClient.Mode.WS),
      new Target("raw-grpc", "raw-grpc", "Subscribe", LoadClient.Mode.GRPC),
      new Target("switchboard-grpc", "switchboard", "Subscribe", LoadClient.Mode.GRPC),
      new Target("spring-sse", "spring", "/spring/events", LoadClient.Mode.SSE),
      new Target("spring-ws", "spring", "/spring/ws", LoadClient.Mode.WS),
      new Target("atmosphere-sse", "atmosphere", AtmospherePeer.PATH + "?X-Atmosphere-Transport=sse", LoadClient.Mode.SSE),
      new Target("atmosphere-ws", "atmosphere", AtmospherePeer.PATH + "?X-Atmosphere-Transport=websocket",
          LoadClient.Mode.WS));

  /** gRPC subscribers share connections (HTTP/2 streams), this many per connection. */
  static int grpcStreamsPerConnection = 10;

  private static final HttpClient CONTROL = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private FanoutBenchmark() {}

  public static void main(String[] args) throws Exception {
    boolean quick = false;
    List<Integer> ns = new ArrayList<>(List.of(1000, 10_000));
    double stepSeconds = 2;
    Path out = Path.of("benchmarks/target/fanout.json");
    List<String> only = null;
    Path charts = null;
    int rounds = 1;
    Path replot = null;
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
        case "--charts": charts = Path.of(args[++i]); break;
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--replot": replot = Path.of(args[++i]); break;
        case "--targets": only = List.of(args[++i].split(",")); break;
        case "--grpc-streams-per-connection": grpcStreamsPerConnection = Integer.parseInt(args[++i]); break;
        case "--cost-rate": costRate = Integer.parseInt(args[++i]); break;
        case "--cost-seconds": costSeconds = Double.parseDouble(args[++i]); break;
        case "--cost-only": costOnly = true; break;
        default:
          System.err.println("unknown option " + args[i]
              + "\nusage: FanoutBenchmark [--quick] [--subscribers 1000,10000] [--step-seconds 5] [--targets a,b]"
              + " [--grpc-streams-per-connection 10] [--rounds 1] [--cost-rate 20000] [--cost-seconds 5]"
              + " [--cost-only] [--out FILE] [--charts DIR]"
              + "\n       FanoutBenchmark --replot FILE.json [--charts DIR]   (table and charts of an earlier run)");
          System.exit(2);
      }
    }
    if (replot != null) {
      List<Result> earlier = readJson(Files.readString(replot));
      System.out.println(table(earlier) + "\n" + costTable(earlier));
      for (Path png : FanoutCharts.write(earlier, charts != null ? charts : replot.toAbsolutePath().getParent())) {
        System.out.println("wrote " + png);
      }
      return;
    }
    List<List<Result>> all = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      all.add(run(ns, stepSeconds, quick, only));
    }
    List<Result> results = medianRound(all);
    String table = table(results) + "\n" + costTable(results) + (rounds > 1 ? roundRatios(all) : "");
    System.out.println(table);
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, rounds > 1 ? jsonRounds(results, all) : json(results));
    System.out.println("wrote " + out);
    for (Path png : FanoutCharts.write(results, charts != null ? charts : out.toAbsolutePath().getParent())) {
      System.out.println("wrote " + png);
    }
  }

  /**
   * For each target and N, the round whose max deliv/s is the median of all rounds (the upper median
   * for an even count), so that every figure of a row comes from one real run.
   */
  static List<Result> medianRound(List<List<Result>> rounds) {
    List<Result> out = new ArrayList<>();
    for (int i = 0; i < rounds.get(0).size(); i++) {
      List<Result> same = new ArrayList<>();
      for (List<Result> round : rounds) {
        same.add(round.get(i));
      }
      same.sort(java.util.Comparator.comparingDouble(Result::maxDeliveredPerSec));
      out.add(same.get(same.size() / 2));
    }
    return out;
  }

  /** Each round's ratio to the baseline measured in the same round, and their median. */
  static String roundRatios(List<List<Result>> rounds) {
    StringBuilder sb = new StringBuilder("\nper-round ratios to the raw baseline of the same round"
        + " (max deliv/s | p99<=100ms), median last:\n");
    for (int i = 0; i < rounds.get(0).size(); i++) {
      Result first = rounds.get(0).get(i);
      if (first.target().startsWith("raw-")) {
        continue;
      }
      List<Double> max = new ArrayList<>();
      List<Double> sustained = new ArrayList<>();
      List<Double> cpu = new ArrayList<>();
      List<Double> alloc = new ArrayList<>();
      for (List<Result> round : rounds) {
        Result r = round.get(i);
        Result raw = baselineIn(round, r).orElse(null);
        if (raw == null) {
          continue;
        }
        if (raw.maxDeliveredPerSec() > 0) { // 0 in --cost-only runs: no ladder
          max.add(r.maxDeliveredPerSec() / raw.maxDeliveredPerSec());
        }
        if (raw.maxSustainedPerSec() > 0) {
          sustained.add(r.maxSustainedPerSec() / raw.maxSustainedPerSec());
        }
        if (comparableCost(r, raw)) {
          cpu.add(r.cost().cpuMicrosPerDelivery() / raw.cost().cpuMicrosPerDelivery());
          alloc.add(r.cost().allocBytesPerDelivery() - raw.cost().allocBytesPerDelivery());
        }
      }
      sb.append(String.format(Locale.ROOT, "%-22s N=%-6d %s | %s%s%n", first.target(), first.subscribers(),
          ratios(max), ratios(sustained), cpu.isEmpty() ? ""
              : "\n" + " ".repeat(31) + "CPU/delivery " + ratios(cpu) + " | alloc B/delivery - raw " + diffs(alloc)));
    }
    return sb.toString();
  }

  /** Both have a cost step that delivered everything with allocation measured. */
  static boolean comparableCost(Result r, Result raw) {
    return r.cost() != null && raw.cost() != null && r.cost().delivered() > 0 && raw.cost().delivered() > 0
        && r.cost().allocBytesPerDelivery() >= 0 && raw.cost().allocBytesPerDelivery() >= 0;
  }

  private static String diffs(List<Double> values) {
    return listWithMedian(values, "%+.0f", "-> %+.0f B");
  }

  private static String ratios(List<Double> values) {
    return values.isEmpty() ? "-" : listWithMedian(values, "%.2f", "-> %.2fx");
  }

  /** Each value in {@code each}'s format, then the median (the mean of the middle two for an even count). */
  private static String listWithMedian(List<Double> values, String each, String median) {
    StringBuilder sb = new StringBuilder();
    for (double v : values) {
      sb.append(String.format(Locale.ROOT, each, v)).append(' ');
    }
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    double m = sorted.size() % 2 == 1 ? sorted.get(sorted.size() / 2)
        : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
    return sb.append(String.format(Locale.ROOT, median, m)).toString();
  }

  static List<Result> run(List<Integer> ns, double stepSeconds, boolean quick, List<String> only) throws Exception {
    List<Result> results = new ArrayList<>();
    for (int n : ns) {
      List<Target> candidates = new ArrayList<>(TARGETS);
      if (only != null) {
        // In the order given: where a target runs in a round can change its figures (see benchmarks.md).
        candidates.addAll(ON_REQUEST_TARGETS);
        candidates.sort(java.util.Comparator.comparingInt(t -> only.indexOf(t.name())));
      }
      for (Target t : candidates) {
        if (only != null && !only.contains(t.name())) {
          continue;
        }
        results.add(runWithRetry(t, n, stepSeconds, quick));
      }
    }
    return results;
  }

  /**
   * {@link #runOne}, again in a fresh server (at most twice more) when the subscribers could not all
   * connect: on a loaded machine handshakes time out now and then, and one such target must not end a
   * run of many rounds. A target that fails three times in a row still fails the run.
   */
  private static Result runWithRetry(Target t, int n, double stepSeconds, boolean quick) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return runOne(t, n, stepSeconds, quick);
      } catch (IllegalStateException e) {
        if (attempt == 3) {
          throw e;
        }
        System.err.println(e.getMessage() + ": trying again in a fresh server");
      }
    }
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

        int costMsgRate = Math.max(1, (int) Math.round((double) costRate / n));
        if (costOnly && !quick) {
          step(base, client, n, costMsgRate, costSeconds); // warm-up (JIT), not recorded
          Step cost = costStep(t, n, base, client, costMsgRate);
          return new Result(t.name(), n, connectSeconds, heapPer, rssPer, 0, 0, cost, List.of(cost), cost);
        }
        int[] rates = quick ? new int[] {Math.max(1, 500 / n), Math.max(1, 2000 / n)} : ladder(n);
        if (!quick) {
          step(base, client, n, rates[0], stepSeconds); // warm-up (JIT), not recorded
        }
        List<Step> steps = new ArrayList<>();
        double best = 0;
        int bestRate = 1;
        double sustained = 0;
        int sustainedRate = 0;
        for (int rate : rates) {
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
          if (s.sustained() && s.deliveredPerSec() > sustained) {
            sustained = s.deliveredPerSec();
            sustainedRate = rate;
          }
          if (s.p99() > OVERLOAD_MICROS) {
            break; // a backlog of over a second: the server is past what it can deliver
          }
        }
        // A server that cannot keep p99 within the bound even at the ladder's first rate is probed at
        // half, a quarter, ... of it (down to 1 msg/s), so it gets a sustained rate too.
        for (int rate = rates[0] / 2; !quick && sustained == 0 && rate >= 1; rate /= 2) {
          Step s = step(base, client, n, rate, stepSeconds);
          steps.add(0, s);
          System.err.printf(Locale.ROOT, "%s N=%d rate=%d msg/s -> %.0f deliveries/s p99=%.1fms (below the ladder)%n",
              t.name(), n, rate, s.deliveredPerSec(), s.p99() / 1000.0);
          if (s.sustained()) {
            sustained = s.deliveredPerSec();
            sustainedRate = rate;
          }
        }
        // The ladder brackets the sustained rate within ×1.4, too coarse for a 0.9× target (one step
        // down is already 0.71×). Two geometric bisections between the best sustained rate and the
        // next rate tried narrow it to within ×1.09, for every target alike.
        int lo = sustainedRate;
        int hi = nextRateTried(steps, sustainedRate);
        for (int probe = 0; !quick && lo > 0 && hi > 0 && probe < REFINEMENTS; probe++) {
          int mid = (int) Math.round(Math.sqrt((double) lo * hi));
          if (mid <= lo || mid >= hi) {
            break;
          }
          Step s = step(base, client, n, mid, stepSeconds);
          insertByRate(steps, s);
          System.err.printf(Locale.ROOT, "%s N=%d rate=%d msg/s -> %.0f deliveries/s p99=%.1fms (refining)%n",
              t.name(), n, mid, s.deliveredPerSec(), s.p99() / 1000.0);
          if (s.sustained()) {
            lo = mid;
            if (s.deliveredPerSec() > sustained) {
              sustained = s.deliveredPerSec();
              sustainedRate = mid;
            }
          } else {
            hi = mid;
          }
        }
        best = Math.max(best, bestComplete(steps)); // a refinement step may beat every ladder step
        Step half = step(base, client, n, Math.max(1, (sustainedRate > 0 ? sustainedRate : bestRate) / 2), stepSeconds);
        // The same offered load for every target, after the ladder and one more unrecorded step at that
        // load, so that every target gets at least that much warm-up however early its ladder stopped
        // (cold code allocates what the JIT would scalar-replace): what a delivery costs.
        if (!quick) {
          step(base, client, n, costMsgRate, costSeconds);
        }
        Step cost = quick ? half : costStep(t, n, base, client, costMsgRate);
        return new Result(t.name(), n, connectSeconds, heapPer, rssPer, best, sustained, half, steps, cost);
      }
    } finally {
      server.destroy();
      server.waitFor();
    }
  }

  private static Step costStep(Target t, int n, String base, FanoutClient client, int rate) throws Exception {
    Step cost = step(base, client, n, rate, costSeconds);
    System.err.printf(Locale.ROOT, "%s N=%d rate=%d msg/s -> %.0f deliveries/s: %.2f µs CPU, %.0f B allocated"
        + " per delivery (cost step)%s%n", t.name(), n, cost.rate(), cost.deliveredPerSec(),
        cost.cpuMicrosPerDelivery(), cost.allocBytesPerDelivery(), cost.complete() ? "" : " (fell behind)");
    return cost;
  }

  /** Delivered/s of the best step where everything arrived, 0 when none did. */
  static double bestComplete(List<Step> steps) {
    return steps.stream().filter(Step::complete).mapToDouble(Step::deliveredPerSec).max().orElse(0);
  }

  /** Bisection steps between the best sustained rate and the next one tried. */
  static final int REFINEMENTS = 2;

  /** The lowest rate tried above {@code rate}, or 0 when none was. */
  static int nextRateTried(List<Step> steps, int rate) {
    return steps.stream().mapToInt(Step::rate).filter(r -> r > rate).min().orElse(0);
  }

  private static void insertByRate(List<Step> steps, Step s) {
    int i = 0;
    while (i < steps.size() && steps.get(i).rate() < s.rate()) {
      i++;
    }
    steps.add(i, s);
  }

  /**
   * Publish rates (messages/s) for N subscribers: deliveries/s from 10,000 to 1,000,000 in steps of
   * ×1.4, so the sustained figure is found to within 40 % rather than a factor of two.
   */
  static int[] ladder(int n) {
    java.util.TreeSet<Integer> rates = new java.util.TreeSet<>();
    for (double d = 10_000; d <= 1_000_000; d *= 1.4) {
      rates.add(Math.max(1, (int) Math.round(d / n)));
    }
    return rates.stream().mapToInt(Integer::intValue).toArray();
  }

  private static Step step(String base, FanoutClient client, int n, int rate, double seconds) throws Exception {
    settle(client);
    client.recorder().getIntervalHistogram(); // reset
    long d0 = client.delivered();
    long expected = (long) (rate * seconds) * n;
    long[] cost0 = cost(base);
    long start = System.nanoTime();
    control(base + "/bench/publish?rate=" + rate + "&seconds=" + seconds);
    long drainUntil = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (client.delivered() - d0 < expected && System.nanoTime() < drainUntil) {
      Thread.sleep(5);
    }
    long end = System.nanoTime();
    long[] cost1 = cost(base);
    long got = client.delivered() - d0;
    Histogram h = client.recorder().getIntervalHistogram();
    // Over at least the step's length: a step of few messages must not count as faster than offered.
    double perSec = got / Math.max((end - start) / 1e9, seconds);
    return new Step(rate, expected, got, perSec, h.getValueAtPercentile(50), h.getValueAtPercentile(99),
        h.getMaxValue(), got >= expected * 0.99 && client.failed() == 0, cost1[0] - cost0[0], cost1[1] - cost0[1]);
  }

  /** The server's process CPU time (ns) and the bytes its threads have allocated so far. */
  private static long[] cost(String base) throws IOException, InterruptedException {
    String[] s = control(base + "/bench/cost").trim().split(" ");
    return new long[] {Long.parseLong(s[0]), Long.parseLong(s[1])};
  }

  /**
   * Waits until no delivery has arrived for {@link #QUIET_MILLIS} (at most a minute): a step that fell
   * behind leaves a backlog still arriving, which must not be counted, nor its latency recorded, in
   * the next step (the probes below the ladder, the refinement and the half-rate step follow one).
   */
  static void settle(FanoutClient client) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
    long last = client.delivered();
    long quietSince = System.nanoTime();
    while (System.nanoTime() - quietSince < QUIET_MILLIS * 1_000_000L && System.nanoTime() < deadline) {
      Thread.sleep(20);
      long now = client.delivered();
      if (now != last) {
        last = now;
        quietSince = System.nanoTime();
      }
    }
  }

  /** How long no delivery must arrive before a step starts. */
  static final long QUIET_MILLIS = 200;

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

  /** The baseline a target is compared with: the raw container or library for its protocol. */
  static String baselineOf(String target) {
    return target.endsWith("-ws") ? "raw-jakarta-ws" : target.endsWith("-grpc") ? "raw-grpc" : "raw-jetty-sse";
  }

  /** The result of {@code r}'s baseline at the same N among {@code results}. */
  static java.util.Optional<Result> baselineIn(List<Result> results, Result r) {
    String baseline = baselineOf(r.target());
    return results.stream().filter(x -> x.subscribers() == r.subscribers() && x.target().equals(baseline))
        .findFirst();
  }

  static String table(List<Result> results) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-22s %6s %11s %7s %11s %7s %8s %8s %8s %9s %9s %9s %9s %9s%n",
        "target", "N", "max deliv/s", "vs raw", "p99<=100ms", "vs raw", "p50 ms", "p99 ms", "max ms",
        "connect s", "heap B/c", "RSS B/c", "ovh heap", "CPU ms/1e5"));
    for (Result r : results) {
      Result raw = baselineIn(results, r).orElse(r);
      sb.append(String.format(Locale.ROOT,
          "%-22s %6d %11.0f %7s %11.0f %7s %8.2f %8.2f %8.2f %9.2f %9.0f %9.0f %9.0f %9.1f%n",
          r.target(), r.subscribers(), r.maxDeliveredPerSec(), raw.maxDeliveredPerSec() > 0
              ? String.format(Locale.ROOT, "%.2fx", r.maxDeliveredPerSec() / raw.maxDeliveredPerSec()) : "-",
          r.maxSustainedPerSec(), raw.maxSustainedPerSec() > 0
              ? String.format(Locale.ROOT, "%.2fx", r.maxSustainedPerSec() / raw.maxSustainedPerSec()) : "-",
          r.half().p50() / 1000.0, r.half().p99() / 1000.0, r.half().max() / 1000.0, r.connectSeconds(),
          r.heapPerConn(), r.rssPerConn(), r.heapPerConn() - raw.heapPerConn(), r.half().cpuMillisPer100k()));
    }
    return sb.toString();
  }

  /**
   * CPU and allocation per delivery at the offered rate every target had alike (the cost step), as
   * ratios to (CPU) and differences from (allocation) the raw baseline of the same run.
   */
  static String costTable(List<Result> results) {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
        "cost per delivery at the same offered load for every target (%,d deliveries/s unless the row's rate"
            + " says otherwise), server process CPU and bytes allocated by all server threads:%n", costRate));
    sb.append(String.format(Locale.ROOT, "%-22s %6s %6s %9s %9s %13s %7s %13s %9s%n", "target", "N", "msg/s",
        "deliv/s", "complete", "CPU µs/deliv", "vs raw", "alloc B/deliv", "- raw B"));
    for (Result r : results) {
      Step c = r.cost();
      if (c == null) {
        continue;
      }
      Result raw = baselineIn(results, r).orElse(r);
      boolean both = comparableCost(r, raw);
      sb.append(String.format(Locale.ROOT, "%-22s %6d %6d %9.0f %9s %13.2f %7s %13.0f %9s%n", r.target(),
          r.subscribers(), c.rate(), c.deliveredPerSec(), c.complete() ? "yes" : "NO", c.cpuMicrosPerDelivery(),
          both ? String.format(Locale.ROOT, "%.2fx", c.cpuMicrosPerDelivery() / raw.cost().cpuMicrosPerDelivery()) : "-",
          c.allocBytesPerDelivery(),
          both ? String.format(Locale.ROOT, "%+.0f", c.allocBytesPerDelivery() - raw.cost().allocBytesPerDelivery())
              : "-"));
    }
    return sb.toString();
  }

  /** {@code {"median":[rows], "rounds":[[rows of round 1], …]}}: the rows are {@link #json}'s. */
  static String jsonRounds(List<Result> median, List<List<Result>> rounds) {
    StringBuilder sb = new StringBuilder("{\"median\":").append(json(median)).append(",\"rounds\":[\n");
    for (int i = 0; i < rounds.size(); i++) {
      sb.append(i == 0 ? "" : ",\n").append(json(rounds.get(i)).strip());
    }
    return sb.append("]}\n").toString();
  }

  /**
   * The results in {@link #json}'s format, or the median rows of {@link #jsonRounds}'s. A step at half
   * rate keeps its latency and CPU per 100,000 deliveries (all the JSON records of it).
   */
  static List<Result> readJson(String text) throws IOException {
    try (JsonParser p = new JsonFactory().createParser(text)) {
      JsonToken first = p.nextToken();
      if (first == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          p.nextToken();
          if (field.equals("median")) {
            return readResults(p);
          }
          p.skipChildren();
        }
        throw new IOException("a rounds file without \"median\" rows");
      }
      if (first != JsonToken.START_ARRAY) {
        throw new IOException("not a fan-out result file: expected [ or {, found " + first);
      }
      return readResults(p);
    }
  }

  /** Reads an array of result objects; the parser is on its START_ARRAY. */
  @SuppressWarnings("unchecked")
  private static List<Result> readResults(JsonParser p) throws IOException {
    List<Result> out = new ArrayList<>();
    while (p.nextToken() == JsonToken.START_OBJECT) {
      java.util.Map<String, Object> r = readObject(p);
      String target = String.valueOf(r.get("target"));
      int n = num(r, "subscribers", target).intValue();
      java.util.Map<String, Object> half = field(r, "atHalfRate", java.util.Map.class, target);
      List<Step> steps = new ArrayList<>();
      for (Object o : field(r, "steps", List.class, target)) {
        steps.add(readStep(o, target));
      }
      Step cost = r.containsKey("atCostRate") ? readStep(r.get("atCostRate"), target) : null;
      Step halfStep = new Step(num(half, "rate", target).intValue(), 100_000, 100_000, 0,
          num(half, "p50Micros", target).longValue(), num(half, "p99Micros", target).longValue(),
          num(half, "maxMicros", target).longValue(), true,
          (long) (num(half, "serverCpuMillisPer100k", target).doubleValue() * 1e6));
      out.add(new Result(target, n, num(r, "connectSeconds", target).doubleValue(),
          num(r, "heapBytesPerConnection", target).doubleValue(), num(r, "rssBytesPerConnection", target).doubleValue(),
          num(r, "maxDeliveredPerSecond", target).doubleValue(), num(r, "maxSustainedPerSecond", target).doubleValue(),
          halfStep, steps, cost));
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Step readStep(Object o, String target) throws IOException {
    if (!(o instanceof java.util.Map)) {
      throw new IOException("fan-out result " + target + ": a step is not an object: " + o);
    }
    java.util.Map<String, Object> s = (java.util.Map<String, Object>) o;
    Object alloc = s.get("serverAllocBytes"); // absent in files written before issue 22
    return new Step(num(s, "rate", target).intValue(), num(s, "expected", target).longValue(),
        num(s, "delivered", target).longValue(), num(s, "deliveredPerSecond", target).doubleValue(),
        num(s, "p50Micros", target).longValue(), num(s, "p99Micros", target).longValue(),
        num(s, "maxMicros", target).longValue(), field(s, "complete", Boolean.class, target),
        (long) (num(s, "serverCpuMillis", target).doubleValue() * 1e6),
        alloc == null ? -1 : num(s, "serverAllocBytes", target).longValue());
  }

  private static Number num(java.util.Map<String, Object> o, String name, String target) throws IOException {
    return field(o, name, Number.class, target);
  }

  @SuppressWarnings("unchecked")
  private static <T> T field(java.util.Map<String, Object> o, String name, Class<? super T> type, String target)
      throws IOException {
    Object v = o.get(name);
    if (!type.isInstance(v)) {
      throw new IOException("fan-out result " + target + ": \"" + name + "\" is not a " + type.getSimpleName()
          + ": " + v);
    }
    return (T) v;
  }

  /** An object's fields as numbers, strings, booleans, lists and maps; the parser is on its START_OBJECT. */
  private static java.util.Map<String, Object> readObject(JsonParser p) throws IOException {
    java.util.Map<String, Object> o = new java.util.HashMap<>();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      p.nextToken();
      o.put(name, readValue(p));
    }
    return o;
  }

  private static Object readValue(JsonParser p) throws IOException {
    switch (p.currentToken()) {
      case START_OBJECT: return readObject(p);
      case START_ARRAY:
        List<Object> list = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          list.add(readValue(p));
        }
        return list;
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT: return p.getNumberValue();
      case VALUE_TRUE: return Boolean.TRUE;
      case VALUE_FALSE: return Boolean.FALSE;
      case VALUE_STRING: return p.getText();
      default: return null;
    }
  }

  private static String stepJson(Step s) {
    return String.format(Locale.ROOT,
        "{\"rate\":%d,\"expected\":%d,\"delivered\":%d,\"deliveredPerSecond\":%.0f,\"p50Micros\":%d,"
            + "\"p99Micros\":%d,\"maxMicros\":%d,\"complete\":%b,\"serverCpuMillis\":%.1f,\"serverAllocBytes\":%d}",
        s.rate(), s.expected(), s.delivered(), s.deliveredPerSec(), s.p50(), s.p99(), s.max(), s.complete(),
        s.serverCpuNanos() / 1e6, s.serverAllocBytes());
  }

  static String json(List<Result> results) {
    StringBuilder sb = new StringBuilder("[\n");
    for (int i = 0; i < results.size(); i++) {
      Result r = results.get(i);
      sb.append(String.format(Locale.ROOT,
          "  {\"target\":\"%s\",\"subscribers\":%d,\"connectSeconds\":%.3f,\"heapBytesPerConnection\":%.0f,"
              + "\"rssBytesPerConnection\":%.0f,\"maxDeliveredPerSecond\":%.0f,\"maxSustainedPerSecond\":%.0f,"
              + "\"atHalfRate\":{\"rate\":%d,\"p50Micros\":%d,\"p99Micros\":%d,\"maxMicros\":%d,"
              + "\"serverCpuMillisPer100k\":%.1f},%s\"steps\":[",
          r.target(), r.subscribers(), r.connectSeconds(), r.heapPerConn(), r.rssPerConn(), r.maxDeliveredPerSec(),
          r.maxSustainedPerSec(), r.half().rate(), r.half().p50(), r.half().p99(), r.half().max(),
          r.half().cpuMillisPer100k(), r.cost() == null ? "" : "\"atCostRate\":" + stepJson(r.cost()) + ","));
      for (int j = 0; j < r.steps().size(); j++) {
        sb.append(j == 0 ? "" : ",").append(stepJson(r.steps().get(j)));
      }
      sb.append("]}").append(i + 1 < results.size() ? ",\n" : "\n");
    }
    return sb.append("]\n").toString();
  }
}
