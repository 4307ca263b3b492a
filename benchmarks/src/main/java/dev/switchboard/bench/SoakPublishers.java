package dev.switchboard.bench;

import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.grpc.v1.PublishResponse;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import dev.switchboard.transport.internal.MessageJson;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The soak's publishers: every topic has one lane per {@link Kind} (five publishing paths), each
 * lane publishing its own sequence ({@link SoakLedger}) at an equal share of the total rate, one
 * publish at a time: a tick that finds the lane's previous publish still in flight is skipped and
 * counted. Payloads are {@code minPayload..maxPayload} bytes, uniformly. Failures are counted by
 * kind and status.
 *
 * <p>Thread-safe.
 */
final class SoakPublishers implements AutoCloseable {
  /** The publishing paths, in the order of {@link SoakLedger#LANES}. */
  enum Kind {
    /** The Java client's REST publish ({@code Channel.send} of a long-polling channel): POST with an Idempotency-Key. */
    REST_KEYED("rest+key"),
    /**
     * A plain POST with no Idempotency-Key, as curl in a script sends it: a connection of its own,
     * {@code Connection: close}.
     */
    REST("rest"),
    /** {@code Channel.send} of a WebSocket channel: a {@code publish} frame. */
    WS("ws"),
    /** gRPC unary {@code Publish} from a plain stub. */
    GRPC_UNARY("grpc-unary"),
    /** {@code Channel.send} of a gRPC channel: a publish on its {@code Connect} stream. */
    GRPC_CONNECT("grpc-connect");

    final String label;

    Kind(String label) {
      this.label = label;
    }
  }

  /** A publish that has had no answer after this long counts as failed ("timeout"). */
  static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(60);

  /**
   * Figures of one kind. Latency in microseconds, over the publishes acknowledged since
   * {@link #resetLatency}.
   */
  record KindStats(String kind, long attempted, long acked, long failed, long skippedBusy, long p50, long p99,
      long max) {}

  private final SoakSettings settings;
  private final SoakLedger ledger;
  private final String httpUrl;
  private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "soak-publish-ticker");
    t.setDaemon(true);
    return t;
  });
  private final List<Channel> channels = new ArrayList<>();
  private final List<List<Channel>> channelsByKind = new ArrayList<>();
  private final InetSocketAddress httpAddress;
  private final ExecutorService posts = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "soak-rest-post");
    t.setDaemon(true);
    return t;
  });
  private final ManagedChannel grpc;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final LongAdder[] attempted = adders();
  private final LongAdder[] acked = adders();
  private final LongAdder[] failed = adders();
  private final LongAdder[] skipped = adders();
  private final Histogram[] latency = new Histogram[Kind.values().length];
  private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();

  /**
   * Opens the publishing channels (for the Channel kinds, one per 12 topics each).
   *
   * @param grpc the connection for the unary publishes
   */
  SoakPublishers(SoakSettings settings, SoakLedger ledger, String httpUrl, int grpcPort, ManagedChannel grpc) {
    this.settings = settings;
    this.ledger = ledger;
    this.httpUrl = httpUrl;
    URI base = URI.create(httpUrl);
    this.httpAddress = new InetSocketAddress(base.getHost(), base.getPort());
    this.grpc = grpc;
    for (int k = 0; k < latency.length; k++) {
      latency[k] = new ConcurrentHistogram(3_600_000_000L, 2);
    }
    int perKind = Math.max(1, (settings.topics() + 11) / 12);
    String grpcUrl = "grpc://127.0.0.1:" + grpcPort;
    for (Kind k : Kind.values()) {
      List<Channel> mine = new ArrayList<>();
      String transport = switch (k) {
        case REST_KEYED -> "longpoll";
        case WS -> "ws";
        case GRPC_CONNECT -> "grpc";
        default -> null;
      };
      for (int i = 0; transport != null && i < perKind; i++) {
        Channel c = Transports.open(TransportConfig.builder().transport(transport)
            .url(transport.equals("grpc") ? grpcUrl : httpUrl).build());
        mine.add(c);
        channels.add(c);
      }
      channelsByKind.add(mine);
    }
  }

  private static LongAdder[] adders() {
    LongAdder[] a = new LongAdder[Kind.values().length];
    for (int i = 0; i < a.length; i++) {
      a[i] = new LongAdder();
    }
    return a;
  }

  /** Starts every lane, spread evenly over its period. */
  void start() {
    int lanes = settings.topics() * Kind.values().length;
    long periodNanos = (long) (lanes * 1e9 / settings.publishesPerSecond());
    for (int t = 0; t < settings.topics(); t++) {
      for (Kind k : Kind.values()) {
        int topic = t;
        AtomicBoolean busy = new AtomicBoolean();
        ticker.scheduleAtFixedRate(() -> tick(topic, k, busy),
            ThreadLocalRandom.current().nextLong(periodNanos), periodNanos, TimeUnit.NANOSECONDS);
      }
    }
  }

  private void tick(int topic, Kind kind, AtomicBoolean busy) {
    int k = kind.ordinal();
    if (!busy.compareAndSet(false, true)) {
      skipped[k].increment();
      return;
    }
    SoakLedger.Lane lane = ledger.lane(topic, k);
    long seq = lane.issue();
    int size = ThreadLocalRandom.current().nextInt(settings.minPayload(), settings.maxPayload() + 1);
    byte[] payload = SoakLedger.payload(k, seq, size);
    attempted[k].increment();
    inFlight.incrementAndGet();
    long t0 = System.nanoTime();
    CompletableFuture<Void> sent;
    try {
      sent = send(kind, topic, settings.topic(topic), payload);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.orTimeout(PUBLISH_TIMEOUT.toSeconds(), TimeUnit.SECONDS).whenComplete((v, err) -> {
      if (err == null) {
        lane.acked(seq);
        acked[k].increment();
        latency[k].recordValue(Math.min((System.nanoTime() - t0) / 1000, 3_600_000_000L));
      } else {
        lane.failed(seq);
        failed[k].increment();
        failures.computeIfAbsent(kind.label + " " + describe(err), x -> new LongAdder()).increment();
      }
      inFlight.decrementAndGet();
      busy.set(false);
    });
  }

  private CompletableFuture<Void> send(Kind kind, int topicIndex, String topic, byte[] payload) {
    Message m = Message.builder(topic).payload(payload, Message.TEXT_CONTENT_TYPE).build();
    switch (kind) {
      case REST:
        return CompletableFuture.runAsync(() -> postOnce(topic, payload), posts);
      case GRPC_UNARY:
        CompletableFuture<Void> done = new CompletableFuture<>();
        HubGrpc.newStub(grpc).withDeadlineAfter(30, TimeUnit.SECONDS).publish(PublishRequest.newBuilder()
            .setTopic(topic).setContentType(Message.TEXT_CONTENT_TYPE)
            .setData(com.google.protobuf.ByteString.copyFrom(payload)).build(), new StreamObserver<>() {
              @Override
              public void onNext(PublishResponse r) {}

              @Override
              public void onError(Throwable t) {
                done.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                done.complete(null);
              }
            });
        return done;
      default:
        List<Channel> mine = channelsByKind.get(kind.ordinal());
        return mine.get(topicIndex % mine.size()).send(m).toCompletableFuture().thenAccept(x -> { });
    }
  }

  /**
   * One POST on a connection of its own, closed after the answer.
   *
   * @throws SwitchboardException with the hub's status when it is not 201
   * @throws java.io.UncheckedIOException when the connection fails
   */
  private void postOnce(String topic, byte[] payload) {
    try (Socket s = new Socket()) {
      s.connect(httpAddress, 10_000);
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/topics/" + topic + "/messages HTTP/1.1\r\nHost: " + httpAddress.getHostString() + ":"
          + httpAddress.getPort() + "\r\nContent-Type: " + Message.TEXT_CONTENT_TYPE + "\r\nContent-Length: "
          + payload.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(payload);
      out.flush();
      byte[] answer = s.getInputStream().readAllBytes(); // the hub closes after it
      String head = new String(answer, 0, Math.min(answer.length, 12), StandardCharsets.US_ASCII);
      int status = head.startsWith("HTTP/1.1 ") && head.length() == 12 ? Integer.parseInt(head.substring(9)) : -1;
      if (status < 0) {
        throw new IOException("no HTTP answer (" + answer.length + " bytes)");
      }
      if (status != 201) {
        String text = new String(answer, StandardCharsets.UTF_8);
        int body = text.indexOf("\r\n\r\n");
        throw MessageJson.readError(status, body < 0 ? new byte[0]
            : text.substring(body + 4).getBytes(StandardCharsets.UTF_8), null);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** A failure as its status: {@code 503 too_many_topics}, {@code UNAVAILABLE}, {@code timeout}, ... */
  static String describe(Throwable err) {
    Throwable t = err;
    while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof java.io.UncheckedIOException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof SwitchboardException e) {
      return e.status().httpStatus() + " " + e.errorCode();
    }
    if (t instanceof StatusRuntimeException e) {
      return e.getStatus().getCode().name();
    }
    if (t instanceof java.util.concurrent.TimeoutException) {
      return "timeout";
    }
    return t.getClass().getSimpleName();
  }

  /** Stops publishing and waits (up to {@link #PUBLISH_TIMEOUT} and a bit) for the publishes in flight. */
  void stop() throws InterruptedException {
    ticker.shutdownNow();
    ticker.awaitTermination(10, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + PUBLISH_TIMEOUT.plusSeconds(5).toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
  }

  /** Forgets the latencies so far (those of the start-up, with its connection set-up and cold JIT). */
  void resetLatency() {
    for (Histogram h : latency) {
      h.reset();
    }
  }

  long acked() {
    long n = 0;
    for (LongAdder a : acked) {
      n += a.sum();
    }
    return n;
  }

  long failed() {
    long n = 0;
    for (LongAdder a : failed) {
      n += a.sum();
    }
    return n;
  }

  List<KindStats> stats() {
    List<KindStats> out = new ArrayList<>();
    for (Kind k : Kind.values()) {
      int i = k.ordinal();
      Histogram h = latency[i].copy();
      out.add(new KindStats(k.label, attempted[i].sum(), acked[i].sum(), failed[i].sum(), skipped[i].sum(),
          h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getMaxValue()));
    }
    return out;
  }

  /** Failures by kind and status, e.g. {@code rest 503 too_many_topics -> 12}. */
  Map<String, Long> failures() {
    Map<String, Long> out = new TreeMap<>();
    failures.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    posts.shutdownNow();
    channels.forEach(Channel::close);
  }
}
