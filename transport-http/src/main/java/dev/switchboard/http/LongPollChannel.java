package dev.switchboard.http;

import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.HttpChannel;
import dev.switchboard.transport.internal.MessageJson;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link dev.switchboard.transport.Channel} over long polling: each subscription is a chain of
 * {@code GET …/messages?after=<id>&wait=<s>} requests, each resuming from the last id seen, so the
 * server keeps no state and any node can answer. Publishing is a POST with an automatic
 * {@code Idempotency-Key}. After a reset (a cursor the server did not recognise, e.g. after a hub
 * restart) the subscription continues from the server's {@code next} cursor, and the next poll
 * waits as the reconnect backoff says, so a client never polls in a loop.
 *
 * <p>Thread-safe. Listener callbacks run on the HTTP client's threads, one at a time per
 * subscription.
 */
final class LongPollChannel extends HttpChannel {
  LongPollChannel(TransportConfig config) {
    super("longpoll", config);
  }

  @Override
  protected void connect(Stream stream) {
    if (!stream.isActive()) {
      return;
    }
    String query;
    long waitSecs = config.longPollWait().toSeconds();
    String after = stream.requestResume();
    if (!stream.isPositioned()) {
      // Live only: first learn the newest id, then wait for what comes after it.
      query = "limit=0";
      waitSecs = 0;
    } else if (after == null) {
      query = "wait=" + waitSecs;
    } else {
      query = "after=" + encodeSegment(after) + "&wait=" + waitSecs;
    }
    HttpRequest req = request(topicUri(stream.topic(), "messages", query))
        .timeout(config.requestTimeout().plusSeconds(waitSecs))
        .GET().build();
    CompletableFuture<HttpResponse<byte[]>> f = http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray());
    stream.onAbort(() -> f.cancel(true));
    f.whenComplete((resp, err) -> {
      if (!stream.isActive()) {
        return;
      }
      if (err != null) {
        stream.ended(new SwitchboardException(Status.UNAVAILABLE,
            "long poll to " + config.url() + " failed: " + unwrap(err), unwrap(err)), null);
        return;
      }
      boolean reset = false;
      try {
        int sc = resp.statusCode();
        if (sc == 204) {
          stream.opened();
          stream.placed(true);
        } else if (sc == 200) {
          stream.opened();
          MessageJson.Page page = MessageJson.readPage(resp.body());
          stream.placed(page.recovered());
          if (!page.recovered() && stream.isPositioned()) {
            stream.reset(MessageListener.HISTORY_GAP);
            reset = true;
          }
          page.messages().forEach(stream::deliver);
          // Adopt the server's cursor even when null: after a reset the old id means nothing to
          // the server, and polling with it again would only be answered with another reset.
          stream.advance(page.next() != null || page.messages().isEmpty() ? page.next() : stream.resumeId());
        } else {
          stream.ended(MessageJson.readError(sc, resp.body(), retryAfter(resp.headers())),
              retryAfter(resp.headers()));
          return;
        }
      } catch (RuntimeException e) {
        stream.ended(SwitchboardException.from(e), null);
        return;
      }
      stream.runNext(reset);
    });
  }
}
