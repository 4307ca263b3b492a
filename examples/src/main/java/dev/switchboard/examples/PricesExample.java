package dev.switchboard.examples;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Live prices over Server-Sent Events: subscribes to topic {@code prices} and prints each price.
 *
 * <pre>java -cp examples/target/switchboard-demo.jar dev.switchboard.examples.PricesExample --url http://127.0.0.1:8080 --count 5</pre>
 */
public final class PricesExample {
  static final String USAGE = "usage: PricesExample [--url http://127.0.0.1:8080] [--count N]";

  private PricesExample() {}

  public static void main(String[] args) throws Exception {
    ExampleArgs.main(USAGE, () -> {
      ExampleArgs a = new ExampleArgs(args, List.of("url", "count"), Map.of("url", "http://127.0.0.1:8080", "count", "10"));
      run(a.get("url"), a.getInt("count"), System.out);
    });
  }

  /** Prints {@code count} prices as they arrive, then returns. */
  static void run(String url, int count, PrintStream out) throws InterruptedException {
    CountDownLatch left = new CountDownLatch(count);
    try (Channel channel = Transports.open(TransportConfig.builder().transport("sse").url(url).build())) {
      channel.subscribe("prices", (MessageListener) (Message m) -> {
        if (left.getCount() > 0) {
          out.println("price " + m.id() + " " + m.text());
          left.countDown();
        }
      });
      if (!left.await(5, TimeUnit.MINUTES)) {
        out.println("no more prices within 5 minutes");
      }
    }
  }
}
