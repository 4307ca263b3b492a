package dev.switchboard.examples;

import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A webhook sender and receiver pair, payment events: the receiver verifies the signature and
 * processes each event once; the sender signs, and retries when the receiver fails (here its first
 * answer is a 503); a duplicate delivery of the same {@code webhook-id} is acknowledged without being
 * processed again.
 *
 * <pre>java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.WebhookPairExample</pre>
 */
public final class WebhookPairExample {
  static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  private WebhookPairExample() {}

  public static void main(String[] args) throws Exception {
    run(System.out);
  }

  static void run(PrintStream out) throws Exception {
    AtomicInteger answers = new AtomicInteger();
    CountDownLatch processed = new CountDownLatch(1);
    Server receiver = new Server();
    ServerConnector connector = new ServerConnector(receiver);
    connector.setHost("127.0.0.1");
    receiver.addConnector(connector);
    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addFilter(new FilterHolder(WebhookFilter.builder(WebhookVerifier.standardWebhooks(SECRET).build()).build()),
        "/*", EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws java.io.IOException {
        WebhookVerifier.Verified v = (WebhookVerifier.Verified) req.getAttribute(WebhookFilter.VERIFIED);
        if (answers.incrementAndGet() == 1) {
          out.println("receiver: " + v.id() + " verified, but the database is busy: 503");
          res.setStatus(503); // the sender will retry; the failed attempt releases the id
          return;
        }
        String body = new String(req.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        out.println("receiver: processed " + v.id() + " " + body);
        res.setStatus(204);
        processed.countDown();
      }
    }), "/*");
    receiver.setHandler(ctx);
    receiver.start();
    URI url = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/payments");

    WebhookSender sender = WebhookSender.builder()
        .schedule(List.of(Duration.ZERO, Duration.ofMillis(500), Duration.ofSeconds(2)))
        .allowPrivateTargets(true) // the receiver is on loopback in this example
        .listener(new WebhookSender.Listener() {
          @Override
          public void onAttempt(WebhookSender.Attempt a) {
            out.println("sender: attempt " + a.attempt() + " of " + a.deliveryId() + " -> " + a.outcome());
          }
        })
        .build();
    try {
      sender.register("payments", url, WebhookSigner.standardWebhooks(SECRET));
      sender.start();
      byte[] event = "{\"type\":\"payment.succeeded\",\"id\":\"pay_1001\",\"amount\":4200}".getBytes(StandardCharsets.UTF_8);
      String id = sender.send("payments", event, "application/json");
      if (!processed.await(30, TimeUnit.SECONDS)) {
        out.println("the receiver did not process the event within 30 s");
        return;
      }
      // A provider that redelivers (its own retry, a replay) sends the same webhook-id again.
      HttpRequest.Builder dup = HttpRequest.newBuilder(url).POST(HttpRequest.BodyPublishers.ofByteArray(event))
          .header("Content-Type", "application/json");
      WebhookSigner.standardWebhooks(SECRET).sign(id, Instant.now(), event).forEach(dup::header);
      int status = HttpClient.newHttpClient().send(dup.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
      out.println("duplicate of " + id + ": HTTP " + status + ", not processed again");
    } finally {
      sender.close();
      receiver.stop();
    }
  }
}
