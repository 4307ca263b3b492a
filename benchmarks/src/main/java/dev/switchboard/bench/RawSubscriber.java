package dev.switchboard.bench;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.SubscribeEvent;
import dev.switchboard.grpc.v1.SubscribeRequest;
import dev.switchboard.sse.SseParser;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.internal.MessageJson;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;

/**
 * A subscriber on a raw client, with none of the project's client logic, so it sees exactly what the
 * hub sends: SSE and long polling on the JDK's HTTP/1.1 client, WebSocket on the JDK's WebSocket,
 * gRPC on a plain grpc-java stub. It can resume from an id, read or never read (a slow reader: it
 * asks for no data, so the hub's writes back up), and close politely or abruptly.
 *
 * <p>When the hub ends the connection: a {@code steady} subscriber reconnects after half a second
 * and resumes after the last id it got (as any client should); a churner just records why it ended.
 * Either way the reason is counted as an event (e.g. {@code churn raw-ws ended: close 4000}).
 *
 * <p>Thread-safe.
 */
abstract class RawSubscriber extends SoakSubscriber {
  /** How long a steady subscriber waits before it reconnects. */
  static final Duration RECONNECT_DELAY = Duration.ofMillis(500);
  /** How long a steady raw long poll waits on the hub; churners wait less, so they end sooner. */
  static final int STEADY_POLL_WAIT_SECONDS = 30;
  static final int CHURN_POLL_WAIT_SECONDS = 5;

  final SoakClients clients;
  final boolean steady;
  final boolean read;
  private final Object lock = new Object();
  private boolean closed; // guarded by lock

  RawSubscriber(SoakClients clients, String group, String transport, String topic, SequenceCheck check,
      boolean steady, boolean read) {
    super(group, transport, topic, check);
    this.clients = clients;
    this.steady = steady;
    this.read = read;
  }

  /** A raw subscriber of {@code transport}; call {@link #open} to connect it. */
  static RawSubscriber create(SoakClients clients, String group, String transport, String topic,
      SequenceCheck check, boolean steady, boolean read) {
    return switch (transport) {
      case "sse" -> new Sse(clients, group, topic, check, steady, read);
      case "ws" -> new Ws(clients, group, topic, check, steady, read);
      case "longpoll" -> new LongPoll(clients, group, topic, check, steady, read);
      case "grpc" -> new Grpc(clients, group, topic, check, steady, read);
      default -> throw new IllegalArgumentException("unknown transport " + transport);
    };
  }

  @Override
  String kind() {
    return "raw-" + transport;
  }

  /** The HTTP client of this subscriber's group. */
  final java.net.http.HttpClient http() {
    return steady ? clients.http : clients.churnHttp;
  }

  /** Connects, resuming after {@code afterId} (null: live messages only). */
  abstract void open(String afterId);

  /** Drops or closes the current connection. */
  abstract void disconnect(boolean abrupt);

  @Override
  final void close(boolean abrupt) {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
    }
    disconnect(abrupt);
  }

  final boolean isClosed() {
    synchronized (lock) {
      return closed;
    }
  }

  /**
   * The hub ended the connection (or it could not be opened): counts why, and a steady subscriber
   * reconnects where it left off.
   */
  final void ended(String why) {
    if (isClosed()) {
      return;
    }
    clients.event(group + " " + kind() + " ended: " + why);
    if (steady) {
      clients.timer.schedule(() -> {
        if (!isClosed()) {
          open(check.lastId());
        }
      }, RECONNECT_DELAY.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  static String describe(Throwable t) {
    return SoakPublishers.describe(t);
  }

  /** SSE: {@code GET /v1/topics/{topic}/events}, resuming with {@code Last-Event-ID}. */
  static final class Sse extends RawSubscriber {
    private volatile Flow.Subscription subscription;
    private volatile CompletableFuture<?> response;
    private volatile boolean dropped;

    Sse(SoakClients clients, String group, String topic, SequenceCheck check, boolean steady, boolean read) {
      super(clients, group, "sse", topic, check, steady, read);
    }

    @Override
    void open(String afterId) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(clients.httpUrl + "/v1/topics/" + topic + "/events"))
          .header("Accept", "text/event-stream");
      if (afterId != null) {
        b.header("Last-Event-ID", afterId);
      }
      SseParser parser = new SseParser((id, type, data) -> {
        if ("reset".equals(type)) {
          check.onReset();
        } else {
          check.onMessage(id, data.getBytes(StandardCharsets.UTF_8));
        }
      }, 1 << 20);
      dropped = false;
      Flow.Subscriber<List<ByteBuffer>> body = new Flow.Subscriber<>() {
        @Override
        public void onSubscribe(Flow.Subscription s) {
          subscription = s;
          if (dropped) {
            s.cancel();
          } else if (read) {
            s.request(Long.MAX_VALUE);
          }
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
          buffers.forEach(parser::feed);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onComplete() {}
      };
      response = http().sendAsync(b.build(), info -> info.statusCode() == 200
          ? HttpResponse.BodySubscribers.fromSubscriber(body, s -> (Object) null)
          : HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofByteArray(), x -> (Object) x))
          .whenComplete((r, err) -> {
            if (dropped) {
              return;
            }
            if (err != null) {
              ended("error " + describe(err));
            } else if (r.statusCode() != 200) {
              ended("HTTP " + r.statusCode() + " " + errorCode(r.statusCode(), (byte[]) r.body()));
            } else {
              ended("closed by hub");
            }
          });
    }

    @Override
    void disconnect(boolean abrupt) {
      dropped = true; // an SSE client can only close its connection, politely or not
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
      CompletableFuture<?> r = response;
      if (r != null) {
        r.cancel(true);
      }
    }
  }

  /** WebSocket: {@code /v1/ws}, subprotocol {@code switchboard.v1.json}, a {@code subscribe} frame. */
  static final class Ws extends RawSubscriber {
    private volatile WebSocket socket;

    Ws(SoakClients clients, String group, String topic, SequenceCheck check, boolean steady, boolean read) {
      super(clients, group, "ws", topic, check, steady, read);
    }

    @Override
    void open(String afterId) {
      byte[] subscribe = MessageJson.write(g -> {
        g.writeStartObject();
        g.writeStringField("op", "subscribe");
        g.writeStringField("topic", topic);
        if (afterId != null) {
          g.writeStringField("after", afterId);
        }
        g.writeEndObject();
      });
      http().newWebSocketBuilder().subprotocols("switchboard.v1.json").connectTimeout(Duration.ofSeconds(10))
          .buildAsync(clients.wsUri, new WebSocket.Listener() {
            private final StringBuilder text = new StringBuilder();

            @Override
            public void onOpen(WebSocket ws) {
              ws.sendText(new String(subscribe, StandardCharsets.UTF_8), true);
              if (read) {
                ws.request(1);
              }
            }

            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
              text.append(data);
              if (last) {
                frame(text.toString());
                text.setLength(0);
              }
              ws.request(1);
              return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
              ended("close " + code);
              return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
              ended("error " + describe(error));
            }
          }).whenComplete((ws, err) -> {
            if (err != null) {
              ended("open failed: " + describe(err));
              return;
            }
            socket = ws;
            if (isClosed()) {
              ws.abort();
            }
          });
    }

    private void frame(String text) {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      String op = null;
      String error = null;
      try (JsonParser p = MessageJson.JSON.createParser(bytes)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          throw new IOException("not an object");
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String f = p.currentName();
          p.nextToken();
          if (f.equals("op")) {
            op = p.getText();
          } else if (f.equals("error")) {
            error = p.getText();
          } else {
            p.skipChildren();
          }
        }
        if ("message".equals(op)) {
          try (JsonParser m = MessageJson.JSON.createParser(bytes)) {
            m.nextToken();
            Message msg = MessageJson.readMessage(m, bytes);
            check.onMessage(msg.id(), msg.payload());
          }
        } else if ("reset".equals(op)) {
          check.onReset();
        } else if ("error".equals(op)) {
          clients.event(group + " " + kind() + " error frame: " + error);
        }
      } catch (IOException | RuntimeException e) {
        clients.event(group + " " + kind() + " unreadable frame: " + describe(e));
      }
    }

    @Override
    void disconnect(boolean abrupt) {
      WebSocket ws = socket;
      if (ws == null) {
        return; // open() aborts it when the handshake completes
      }
      if (abrupt || !read) {
        ws.abort();
      } else {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
        clients.timer.schedule(ws::abort, 5, TimeUnit.SECONDS); // if the hub never answers the close
      }
    }
  }

  /**
   * Long polling: {@code GET …/messages?after=<id>&wait=<s>} in a chain. A live subscriber first asks
   * for the newest id ({@code limit=0}). A slow reader sends one poll and never reads the answer.
   */
  static final class LongPoll extends RawSubscriber {
    private volatile CompletableFuture<?> pending;
    private volatile Flow.Subscription unread;

    LongPoll(SoakClients clients, String group, String topic, SequenceCheck check, boolean steady, boolean read) {
      super(clients, group, "longpoll", topic, check, steady, read);
    }

    @Override
    void open(String afterId) {
      poll(afterId, afterId != null);
    }

    private void poll(String after, boolean positioned) {
      if (isClosed()) {
        return;
      }
      int wait = steady ? STEADY_POLL_WAIT_SECONDS : CHURN_POLL_WAIT_SECONDS;
      String query = !positioned ? "limit=0"
          : (after == null ? "" : "after=" + URLEncoder.encode(after, StandardCharsets.UTF_8) + "&") + "wait=" + wait;
      HttpRequest req = HttpRequest.newBuilder(URI.create(clients.httpUrl + "/v1/topics/" + topic + "/messages?" + query))
          .timeout(Duration.ofSeconds(wait + 30)).GET().build();
      if (!read) {
        // Ask for the answer's bytes never: the hub's write backs up into its buffers. Closing
        // cancels the body as well as the exchange.
        pending = http().sendAsync(req, info -> HttpResponse.BodySubscribers.fromSubscriber(
            new Flow.Subscriber<List<ByteBuffer>>() {
              @Override
              public void onSubscribe(Flow.Subscription s) {
                unread = s;
                if (isClosed()) {
                  s.cancel();
                }
              }

              @Override
              public void onNext(List<ByteBuffer> item) {}

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onComplete() {}
            }));
        return;
      }
      CompletableFuture<HttpResponse<byte[]>> f = http().sendAsync(req, HttpResponse.BodyHandlers.ofByteArray());
      pending = f;
      f.whenComplete((r, err) -> {
        if (isClosed()) {
          return;
        }
        if (err != null) {
          ended("error " + describe(err));
          return;
        }
        String next = after;
        if (r.statusCode() == 200) {
          MessageJson.Page page;
          try {
            page = MessageJson.readPage(r.body());
          } catch (RuntimeException e) {
            ended("unreadable page: " + describe(e));
            return;
          }
          if (positioned && !page.recovered()) {
            check.onReset();
          }
          for (Message m : page.messages()) {
            check.onMessage(m.id(), m.payload());
          }
          if (page.next() != null) {
            next = page.next();
          }
        } else if (r.statusCode() != 204) {
          ended("HTTP " + r.statusCode() + " " + errorCode(r.statusCode(), r.body()));
          return;
        }
        poll(next, true);
      });
    }

    @Override
    void disconnect(boolean abrupt) {
      Flow.Subscription s = unread;
      if (s != null) {
        s.cancel();
      }
      CompletableFuture<?> f = pending;
      if (f != null) {
        f.cancel(true);
      }
    }
  }

  /** gRPC: a {@code Subscribe} server stream; a slow reader requests no message at all. */
  static final class Grpc extends RawSubscriber {
    private final ManagedChannel channel;
    private final boolean ownChannel;
    private volatile ClientCallStreamObserver<SubscribeRequest> call;

    Grpc(SoakClients clients, String group, String topic, SequenceCheck check, boolean steady, boolean read) {
      super(clients, group, "grpc", topic, check, steady, read);
      this.ownChannel = !steady; // a churner's connection comes and goes with it
      this.channel = steady ? clients.sharedGrpcChannel() : clients.newGrpcChannel();
    }

    @Override
    void open(String afterId) {
      SubscribeRequest.Builder req = SubscribeRequest.newBuilder().setTopic(topic);
      if (afterId != null) {
        req.setAfter(afterId);
      }
      HubGrpc.newStub(channel).subscribe(req.build(), new ClientResponseObserver<SubscribeRequest, SubscribeEvent>() {
        @Override
        public void beforeStart(ClientCallStreamObserver<SubscribeRequest> c) {
          call = c;
          if (!read) {
            c.disableAutoRequestWithInitial(0);
          }
        }

        @Override
        public void onNext(SubscribeEvent e) {
          if (e.hasMessage()) {
            check.onMessage(e.getMessage().getId(), e.getMessage().getData().toByteArray());
          } else if (e.hasReset()) {
            check.onReset();
          }
        }

        @Override
        public void onError(Throwable t) {
          ended("error " + describe(t));
        }

        @Override
        public void onCompleted() {
          ended("completed by hub");
        }
      });
    }

    @Override
    void disconnect(boolean abrupt) {
      ClientCallStreamObserver<SubscribeRequest> c = call;
      if (ownChannel && abrupt) {
        channel.shutdownNow(); // the connection goes, with the stream on it
        return;
      }
      if (c != null) {
        c.cancel("closed by the soak", null);
      }
      if (ownChannel) {
        channel.shutdown();
      }
    }
  }

  static String errorCode(int status, byte[] body) {
    try {
      return MessageJson.readError(status, body, null).errorCode();
    } catch (RuntimeException e) {
      return "(no JSON error)";
    }
  }
}
