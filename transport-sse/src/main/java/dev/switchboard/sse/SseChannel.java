package dev.switchboard.sse;

import static dev.switchboard.transport.internal.ClientSupport.unwrap;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.internal.ClientSupport;
import dev.switchboard.transport.internal.HttpChannel;
import dev.switchboard.transport.internal.MessageJson;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link dev.switchboard.transport.Channel} over Server-Sent Events: one event stream per
 * subscription (multiplexed over one connection with HTTP/2), publishing by HTTP POST. Reconnects
 * with backoff, honouring the server's {@code retry:}, and resumes with {@code Last-Event-ID}.
 *
 * <p>Thread-safe. Listener callbacks run on the HTTP client's threads, one at a time per
 * subscription; a listener that blocks applies back-pressure to its own stream only.
 */
final class SseChannel extends HttpChannel {
  SseChannel(TransportConfig config) {
    super("sse", config);
  }

  @Override
  protected void connect(Stream stream) {
    if (!stream.isActive()) {
      return;
    }
    HttpRequest.Builder b = request(topicUri(stream.topic(), "events", null))
        .header("Accept", "text/event-stream")
        .header("Cache-Control", "no-cache")
        .timeout(Duration.ofDays(365)) // a stream lasts as long as it lasts; heartbeats keep it alive
        .GET();
    String after = stream.requestResume();
    if (after != null) {
      b.header("Last-Event-ID", after);
    }
    EventSubscriber events = new EventSubscriber(stream);
    stream.onAbort(events::cancel);
    var exchange = http.sendAsync(b.build(), info -> {
      if (info.statusCode() == 200) {
        stream.opened();
        return HttpResponse.BodySubscribers.fromSubscriber(events);
      }
      return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofByteArray(), body -> {
        Duration hint = retryAfter(info.headers());
        events.failed(MessageJson.readError(info.statusCode(), body, hint), hint);
        return null;
      });
    });
    exchange.whenComplete((resp, err) -> {
      if (err != null) {
        Throwable c = unwrap(err);
        events.failed(new SwitchboardException(Status.UNAVAILABLE,
            "event stream from " + config.url() + " failed: " + c, c), null);
      }
    });
    events.watch(exchange);
  }

  /**
   * Parses one stream's bytes and hands events to its {@link Stream}; reports its end once. A stream
   * that receives nothing, not even the hub's heartbeats, for the {@linkplain TransportConfig#idleTimeout
   * idle timeout} (time spent in the listener excepted) is taken for a dead connection: it is
   * abandoned and reported as ended, so the stream reconnects and resumes.
   */
  private final class EventSubscriber implements Flow.Subscriber<List<ByteBuffer>>, SseParser.Handler {
    private final Stream stream;
    private final SseParser parser;
    private volatile Flow.Subscription subscription;
    private volatile boolean cancelled;
    private boolean ended; // guarded by this
    private ScheduledFuture<?> watchdog; // guarded by this
    private volatile long lastHeardNanos = System.nanoTime();
    private volatile boolean inListener;
    private volatile long retryMillis = -1;
    private String contentType; // extension fields of the event being parsed
    private boolean base64;

    EventSubscriber(Stream stream) {
      this.stream = stream;
      this.parser = new SseParser(this, config.maxMessageBytes() * 2 + 1024);
    }

    void cancel() {
      cancelled = true;
      stopWatching();
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
    }

    /** Starts the idle check of this attempt (from the request on: an unanswered one counts too). */
    void watch(Future<?> exchange) {
      long idle = config.idleTimeout().toNanos();
      if (idle == 0) {
        return;
      }
      long period = Math.max(1, config.idleTimeout().toMillis() / 4);
      synchronized (this) {
        if (ended) {
          return;
        }
        try {
          watchdog = ClientSupport.TIMER.scheduleWithFixedDelay(() -> {
            if (!inListener && System.nanoTime() - lastHeardNanos >= idle) {
              Flow.Subscription s = subscription;
              if (s != null) {
                s.cancel();
              }
              exchange.cancel(true);
              failed(new SwitchboardException(Status.UNAVAILABLE, "event stream from " + config.url()
                  + " silent for " + config.idleTimeout().toMillis() + " ms: taken for dead, reconnecting"), null);
            }
          }, period, period, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          // the client timer is stopped: the JVM is going down
        }
      }
    }

    private synchronized void stopWatching() {
      if (watchdog != null) {
        watchdog.cancel(false);
      }
    }

    void failed(SwitchboardException e, Duration hint) {
      synchronized (this) {
        if (ended) {
          return;
        }
        ended = true;
        stopWatching();
      }
      if (!cancelled) {
        stream.ended(e, hint != null ? hint : retryHint());
      }
    }

    private Duration retryHint() {
      return retryMillis >= 0 ? Duration.ofMillis(Math.min(retryMillis, 3_600_000)) : null;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      if (cancelled) {
        s.cancel();
      } else {
        s.request(1);
      }
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      inListener = true; // parsing delivers to the listener, which may take its time
      try {
        for (ByteBuffer b : items) {
          parser.feed(b);
        }
      } catch (RuntimeException e) {
        subscription.cancel();
        failed(new SwitchboardException(Status.UNAVAILABLE, "bad event stream: " + e.getMessage(), e), null);
        return;
      } finally {
        lastHeardNanos = System.nanoTime();
        inListener = false;
      }
      subscription.request(1);
    }

    @Override
    public void onError(Throwable t) {
      failed(new SwitchboardException(Status.UNAVAILABLE, "event stream broke: " + t, t), null);
    }

    @Override
    public void onComplete() {
      failed(null, null); // the server ended the stream (shutdown, slow consumer): reconnect
    }

    @Override
    public void onEvent(String lastEventId, String type, String data) {
      String ct = contentType;
      boolean b64 = base64;
      contentType = null;
      base64 = false;
      if (type.equals("reset")) {
        stream.reset(reasonOf(data));
        return;
      }
      byte[] payload;
      try {
        payload = b64 ? Base64.getDecoder().decode(data) : data.getBytes(StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        return; // not ours to interpret: skip rather than deliver garbage
      }
      Message.Builder m = Message.builder(stream.topic())
          .id(lastEventId.isEmpty() ? null : lastEventId)
          .payload(payload, ct != null ? ct : SseFormat.TEXT);
      if (!type.equals("message")) {
        try {
          m.event(type);
        } catch (SwitchboardException e) {
          return;
        }
      }
      stream.deliver(m.build());
    }

    @Override
    public void onComment(String comment) {
      String c = comment.strip();
      if (c.startsWith(SseFormat.SUBSCRIBED)) {
        stream.placed(Boolean.parseBoolean(c.substring(SseFormat.SUBSCRIBED.length())));
      }
    }

    @Override
    public void onRetry(long millis) {
      retryMillis = millis;
    }

    @Override
    public void onField(String name, String value) {
      if (name.equals("content-type") && !value.isBlank()) {
        contentType = value;
      } else if (name.equals("encoding")) {
        base64 = value.equals("base64");
      }
    }

    private String reasonOf(String data) {
      int i = data.indexOf("\"reason\"");
      if (i >= 0) {
        int q1 = data.indexOf('"', data.indexOf(':', i) + 1);
        int q2 = q1 < 0 ? -1 : data.indexOf('"', q1 + 1);
        if (q1 >= 0 && q2 > q1) {
          return data.substring(q1 + 1, q2);
        }
      }
      return MessageListener.HISTORY_GAP;
    }
  }
}
