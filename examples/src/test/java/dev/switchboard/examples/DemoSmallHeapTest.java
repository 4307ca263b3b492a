package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The demo hub, with its own defaults, in a child JVM with a small heap ({@code -Xmx256m}): 20,000
 * new topics and 600 publishes of 1 MiB into one topic, each with an {@code Idempotency-Key} (as the
 * Java client sends), then 160 more over eight topics (past the broker's budget over all topics),
 * must be answered 201 or a JSON 503, never run the heap out
 * ({@code -XX:+ExitOnOutOfMemoryError} would end the child), and leave a hub that still serves, with
 * its live heap after a full GC under {@value #LIVE_HEAP_BOUND_MIB} MiB.
 */
class DemoSmallHeapTest {
  /** The documented bound on the live heap after the load, for {@code -Xmx256m}. */
  static final int LIVE_HEAP_BOUND_MIB = 128;
  private static final int TOPICS = 20_000;
  private static final int LARGE = 600;
  private static final int SPREAD = 160;
  private static final StringBuffer OUTPUT = new StringBuffer();
  private static final Pattern LISTENING = Pattern.compile("switchboard demo listening http=(\\S+) grpc=(\\S+)");

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void smallHeap_manyTopicsAndLargeMessages_answeredCreatedOrJson503_andHeapStaysBounded() throws Exception {
    Path dir = Files.createDirectories(Path.of("target", "small-heap"));
    Path stderr = dir.resolve("demo-stderr.txt");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(javaBin, "-Xmx256m", "-XX:+ExitOnOutOfMemoryError",
        "-cp", System.getProperty("java.class.path"), "dev.switchboard.examples.DemoHub",
        "--port", "0", "--grpc-port", "0", "--no-demo-feed")
        .redirectError(stderr.toFile()).start();
    try {
      String base = awaitListening(child, stderr);
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10)).build();
      Answers answers = new Answers();

      long t0 = System.nanoTime();
      byte[] small = {'x'};
      runAll(http, child, stderr, answers, TOPICS, 8, i -> post(base, "small-" + i, small, "s-" + i));
      long t1 = System.nanoTime();
      byte[] large = new byte[1 << 20];
      Arrays.fill(large, (byte) 'y');
      runAll(http, child, stderr, answers, LARGE, 3, i -> post(base, "large", large, "l-" + i));
      long t2 = System.nanoTime();
      // Past the budget over all topics (a quarter of the heap): 1 MiB messages over eight more topics.
      runAll(http, child, stderr, answers, SPREAD, 3, i -> post(base, "spread-" + i % 8, large, "m-" + i));
      System.out.printf("small-heap demo: %d topics in %d ms, %d x 1 MiB in %d ms, %d x 1 MiB over 8 topics in %d ms%n",
          TOPICS, (t1 - t0) / 1_000_000, LARGE, (t2 - t1) / 1_000_000, SPREAD, (System.nanoTime() - t2) / 1_000_000);

      assertEquals(TOPICS + LARGE + SPREAD, answers.total(), "every publish was answered: " + answers);
      assertTrue(answers.statuses.keySet().stream().allMatch(s -> s == 201 || s == 503),
          "only 201 and 503: " + answers + "; first others: " + answers.odd);
      assertTrue(answers.odd.isEmpty(), "every 503 is JSON with an error code: " + answers.odd);
      System.out.println("small-heap demo answers: " + answers.statuses + " 503 codes: " + answers.codes);

      HttpResponse<String> after = http.send(post(base, "after-the-load", "still here".getBytes(StandardCharsets.UTF_8), null, "text/plain; charset=utf-8"),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(201, after.statusCode(), "a publish after the load: " + after.body());
      HttpResponse<String> read = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/topics/after-the-load/messages"))
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, read.statusCode(), read.body());
      assertTrue(read.body().contains("still here"), "history read after the load: " + read.body());
      HttpResponse<String> largeHistory = http.send(HttpRequest.newBuilder(
          URI.create(base + "/v1/topics/large/messages?limit=1")).timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, largeHistory.statusCode(), "the large topic's history is readable");

      assertTrue(child.isAlive(), "the child is alive (no OutOfMemoryError): " + tail(stderr));
      long live = liveHeapAfterFullGc(child.pid());
      System.out.printf("small-heap demo live heap after full GC: %.1f MiB%n", live / 1048576.0);
      assertTrue(live < LIVE_HEAP_BOUND_MIB * 1048576L,
          "live heap after a full GC " + live + " bytes is over " + LIVE_HEAP_BOUND_MIB + " MiB");
      assertTrue(!Files.readString(stderr).contains("OutOfMemoryError"), tail(stderr));
    } finally {
      child.destroyForcibly();
      child.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private static HttpRequest post(String base, String topic, byte[] body, String key) {
    return post(base, topic, body, key, "application/octet-stream");
  }

  private static HttpRequest post(String base, String topic, byte[] body, String key, String contentType) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/topics/" + topic + "/messages"))
        .timeout(Duration.ofSeconds(60)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (key != null) {
      b.header("Idempotency-Key", key);
    }
    return b.build();
  }

  /** Sends {@code n} requests, at most {@code parallel} at once, recording every answer. */
  private static void runAll(HttpClient http, Process child, Path stderr, Answers answers, int n, int parallel,
      IntFunction<HttpRequest> request) throws Exception {
    Semaphore permits = new Semaphore(parallel);
    List<CompletableFuture<?>> pending = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      while (!permits.tryAcquire(1, TimeUnit.SECONDS)) {
        if (!child.isAlive()) {
          fail("the demo hub exited (" + child.exitValue() + ") after " + answers + ": " + tail(stderr));
        }
      }
      if (answers.failure.get() != null) {
        break;
      }
      pending.add(http.sendAsync(request.apply(i), HttpResponse.BodyHandlers.ofString())
          .whenComplete((res, err) -> {
            permits.release();
            if (err != null) {
              answers.failure.compareAndSet(null, err);
            } else {
              answers.record(res);
            }
          }));
      if (pending.size() >= 1000) {
        pending.removeIf(CompletableFuture::isDone);
      }
    }
    for (CompletableFuture<?> f : pending) {
      try {
        f.get(120, TimeUnit.SECONDS);
      } catch (ExecutionException ignored) {
        // recorded in answers.failure
      }
    }
    if (answers.failure.get() != null) {
      fail("a request failed (" + answers.failure.get() + ") after " + answers + "; child "
          + (child.isAlive() ? "alive" : "exited with " + child.exitValue()) + ": " + tail(stderr));
    }
  }

  private static String awaitListening(Process child, Path stderr) throws Exception {
    CompletableFuture<String> url = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          Matcher m = LISTENING.matcher(line);
          if (m.find()) {
            url.complete(m.group(1));
          } else {
            OUTPUT.append(line).append('\n'); // e.g. "Terminating due to java.lang.OutOfMemoryError"
          }
        }
        url.completeExceptionally(new IOException("the demo's output ended"));
      } catch (IOException e) {
        url.completeExceptionally(e);
      }
    }, "demo-stdout");
    reader.setDaemon(true);
    reader.start();
    try {
      return url.get(90, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("the demo did not print its listening line: " + tail(stderr), e);
    }
  }

  /**
   * Bytes of the objects still reachable: {@code GC.class_histogram} runs a full GC first and ends
   * with a {@code Total <instances> <bytes>} line, whatever the collector.
   */
  private static long liveHeapAfterFullGc(long pid) throws Exception {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Process p = new ProcessBuilder(jcmd, Long.toString(pid), "GC.class_histogram").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "jcmd finished");
    Matcher m = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)\\s*$").matcher(out);
    assertTrue(m.find(), "jcmd GC.class_histogram printed a total: " + out.substring(Math.max(0, out.length() - 500)));
    return Long.parseLong(m.group(1));
  }

  private static String tail(Path file) {
    try {
      String s = "stdout: " + OUTPUT + "stderr: " + Files.readString(file);
      return s.substring(Math.max(0, s.length() - 2000));
    } catch (IOException e) {
      return "(no stderr: " + e + ")";
    }
  }

  /** Answers by status, the error codes of the 503s, and the first few answers that were wrong. */
  private static final class Answers {
    final Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> codes = new ConcurrentHashMap<>();
    final List<String> odd = Collections.synchronizedList(new ArrayList<>());
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private static final Pattern ERROR = Pattern.compile("^\\{\"status\":503,\"error\":\"([a-z_]+)\",\"message\":\".*\"}$", Pattern.DOTALL);

    void record(HttpResponse<String> res) {
      statuses.computeIfAbsent(res.statusCode(), k -> new AtomicInteger()).incrementAndGet();
      if (res.statusCode() == 201) {
        return;
      }
      Matcher m = ERROR.matcher(res.body());
      boolean json = res.headers().firstValue("Content-Type").orElse("").startsWith("application/json");
      if (res.statusCode() == 503 && json && m.matches()) {
        codes.computeIfAbsent(m.group(1), k -> new AtomicInteger()).incrementAndGet();
      } else if (odd.size() < 5) {
        String body = res.body();
        odd.add(res.statusCode() + " " + res.headers().firstValue("Content-Type").orElse("?") + " "
            + body.substring(0, Math.min(300, body.length())));
      }
    }

    int total() {
      return statuses.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    @Override
    public String toString() {
      return new TreeMap<>(statuses) + " answers";
    }
  }
}
