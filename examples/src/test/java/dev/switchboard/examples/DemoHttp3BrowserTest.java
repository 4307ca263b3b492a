package dev.switchboard.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.http3.Http3;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The demo page over HTTP/3 in Chromium: QUIC forced for the demo's origin (Chromium ignores Alt-Svc
 * for a certificate it does not trust, so the test names the origin and the certificate's SPKI hash,
 * as the demo prints them). The page, its script and the SSE stream come over h3, and the SSE column
 * receives the ticker's prices as they are published. Skipped, saying why, without Chromium or where
 * the native quiche library cannot load.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class DemoHttp3BrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @SuppressWarnings("unchecked")
  private static List<Object> script(ChromeDriver driver, String js) {
    return new ArrayList<>((List<Object>) ((JavascriptExecutor) driver).executeScript(js));
  }

  @Test
  void demoPageOverHttp3_receivesLivePricesInTheSseColumn() throws Exception {
    boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
    if (!installed && System.getenv("SWITCHBOARD_REQUIRE_BROWSER") != null) {
      throw new AssertionError("Chromium is required here: apt-get install -y chromium chromium-driver");
    }
    Assumptions.assumeTrue(installed, "no /usr/bin/chromium and /usr/bin/chromedriver");
    Assumptions.assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
    try (DemoHub demo = DemoHub.start(DemoHub.parse(new String[] {"--port", "0", "--grpc-port", "0",
        "--https-port", "0", "--http3-port", "0"}))) {
      String url = demo.tls().http3Url("127.0.0.1");
      ChromeOptions chrome = new ChromeOptions();
      chrome.setBinary(CHROMIUM.toFile());
      chrome.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--enable-quic", "--origin-to-force-quic-on=" + url.substring("https://".length()),
          "--ignore-certificate-errors-spki-list=" + demo.tls().certificate().spkiSha256(),
          "--window-size=1280,800");
      ChromeDriverService service = new ChromeDriverService.Builder()
          .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
      ChromeDriver driver = new ChromeDriver(service, chrome);
      try {
        driver.get(url + "/");
        List<Object> protocols = script(driver,
            "return performance.getEntries().filter(e => e.nextHopProtocol !== undefined)"
                + ".map(e => e.name + ' ' + e.nextHopProtocol);");
        assertTrue(!protocols.isEmpty() && protocols.get(0).toString().endsWith(" h3"),
            "the page itself came over h3: " + protocols);
        awaitOrExplain(driver, "the SSE column receives prices", () -> ids(driver).size() >= 3);
        List<String> before = ids(driver);
        awaitOrExplain(driver, "more prices arrive while the page is open", () -> ids(driver).size() >= before.size() + 2);
        List<Object> sse = script(driver, "return performance.getEntriesByType('resource')"
            + ".filter(e => e.name.includes('/events')).map(e => e.nextHopProtocol);");
        assertTrue(sse.isEmpty() || sse.stream().allMatch("h3"::equals), "SSE over h3: " + sse);
        List<Object> all = script(driver, "return performance.getEntries().filter(e => e.nextHopProtocol)"
            + ".map(e => e.nextHopProtocol);");
        assertEquals(List.of(), all.stream().filter(p -> !p.equals("h3")).toList(),
            "every request of the page went over h3: " + all);
      } finally {
        driver.quit();
      }
    }
  }

  /**
   * Awaits for up to 100 s: long enough for the client to give up a stream request that got no answer
   * (its 45 s idle limit) and open another. On a time-out, the failure says what the page's channels
   * and requests were doing.
   */
  private static void awaitOrExplain(ChromeDriver driver, String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(100);
    while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    if (!condition.getAsBoolean()) {
      Object state = ((JavascriptExecutor) driver).executeScript("const d = window.switchboardDemo || {};"
          + "const col = (k) => d[k] ? { ids: d[k].ids.length, reconnects: d[k].reconnects,"
          + " state: d[k].channel.state, error: String(d[k].channel.error) } : null;"
          + "return JSON.stringify({ sse: col('sse'), ws: col('ws'), longpoll: col('longpoll'),"
          + " requests: performance.getEntriesByType('resource').map(r => [r.name, r.nextHopProtocol,"
          + " Math.round(r.startTime), Math.round(r.responseStart), Math.round(r.responseEnd)]) });");
      throw new AssertionError("timed out waiting until " + what + "; the page: " + state);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<String> ids(ChromeDriver driver) {
    Object r = ((JavascriptExecutor) driver).executeScript(
        "return window.switchboardDemo && window.switchboardDemo.sse ? window.switchboardDemo.sse.ids : [];");
    return new ArrayList<>((List<String>) r);
  }
}
