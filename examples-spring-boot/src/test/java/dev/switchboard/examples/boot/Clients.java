package dev.switchboard.examples.boot;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The library's own clients pointed at the example app, and a recording listener. */
final class Clients {
  static final String TOKEN = "let-me-in";
  static final HttpClient HTTP = HttpClient.newHttpClient();

  private Clients() {}

  static Channel open(String transport, int port, String token) {
    TransportConfig.Builder b = TransportConfig.builder().transport(transport)
        .url("http://127.0.0.1:" + port + "/realtime");
    if (token != null) {
      b.token(token);
    }
    return Transports.open(b.build());
  }

  static HttpResponse<String> get(int port, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(int port, String path, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Records what one subscription receives. */
  static final class Recorder implements MessageListener {
    final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
    final BlockingQueue<SwitchboardException> errors = new LinkedBlockingQueue<>();

    @Override
    public void onMessage(Message message) {
      messages.add(message);
    }

    @Override
    public void onError(SwitchboardException error) {
      errors.add(error);
    }

    Message next() throws InterruptedException {
      Message m = messages.poll(30, TimeUnit.SECONDS);
      assertNotNull(m, "no message within 30 s");
      return m;
    }

    SwitchboardException error() throws InterruptedException {
      SwitchboardException e = errors.poll(30, TimeUnit.SECONDS);
      assertNotNull(e, "no error within 30 s");
      return e;
    }
  }
}
