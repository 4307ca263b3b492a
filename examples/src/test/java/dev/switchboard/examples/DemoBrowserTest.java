package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Broker;
import dev.switchboard.redis.RedisBroker;
import dev.switchboard.transport.Message;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The demo page in a real browser: Debian's headless Chromium driven through its own chromedriver.
 * The page runs on the hub's JavaScript client ({@code /v1/client.js}). All three price columns
 * receive prices; a chat message typed in one tab appears in another; and after the server restarts
 * (the demo on Redis, so history survives) every column and the chat resume from their last id,
 * missing nothing that was published while the server was down. With {@code --no-websocket} the
 * chat's {@code auto} channel falls back to SSE and the same holds.
 *
 * <p>Skipped where Chromium is not installed, unless {@code SWITCHBOARD_REQUIRE_BROWSER} is set
 * ({@code .ci/run} installs Chromium and sets it, so CI never skips).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class DemoBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final String REDIS = "redis://127.0.0.1:6379";
  private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(100);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<String> ids(ChromeDriver driver, String column) {
    Object r = ((JavascriptExecutor) driver).executeScript(
        "return window.switchboardDemo && window.switchboardDemo." + column + " ? window.switchboardDemo." + column + ".ids : [];");
    return new ArrayList<>((List<String>) r);
  }

  @SuppressWarnings("unchecked")
  private static List<String> chat(ChromeDriver driver) {
    Object r = ((JavascriptExecutor) driver).executeScript(
        "return window.switchboardDemo && window.switchboardDemo.chat ? window.switchboardDemo.chat : [];");
    return new ArrayList<>((List<String>) r);
  }

  private static RedisBroker broker(String prefix) {
    return RedisBroker.builder(REDIS).keyPrefix(prefix).build();
  }

  private static void requireBrowser() {
    boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
    if (!installed && System.getenv("SWITCHBOARD_REQUIRE_BROWSER") != null) {
      throw new AssertionError("Chromium is required here: apt-get install -y chromium chromium-driver");
    }
    Assumptions.assumeTrue(installed, "no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)");
  }

  private static ChromeDriver browser() {
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
    ChromeOptions chrome = new ChromeOptions();
    chrome.setBinary(CHROMIUM.toFile());
    chrome.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows", "--window-size=1280,800");
    return new ChromeDriver(service, chrome);
  }

  private static int port(DemoHub demo) {
    return Integer.parseInt(demo.httpUrl().replaceAll(".*:", ""));
  }

  /** Stops the hub, publishes 3 prices and a chat line through Redis meanwhile; returns the prices' ids. */
  private static List<String> publishWhileDown(DemoHub demo, RedisBroker broker, String prefix) throws Exception {
    demo.close();
    broker.close();
    List<String> duringDowntime = new ArrayList<>();
    try (RedisBroker other = broker(prefix)) {
      for (int i = 0; i < 3; i++) {
        duringDowntime.add(other.publish(Message.builder("prices").event("price")
            .json(String.format(Locale.ROOT, "{\"symbol\":\"DOWN\",\"price\":%d.00,\"time\":\"%s\"}", i, java.time.Instant.now()))
            .build()).toCompletableFuture().get(10, TimeUnit.SECONDS).id());
      }
      other.publish(Message.text("chat", "sent while the server was down")).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    Thread.sleep(1500); // let every transport notice the outage and start retrying
    return duringDowntime;
  }

  /** Nothing lost or repeated: the column's ids are exactly the topic's history between its first and last. */
  private static void assertNoLoss(ChromeDriver driver, RedisBroker broker, String column) throws Exception {
    List<String> seen = ids(driver, column);
    List<String> history = broker.history("prices", null, 10_000).toCompletableFuture().get().messages()
        .stream().map(Message::id).collect(Collectors.toList());
    List<String> expected = history.subList(history.indexOf(seen.get(0)), history.indexOf(seen.get(seen.size() - 1)) + 1);
    assertEquals(expected, seen, column + " saw every price once, in order, across the restart");
    assertTrue(Integer.parseInt(driver.findElement(By.cssSelector("#col-" + column + " .reconnects")).getText()) >= 1,
        column + " counted its reconnect");
  }

  @Test
  void pricesOnAllThreeTransports_chatAcrossTabs_andResumeAfterARestart() throws Exception {
    requireBrowser();
    String prefix = "sbtest:" + UUID.randomUUID() + ":";
    DemoHub.Options options = DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0", "--webhook-secret", SECRET,
        "--webhook-admin-token", "browser-admin-token-0123", "--allow-private-webhook-targets"});
    RedisBroker broker = broker(prefix);
    DemoHub demo = DemoHub.start(options, broker);
    int port = port(demo);
    ChromeDriver driver = browser();
    DemoHub restarted = null;
    try {
      driver.manage().window().setSize(new Dimension(1280, 800));
      driver.get(demo.httpUrl() + "/");
      String tab1 = driver.getWindowHandle();
      for (String column : List.of("ws", "sse", "longpoll")) {
        await(column + " column receives prices", () -> ids(driver, column).size() >= 2);
      }

      // Chat: typed in tab 1, shown in tab 2.
      driver.switchTo().newWindow(WindowType.TAB);
      driver.get(demo.httpUrl() + "/");
      String tab2 = driver.getWindowHandle();
      await("tab 2's chat is connected over WebSocket", () -> driver.findElement(By.id("chat-state")).getText().equals("ws"));
      driver.switchTo().window(tab1);
      driver.findElement(By.id("chat-input")).sendKeys("hello from tab 1");
      driver.findElement(By.cssSelector("#chat-form button")).click();
      driver.switchTo().window(tab2);
      await("tab 2 shows tab 1's message", () -> chat(driver).contains("hello from tab 1"));

      // A webhook delivered to /v1/webhooks/in shows up in the log.
      byte[] body = "{\"type\":\"payment.succeeded\",\"amount\":42}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      Map<String, String> headers = dev.switchboard.webhook.WebhookSigner.standardWebhooks(SECRET)
          .sign("msg_browser_1", java.time.Instant.now(), body);
      java.net.http.HttpRequest.Builder post = java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(demo.httpUrl() + "/v1/webhooks/in")).POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body))
          .header("Content-Type", "application/json");
      headers.forEach(post::header);
      assertEquals(204, java.net.http.HttpClient.newHttpClient().send(post.build(),
          java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode());
      await("the webhook log shows the delivery",
          () -> driver.findElement(By.id("webhook-log")).getText().contains("payment.succeeded"));

      // An outbound endpoint (the demo's own inbound URL, which refuses its secret with 401) and its
      // attempts show in the endpoints panel once the admin token is entered.
      java.net.http.HttpResponse<String> created = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create(demo.httpUrl() + "/v1/webhooks/endpoints"))
              .header("Authorization", "Bearer browser-admin-token-0123")
              .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"" + demo.httpUrl()
                  + "/v1/webhooks/in\",\"topics\":[\"orders\"]}")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(201, created.statusCode(), created.body());
      String endpointId = created.body().replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
      String orderId = broker.publish(Message.builder("orders").json("{\"n\":1}").build()).toCompletableFuture().get().id();
      driver.findElement(By.id("endpoints-token")).sendKeys("browser-admin-token-0123");
      driver.findElement(By.cssSelector("#endpoints-form button")).click();
      await("the endpoints panel lists the endpoint and its failed attempt", () -> {
        String panel = driver.findElement(By.id("endpoint-list")).getText();
        return panel.contains(endpointId) && panel.contains(orderId) && panel.contains("HTTP 401");
      });

      // The server goes away; meanwhile prices and a chat message are published (through Redis).
      driver.switchTo().window(tab1);
      List<String> duringDowntime = publishWhileDown(demo, broker, prefix);

      broker = broker(prefix);
      restarted = DemoHub.start(DemoHub.parse(new String[] {"--port", Integer.toString(port), "--grpc-port", "0",
          "--webhook-secret", SECRET}), broker);
      for (String column : List.of("ws", "sse", "longpoll")) {
        await(column + " column resumed with what was published while down",
            () -> ids(driver, column).containsAll(duringDowntime));
      }
      await("tab 1's chat resumed", () -> chat(driver).contains("sent while the server was down"));
      driver.switchTo().window(tab2);
      await("tab 2's chat resumed", () -> chat(driver).contains("sent while the server was down"));
      driver.switchTo().window(tab1);

      for (String column : List.of("ws", "sse", "longpoll")) {
        assertNoLoss(driver, broker, column);
      }
      Path shot = Path.of("target", "demo-page.png");
      Files.createDirectories(shot.getParent());
      Files.write(shot, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
    } finally {
      driver.quit();
      if (restarted != null) {
        restarted.close();
      }
      broker.close();
      dev.switchboard.redis.RedisTestSupportAccess.deleteKeys(REDIS, prefix);
    }
  }

  /**
   * With WebSocket refused ({@code --no-websocket}, as a blocking proxy would), the chat's
   * {@code auto} channel falls back to SSE and still sends and receives; the SSE and long-polling
   * columns receive every price; after a restart everything resumes with no loss.
   */
  @Test
  void withoutWebSocket_thePageFallsBack_andResumesAfterARestart() throws Exception {
    requireBrowser();
    String prefix = "sbtest:" + UUID.randomUUID() + ":";
    String[] args = {"--port", "0", "--grpc-port", "0", "--webhook-secret", SECRET, "--no-websocket"};
    RedisBroker broker = broker(prefix);
    DemoHub demo = DemoHub.start(DemoHub.parse(args), broker);
    int port = port(demo);
    ChromeDriver driver = browser();
    DemoHub restarted = null;
    try {
      driver.get(demo.httpUrl() + "/");
      await("the chat fell back to SSE", () -> driver.findElement(By.id("chat-state")).getText().equals("sse"));
      for (String column : List.of("sse", "longpoll")) {
        await(column + " column receives prices", () -> ids(driver, column).size() >= 2);
      }
      driver.findElement(By.id("chat-input")).sendKeys("sent over SSE + POST");
      driver.findElement(By.cssSelector("#chat-form button")).click();
      await("the chat line came back", () -> chat(driver).contains("sent over SSE + POST"));
      assertEquals(List.of(), ids(driver, "ws"), "the column forced onto WebSocket gets nothing here");

      List<String> duringDowntime = publishWhileDown(demo, broker, prefix);
      args[1] = Integer.toString(port);
      broker = broker(prefix);
      restarted = DemoHub.start(DemoHub.parse(args), broker);
      for (String column : List.of("sse", "longpoll")) {
        await(column + " column resumed with what was published while down",
            () -> ids(driver, column).containsAll(duringDowntime));
      }
      await("the chat resumed", () -> chat(driver).contains("sent while the server was down"));
      assertEquals(List.of("sent over SSE + POST", "sent while the server was down"), chat(driver));
      // The chat channel's other stream (topic webhooks) reconnects on its own jittered backoff: the
      // channel shows its transport again once both are up, "reconnecting" until then.
      await("the chat channel is open on SSE again",
          () -> driver.findElement(By.id("chat-state")).getText().equals("sse"));
      for (String column : List.of("sse", "longpoll")) {
        assertNoLoss(driver, broker, column);
      }
    } finally {
      driver.quit();
      if (restarted != null) {
        restarted.close();
      } else {
        demo.close();
      }
      broker.close();
      dev.switchboard.redis.RedisTestSupportAccess.deleteKeys(REDIS, prefix);
    }
  }
}
