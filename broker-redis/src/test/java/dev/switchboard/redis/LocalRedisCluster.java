package dev.switchboard.redis;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A Redis Cluster of three masters (no replicas) made of local {@code redis-server} processes on free
 * ports, in a temporary directory, joined with {@code redis-cli --cluster create}. Each master keeps
 * an append-only file, so one stopped and started again comes back with its data; the cluster keeps
 * serving the other masters' slots meanwhile ({@code cluster-require-full-coverage no}).
 *
 * <p>{@link #shared} is one cluster for the whole test run, stopped when JUnit finishes (and by a
 * shutdown hook if the JVM ends otherwise); {@link #start} makes a private one the caller closes.
 */
final class LocalRedisCluster implements AutoCloseable {
  private static LocalRedisCluster shared;

  private final Path dir;
  private final int[] ports;
  private final int[] busPorts;
  private final Process[] processes;
  private final Thread hook = new Thread(this::stopAll, "redis-cluster-cleanup");

  private LocalRedisCluster(int masters) throws IOException {
    this.dir = Files.createTempDirectory("switchboard-redis-cluster");
    this.ports = new int[masters];
    this.busPorts = new int[masters];
    this.processes = new Process[masters];
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < masters; i++) {
        ServerSocket a = new ServerSocket(0);
        ServerSocket b = new ServerSocket(0);
        held.add(a);
        held.add(b);
        ports[i] = a.getLocalPort();
        busPorts[i] = b.getLocalPort();
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** A new three-master cluster; the caller closes it. */
  static LocalRedisCluster start() throws Exception {
    LocalRedisCluster c = new LocalRedisCluster(3);
    try {
      for (int i = 0; i < c.ports.length; i++) {
        c.startNode(i);
      }
      List<String> cmd = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
      for (int p : c.ports) {
        cmd.add("127.0.0.1:" + p);
      }
      cmd.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
      run(cmd);
      for (int i = 0; i < c.ports.length; i++) {
        c.awaitClusterOk(i);
      }
      return c;
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
  }

  /** The cluster for the whole test run, started on first use and stopped when JUnit finishes. */
  static synchronized LocalRedisCluster shared(ExtensionContext context) throws Exception {
    if (shared == null) {
      shared = start();
      context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).put(LocalRedisCluster.class, shared);
    }
    return shared;
  }

  /** {@code redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3}. */
  String uri() {
    return "redis-cluster://" + java.util.Arrays.stream(ports).mapToObj(p -> "127.0.0.1:" + p)
        .collect(Collectors.joining(","));
  }

  int port(int node) {
    return ports[node];
  }

  int size() {
    return ports.length;
  }

  /** The node serving the slot of {@code key}. */
  int nodeOf(String key) throws Exception {
    int slot = io.lettuce.core.cluster.SlotHash.getSlot(key);
    String nodes = run(List.of("redis-cli", "-p", Integer.toString(ports[0]), "cluster", "nodes"));
    for (String line : nodes.split("\n")) {
      String[] f = line.trim().split(" ");
      if (f.length < 9 || !f[2].contains("master")) {
        continue;
      }
      for (int i = 8; i < f.length; i++) {
        String[] range = f[i].split("-");
        int lo = Integer.parseInt(range[0]);
        int hi = range.length > 1 ? Integer.parseInt(range[1]) : lo;
        if (slot >= lo && slot <= hi) {
          int port = Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1, f[1].indexOf('@')));
          for (int n = 0; n < ports.length; n++) {
            if (ports[n] == port) {
              return n;
            }
          }
        }
      }
    }
    throw new IllegalStateException("no node serves slot " + slot + ":\n" + nodes);
  }

  /** Starts (or restarts, with its node config and append-only file) node {@code i}. */
  void startNode(int i) throws Exception {
    processes[i] = new ProcessBuilder("redis-server", "--port", Integer.toString(ports[i]),
        "--cluster-port", Integer.toString(busPorts[i]), "--bind", "127.0.0.1",
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + ports[i] + ".conf",
        "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
        "--dir", dir.toString(), "--dbfilename", "dump-" + ports[i] + ".rdb",
        "--appendonly", "yes", "--appendfilename", "aof-" + ports[i] + ".aof", "--appenddirname", "aof-" + ports[i],
        "--save", "", "--logfile", dir.resolve("node-" + ports[i] + ".log").toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    int port = ports[i];
    RedisTestSupport.await("redis-server on port " + port + " answers", () -> {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return true;
      } catch (IOException e) {
        return false;
      }
    });
  }

  /** Stops node {@code i} (SIGTERM: it writes its append-only file and exits). */
  void stopNode(int i) throws InterruptedException {
    Process p = processes[i];
    if (p == null) {
      return;
    }
    p.destroy();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    processes[i] = null;
  }

  /** Waits until node {@code i} reports {@code cluster_state:ok}. */
  void awaitClusterOk(int i) throws InterruptedException {
    RedisTestSupport.await("node " + ports[i] + " reports cluster_state:ok", () -> {
      try {
        return run(List.of("redis-cli", "-p", Integer.toString(ports[i]), "cluster", "info")).contains("cluster_state:ok");
      } catch (Exception e) {
        return false;
      }
    });
  }

  private static String run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  private void stopAll() {
    for (int i = 0; i < processes.length; i++) {
      try {
        stopNode(i);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        if (processes[i] != null) {
          processes[i].destroyForcibly();
        }
      }
    }
  }

  @Override
  public void close() {
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // the hook is running or has run
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // a temporary directory left behind
    }
  }
}
