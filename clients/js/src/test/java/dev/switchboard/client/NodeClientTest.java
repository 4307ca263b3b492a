package dev.switchboard.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs the JavaScript client's Node suite ({@code clients/js/test/*.test.mjs}, {@code node --test})
 * against real hubs that {@link TestHubs} starts and restarts on request: the same contract as
 * {@code TransportContractTest} over ws, sse and longpoll, fallback, publish retries, restarts.
 *
 * <p>Needs the system {@code node} (20+) and {@code npm ci} in {@code clients/js} (for the {@code ws}
 * dev dependency); skipped with a message saying so where they are missing, unless
 * {@code SWITCHBOARD_REQUIRE_NODE} is set ({@code .ci/run} sets it), which makes it fail instead.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class NodeClientTest {
  static final Path DIR = Path.of("").toAbsolutePath();

  /** The node executable on the PATH, or null. */
  static String node() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir, "node");
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return null;
  }

  /** Skips (or, with SWITCHBOARD_REQUIRE_NODE, fails) unless node and the npm dev dependencies are here. */
  static String requireNode() {
    String node = node();
    String missing = node == null ? "no 'node' on the PATH (install Node.js 20+)"
        : !Files.isDirectory(DIR.resolve("node_modules/ws")) ? "no clients/js/node_modules (run: npm ci --prefix clients/js)"
        : null;
    if (missing != null && System.getenv("SWITCHBOARD_REQUIRE_NODE") != null) {
      throw new AssertionError("the JavaScript client's tests need Node here: " + missing);
    }
    if (missing != null) {
      System.err.println("NodeClientTest: the JavaScript client's tests are SKIPPED: " + missing);
    }
    Assumptions.assumeTrue(missing == null, "JavaScript client tests skipped: " + missing);
    return node;
  }

  @Test
  void nodeSuitePassesAgainstRealHubs() throws Exception {
    String node = requireNode();
    try (TestHubs hubs = new TestHubs()) {
      Path log = DIR.resolve("target/node-test.log");
      Files.createDirectories(log.getParent());
      List<String> command = new ArrayList<>(List.of(node, "--test", "--test-reporter=spec", "--test-timeout=60000"));
      try (Stream<Path> files = Files.list(DIR.resolve("test"))) {
        files.map(f -> "test/" + f.getFileName()).filter(f -> f.endsWith(".test.mjs")).sorted().forEach(command::add);
      }
      ProcessBuilder pb = new ProcessBuilder(command)
          .directory(DIR.toFile())
          .redirectErrorStream(true)
          .redirectOutput(log.toFile());
      pb.environment().put("SWITCHBOARD_TEST_CONTROL", hubs.url());
      Process p = pb.start();
      boolean done = p.waitFor(240, TimeUnit.SECONDS);
      if (!done) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
      String out = Files.readString(log);
      System.out.println(out);
      assertEquals(0, done ? p.exitValue() : -1, "node --test failed (or timed out); its output:\n" + out);
    }
  }
}
