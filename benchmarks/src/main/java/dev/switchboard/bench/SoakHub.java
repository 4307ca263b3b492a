package dev.switchboard.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The demo hub under test, in its own JVM: {@code dev.switchboard.examples.DemoHub} with its own
 * defaults (only the ports are 0, so that parallel runs do not collide) under {@code -Xmx512m} and
 * {@code -XX:+ExitOnOutOfMemoryError}, so an out-of-memory hub exits instead of lingering half alive.
 * Its output goes to {@code hub.log} (scanned for OutOfMemoryError, WARN/ERROR lines and stack traces)
 * and its GC log to {@code hub-gc.log}. The process's descriptors and threads are read from
 * {@code /proc}, its live heap from the GC log after a {@code jcmd GC.run}.
 *
 * <p>Thread-safe.
 */
final class SoakHub implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening http=(\\S+) grpc=\\S*:(\\d+)");
  private static final Pattern AFTER_GC = Pattern.compile("->(\\d+)([KMG])\\(");
  /** slf4j-simple's {@code WARN logger - text} (with or without {@code [thread]}), and JUL's {@code WARNING: text}. */
  private static final Pattern WARN = Pattern.compile("^(\\[[^\\]]*\\] )?WARN(ING:)? ");
  /** java.util.logging's first line: {@code Nov 30, 2026 5:33:21 PM io.grpc...NettyServerHandler onStreamError}. */
  private static final Pattern JUL_HEADER = Pattern.compile("^\\w{3} \\d{1,2}, \\d{4} .*?[AP]M (\\S+ \\S+)$");
  private static final Pattern ERROR = Pattern.compile("^(\\[[^\\]]*\\] )?(ERROR|SEVERE:) ");
  /** Distinct WARN/ERROR messages kept for the report. */
  private static final int KEPT_MESSAGES = 12;

  private final Process process;
  private final String httpUrl;
  private final int grpcPort;
  private final Path log;
  private final Path gcLog;
  private final String jcmd;
  private final Object lock = new Object();
  private boolean outOfMemory; // guarded by lock
  private int warnLines; // guarded by lock
  private int errorLines; // guarded by lock
  private int stackTraceLines; // guarded by lock
  private final Map<String, Integer> messages = new LinkedHashMap<>(); // guarded by lock
  private String previous = ""; // guarded by lock

  private SoakHub(Process process, String httpUrl, int grpcPort, Path log, Path gcLog) {
    this.process = process;
    this.httpUrl = httpUrl;
    this.grpcPort = grpcPort;
    this.log = log;
    this.gcLog = gcLog;
    this.jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
  }

  /**
   * Starts the hub and waits (up to a minute) until it prints where it listens.
   *
   * @throws IOException when it cannot start, exits, or does not say where it listens in time
   */
  static SoakHub start(SoakSettings s, Path dir) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path log = dir.resolve("hub.log");
    Path gcLog = dir.resolve("hub-gc.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + s.hubHeap(), "-XX:+ExitOnOutOfMemoryError",
        "-Xlog:gc:file=" + gcLog + ":uptime"));
    if (s.demoJar() != null) {
      cmd.addAll(List.of("-jar", s.demoJar().toString()));
    } else {
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.switchboard.examples.DemoHub"));
    }
    cmd.addAll(List.of("--port", "0", "--grpc-port", "0"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    // The demo serves until it is stopped: never leave it behind, whatever ends this JVM.
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly, "soak-hub-reaper"));
    CompletableFuture<Matcher> listening = new CompletableFuture<>();
    SoakHub[] self = new SoakHub[1];
    List<String> early = new ArrayList<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter w = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
        String line;
        while ((line = r.readLine()) != null) {
          w.println(line);
          Matcher m = LISTENING.matcher(line);
          if (!listening.isDone() && m.find()) {
            listening.complete(m);
          }
          synchronized (early) {
            if (self[0] != null) {
              self[0].scan(line);
            } else {
              early.add(line);
            }
          }
        }
      } catch (IOException e) {
        // the hub's output ended with it
      }
      listening.completeExceptionally(new IOException("the hub exited before it listened; see " + log));
    }, "soak-hub-log");
    reader.setDaemon(true);
    reader.start();
    Matcher m;
    try {
      m = listening.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      p.destroyForcibly();
      throw new IOException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      p.destroyForcibly();
      throw new IOException("the hub did not say where it listens within 60 s; see " + log);
    }
    SoakHub hub = new SoakHub(p, m.group(1), Integer.parseInt(m.group(2)), log, gcLog);
    synchronized (early) {
      early.forEach(hub::scan);
      self[0] = hub;
    }
    return hub;
  }

  private void scan(String line) {
    synchronized (lock) {
      boolean keep = false;
      if (line.contains("OutOfMemoryError")) {
        outOfMemory = true;
        keep = true;
      } else if (WARN.matcher(line).find()) {
        warnLines++;
        keep = true;
      } else if (ERROR.matcher(line).find()) {
        errorLines++;
        keep = true;
      } else if (line.startsWith("\tat ")) {
        stackTraceLines++;
      }
      String text = line;
      Matcher jul = JUL_HEADER.matcher(previous);
      if (keep && jul.find() && (line.startsWith("WARNING:") || line.startsWith("SEVERE:"))) {
        text = line + " (" + jul.group(1) + ")"; // java.util.logging names its logger on the line before
      }
      previous = line;
      String key = text.length() > 200 ? text.substring(0, 200) : text;
      if (keep && (messages.containsKey(key) || messages.size() < KEPT_MESSAGES)) {
        messages.merge(key, 1, Integer::sum);
      }
    }
  }

  String httpUrl() {
    return httpUrl;
  }

  int grpcPort() {
    return grpcPort;
  }

  long pid() {
    return process.pid();
  }

  Path log() {
    return log;
  }

  boolean alive() {
    return process.isAlive();
  }

  /** The exit code, or null while it runs. */
  Integer exitCode() {
    return process.isAlive() ? null : process.exitValue();
  }

  /** Whether the hub's output named an OutOfMemoryError (with ExitOnOutOfMemoryError it then exits). */
  boolean outOfMemory() {
    synchronized (lock) {
      return outOfMemory;
    }
  }

  /** What the hub logged: WARN and ERROR lines, stack-trace lines, and the first distinct messages. */
  record LogSummary(int warnLines, int errorLines, int stackTraceLines, Map<String, Integer> messages) {}

  LogSummary logSummary() {
    synchronized (lock) {
      return new LogSummary(warnLines, errorLines, stackTraceLines, new LinkedHashMap<>(messages));
    }
  }

  /** Open descriptors of the hub process ({@code /proc/<pid>/fd}), or -1 when it is gone. */
  int descriptors() {
    try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
      return (int) s.count();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static final String[] TCP_STATES = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
      "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"};

  /**
   * The hub's descriptors by kind, for a reader who must find out what was left open: its TCP sockets
   * by the hub's port they belong to and their state ({@code http ESTABLISHED}, {@code grpc CLOSE_WAIT}:
   * the client has gone and the hub has not closed), then {@code file}, {@code pipe}, {@code other}.
   * Empty when the hub is gone.
   */
  Map<String, Integer> descriptorKinds() {
    Map<String, String> sockets = new java.util.HashMap<>(); // inode -> kind
    int httpPort = Integer.parseInt(httpUrl.replaceAll(".*:", ""));
    for (String table : List.of("tcp", "tcp6")) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "net", table))) {
          String[] f = line.trim().split("\\s+");
          if (f.length < 10 || !f[1].contains(":")) {
            continue;
          }
          int port = Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16);
          int state = Integer.parseInt(f[3], 16);
          String where = port == httpPort ? "http" : port == grpcPort ? "grpc" : "tcp";
          sockets.put(f[9], where + " " + (state < TCP_STATES.length ? TCP_STATES[state] : f[3]));
        }
      } catch (IOException | RuntimeException e) {
        // gone, or no such table
      }
    }
    Map<String, Integer> kinds = new java.util.TreeMap<>();
    try (var fds = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
          continue; // closed meanwhile
        }
        String kind;
        if (target.startsWith("socket:[")) {
          kind = sockets.getOrDefault(target.substring(8, target.length() - 1), "socket (other)");
        } else if (target.startsWith("pipe:")) {
          kind = "pipe";
        } else if (target.startsWith("/")) {
          kind = "file";
        } else {
          kind = "other";
        }
        kinds.merge(kind, 1, Integer::sum);
      }
    } catch (IOException | RuntimeException e) {
      return Map.of();
    }
    return kinds;
  }

  /** Threads of the hub process ({@code Threads:} of {@code /proc/<pid>/status}), or -1 when it is gone. */
  int threads() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
        if (line.startsWith("Threads:")) {
          return Integer.parseInt(line.substring(8).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return -1;
  }

  /**
   * Runs a full GC in the hub ({@code jcmd <pid> GC.run}) and returns what the heap held after it, as
   * the GC log records it ({@code Pause Full (Diagnostic Command) 112M->50M(147M)}): the live heap in
   * bytes, to the MB; -1 when jcmd fails or the hub is gone. ({@code GC.heap_info} afterwards would
   * also count what the hub allocated while jcmd started.)
   */
  long liveHeapAfterGc() {
    if (!alive()) {
      return -1;
    }
    int before = fullGcLines().size();
    if (jcmd(List.of("GC.run")) == null) {
      return -1;
    }
    List<String> after = fullGcLines();
    if (after.size() <= before) {
      return -1;
    }
    Matcher m = AFTER_GC.matcher(after.get(after.size() - 1));
    if (!m.find()) {
      return -1;
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "K" -> n << 10;
      case "M" -> n << 20;
      default -> n << 30;
    };
  }

  private List<String> fullGcLines() {
    try {
      return Files.readAllLines(gcLog).stream().filter(l -> l.contains("Pause Full (Diagnostic Command)")).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private String jcmd(List<String> command) {
    List<String> cmd = new ArrayList<>(List.of(jcmd, Long.toString(pid())));
    cmd.addAll(command);
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    // The demo serves until it is stopped: never leave it behind, whatever ends this JVM.
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly, "soak-hub-reaper"));
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        return null;
      }
      return out;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** Stops the hub (SIGTERM, then SIGKILL after 20 s) and waits for it. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
