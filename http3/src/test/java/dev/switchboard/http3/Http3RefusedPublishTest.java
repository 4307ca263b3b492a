package dev.switchboard.http3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A publish refused before its body is read (here 403) reaches an HTTP/3 client as the refusal. Left
 * unread, the body made the server reset the request stream as the response ended, and a reset that
 * overtook the response's end failed the exchange: the client saw UNAVAILABLE instead of
 * PERMISSION_DENIED, now and then (the contract suite's forbidden-topic test failed so in CI).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class Http3RefusedPublishTest {
  @Test
  void refusedPublishes_allGetPermissionDenied() throws Exception {
    assumeTrue(Http3.unavailableReason() == null, Http3.unavailableReason());
    Hub hub = Hub.builder().broker(new InMemoryBroker(1000))
        .authorizer((p, topic, action) -> !topic.startsWith("secret")).build();
    try (Http3TestServer server = Http3TestServer.start(hub, 0);
        Channel c = Transports.open(TransportConfig.builder().transport("longpoll").url(server.url().toString())
            .http3(true).trustStore(Http3TestServer.CERT.trustStore()).build())) {
      byte[] body = new byte[4096];
      List<String> wrong = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        try {
          c.send(Message.builder("secret.plans").payload(body, "application/octet-stream").build())
              .toCompletableFuture().get(30, TimeUnit.SECONDS);
          wrong.add(i + ": accepted");
        } catch (ExecutionException e) {
          Status s = e.getCause() instanceof SwitchboardException x ? x.status() : null;
          if (s != Status.PERMISSION_DENIED) {
            wrong.add(i + ": " + e.getCause());
          }
        }
      }
      assertEquals(List.of(), wrong);
    } finally {
      hub.shutdown();
    }
  }
}
