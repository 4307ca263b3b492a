package dev.switchboard.kafka.testbroker;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real single-node Kafka broker (KRaft, broker and controller in one process) in its own JVM on
 * 127.0.0.1, for tests and benchmarks: free ports, its own log directory, formatted on first start,
 * stopped by {@link #close()} (and by a shutdown hook should the caller forget). The broker's class
 * path (kafka_2.13 and what it needs, resolved from Maven Central when this module is built) is read
 * from the {@code broker.classpath} resource beside this class, or from the system property
 * {@code switchboard.kafka.classpath}.
 *
 * <p>{@link #stop()} and {@link #start()} stop and start the same broker (same ports, same data), so a
 * test can take Kafka away and bring it back. Thread-safe (methods are synchronised).
 */
public final class KafkaTestBroker implements AutoCloseable {
  private static KafkaTestBroker shared;

  private final Path dir;
  private final int port;
  private final int controllerPort;
  private final List<String> jvmOptions;
  private final String classpath;
  private Process process;
  private boolean closed;

  private KafkaTestBroker(Path dir, List<String> jvmOptions) throws IOException {
    this.dir = dir;
    this.port = freePort();
    this.controllerPort = freePort();
    this.jvmOptions = List.copyOf(jvmOptions);
    this.classpath = brokerClasspath();
    writeConfig();
    Runtime.getRuntime().addShutdownHook(new Thread(this::destroyAndDelete, "kafka-test-broker-stop"));
  }

  /**
   * Formats a new broker in a fresh temporary directory and starts it.
   *
   * @param jvmOptions options for the broker's JVM, e.g. {@code -Xmx512m}
   * @throws IllegalStateException when it does not start within a minute (its log is named)
   */
  public static KafkaTestBroker start(List<String> jvmOptions) {
    try {
      KafkaTestBroker b = new KafkaTestBroker(Files.createTempDirectory("switchboard-kafka-"), jvmOptions);
      b.format();
      b.start();
      return b;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * One broker for the whole JVM (every test class of a module), started on first use and stopped
   * when the JVM exits. Callers must not close it; a test that stops it to take Kafka away must
   * {@link #start()} it again before it ends.
   */
  public static synchronized KafkaTestBroker shared() {
    if (shared == null) {
      shared = start(defaultJvmOptions());
    }
    return shared;
  }

  /** Small-heap options that start quickly on a loaded machine. */
  public static List<String> defaultJvmOptions() {
    return List.of("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
  }

  /** {@code 127.0.0.1:PORT}, for {@code bootstrap.servers}. */
  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  /** The broker's log directory and its own log ({@code server.log}). */
  public Path directory() {
    return dir;
  }

  /** Whether the broker process is running. */
  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /**
   * Starts the broker (again), on the same ports with the same data, and waits until it accepts
   * connections (it opens its port once it is registered and unfenced).
   *
   * @throws IllegalStateException when it is not up within a minute, or was closed
   */
  public synchronized void start() {
    if (closed) {
      throw new IllegalStateException("closed");
    }
    if (isRunning()) {
      return;
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBinary());
    cmd.addAll(jvmOptions);
    cmd.add("-Dlog4j2.configurationFile=" + dir.resolve("log4j2.properties"));
    cmd.addAll(List.of("-cp", classpath, "kafka.Kafka", dir.resolve("server.properties").toString()));
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("console.out").toFile())).start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!accepts(port)) {
      if (!process.isAlive() || System.nanoTime() > deadline) {
        destroyQuietly();
        throw new IllegalStateException("the Kafka broker did not start; see " + dir.resolve("server.log")
            + " and " + dir.resolve("console.out"));
      }
      sleep(50);
    }
  }

  /** Stops the broker (SIGTERM, then SIGKILL after 20 s) and waits until it has exited. Its data stays. */
  public synchronized void stop() {
    if (process == null) {
      return;
    }
    Process p = process;
    process = null;
    p.destroy();
    try {
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the broker and deletes its directory. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    stop();
    closed = true;
    deleteDirectory();
  }

  /** At JVM exit: no time for a graceful stop, but leave no process and no directory behind. */
  private void destroyAndDelete() {
    Process p = process;
    if (p != null) {
      p.destroyForcibly();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    deleteDirectory();
  }

  private void deleteDirectory() {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // best effort: a temporary directory
    }
  }

  private synchronized void destroyQuietly() {
    if (process != null) {
      process.destroyForcibly();
      process = null;
    }
  }

  private void format() throws IOException {
    byte[] id = new byte[16];
    new SecureRandom().nextBytes(id);
    String clusterId = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
    Process p = new ProcessBuilder(javaBinary(), "-Xmx256m", "-XX:TieredStopAtLevel=1",
        "-Dlog4j2.configurationFile=" + dir.resolve("log4j2.properties"), "-cp", classpath,
        "kafka.tools.StorageTool", "format", "--config", dir.resolve("server.properties").toString(),
        "--cluster-id", clusterId).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("console.out").toFile())).start();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException("formatting the Kafka log directory failed; see " + dir.resolve("console.out"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private void writeConfig() throws IOException {
    String props = String.join("\n",
        "node.id=1",
        "process.roles=broker,controller",
        "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
        "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
        "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs=" + dir.resolve("data"),
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "broker.heartbeat.interval.ms=500",
        "broker.session.timeout.ms=4000",
        "auto.create.topics.enable=false",
        "");
    Files.writeString(dir.resolve("server.properties"), props, StandardCharsets.UTF_8);
    String log4j = String.join("\n",
        "status = error",
        "appender.file.type = File",
        "appender.file.name = file",
        "appender.file.fileName = " + dir.resolve("server.log"),
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = %d %p [%c{1}] %m%n",
        "rootLogger.level = warn",
        "rootLogger.appenderRef.file.ref = file",
        "");
    Files.writeString(dir.resolve("log4j2.properties"), log4j, StandardCharsets.UTF_8);
  }

  private static String brokerClasspath() throws IOException {
    String cp = System.getProperty("switchboard.kafka.classpath");
    if (cp == null) {
      try (InputStream in = KafkaTestBroker.class.getResourceAsStream("broker.classpath")) {
        if (in == null) {
          throw new IllegalStateException("no broker.classpath resource: build switchboard-kafka-test-broker with Maven");
        }
        cp = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
      }
    }
    for (String jar : cp.split(java.io.File.pathSeparator)) {
      if (!Files.exists(Paths.get(jar))) {
        throw new IllegalStateException("the Kafka broker's class path names " + jar
            + ", which is missing: rebuild switchboard-kafka-test-broker (mvn -pl kafka-test-broker -am package)");
      }
    }
    return cp;
  }

  private static String javaBinary() {
    return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
