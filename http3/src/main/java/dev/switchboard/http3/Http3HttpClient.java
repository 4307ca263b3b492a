package dev.switchboard.http3;

import dev.switchboard.transport.TransportConfig;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http3.client.HTTP3Client;
import org.eclipse.jetty.http3.client.HTTP3ClientQuicConfiguration;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.quic.quiche.client.QuicheClientQuicConfiguration;
import org.eclipse.jetty.quic.quiche.client.QuicheTransport;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A {@link java.net.http.HttpClient} whose exchanges run over HTTP/3 on Jetty's HTTP/3 client (QUIC,
 * quiche), so the SSE and long-polling channels, written against the JDK client, run over QUIC
 * unchanged. It implements what those channels use: {@link #sendAsync} with any body handler, response
 * bodies streamed with back-pressure (a subscriber's demand reads the next chunk), cancellation aborting
 * the exchange. Responses report {@link HttpClient.Version#HTTP_2} (the JDK has no HTTP_3 constant
 * before 25). One QUIC connection per client; {@link #close()} stops it.
 *
 * <p>Thread-safe.
 */
final class Http3HttpClient extends HttpClient implements Closeable {
  private final TransportConfig config;
  private final org.eclipse.jetty.client.HttpClient jetty;
  private final Path pemDir;

  Http3HttpClient(TransportConfig config) {
    Http3.requireAvailable();
    this.config = config;
    try {
      this.pemDir = Http3.privateTempDir();
      // HTTP/3's stream limits (the server opens control and QPACK streams towards the client).
      QuicheClientQuicConfiguration quic = HTTP3ClientQuicConfiguration.configure(new QuicheClientQuicConfiguration(pemDir));
      SslContextFactory.Client ssl = new SslContextFactory.Client();
      if (config.trustStore() != null) {
        ssl.setTrustStore(config.trustStore());
      }
      ClientConnector connector = new ClientConnector();
      connector.setSslContextFactory(ssl);
      connector.setConnectTimeout(config.connectTimeout());
      HTTP3Client h3 = new HTTP3Client(quic, connector);
      // No QPACK dynamic table for the request headers: with hundreds of streams per connection the
      // 12.1.5 server's QPACK decoder failed on the encoder stream's instructions (IndexOutOfBounds in
      // NBitStringDecoder, a session failure that stalls every stream); static-table and literal
      // headers never touch it. The requests' headers are small and few.
      h3.getHTTP3Configuration().setMaxEncoderTableCapacity(0);
      jetty = new org.eclipse.jetty.client.HttpClient(new Http3Transport(h3, new QuicheTransport(quic)));
      QueuedThreadPool threads = new QueuedThreadPool();
      threads.setName("switchboard-h3-client");
      threads.setDaemon(true);
      jetty.setExecutor(threads);
      jetty.setFollowRedirects(false);
      jetty.setConnectTimeout(config.connectTimeout().toMillis());
      jetty.setIdleTimeout(0);
      jetty.start();
      // Statuses are the channel's to interpret: Jetty's protocol handlers (added at start) would turn a
      // 401 without WWW-Authenticate (the hub's bearer refusal) into a failed exchange.
      jetty.getProtocolHandlers().clear();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the HTTP/3 client: " + e, e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the HTTP/3 client: " + e, e);
    }
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();
    collect(request).whenComplete((body, err) -> {
      if (err != null) {
        result.completeExceptionally(err);
        return;
      }
      try {
        send(request, body, handler, result);
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    });
    return result;
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler,
      HttpResponse.PushPromiseHandler<T> pushPromiseHandler) {
    return sendAsync(request, handler);
  }

  @Override
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    try {
      return sendAsync(request, handler).get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException ? (IOException) e.getCause() : new IOException(e.getCause());
    }
  }

  private <T> void send(HttpRequest request, byte[] body, HttpResponse.BodyHandler<T> handler,
      CompletableFuture<HttpResponse<T>> result) {
    Request jr = jetty.newRequest(request.uri()).method(request.method());
    Duration timeout = request.timeout().orElse(config.requestTimeout());
    jr.timeout(Math.min(timeout.toMillis(), TimeUnit.DAYS.toMillis(3650)), TimeUnit.MILLISECONDS);
    jr.headers(h -> request.headers().map().forEach((name, values) -> values.forEach(v -> h.add(name, v))));
    if (body != null) {
      jr.body(new BytesRequestContent(request.headers().firstValue("Content-Type").orElse("application/octet-stream"), body));
    }
    Exchange<T> exchange = new Exchange<>(request, jr, handler, result);
    result.whenComplete((r, e) -> {
      if (e instanceof CancellationException) {
        jr.abort(e);
      }
    });
    jr.onResponseHeaders(exchange::headers);
    jr.onResponseContentAsync(exchange::content);
    jr.send(exchange::complete);
  }

  /** The request body's bytes (null for none), read from its publisher. */
  private static CompletableFuture<byte[]> collect(HttpRequest request) {
    Optional<HttpRequest.BodyPublisher> publisher = request.bodyPublisher();
    if (publisher.isEmpty() || publisher.get().contentLength() == 0) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<byte[]> bytes = new CompletableFuture<>();
    publisher.get().subscribe(new Flow.Subscriber<>() {
      private final ByteArrayOutputStream out = new ByteArrayOutputStream();

      @Override
      public void onSubscribe(Flow.Subscription s) {
        s.request(Long.MAX_VALUE);
      }

      @Override
      public void onNext(ByteBuffer item) {
        byte[] b = new byte[item.remaining()];
        item.get(b);
        out.write(b, 0, b.length);
      }

      @Override
      public void onError(Throwable t) {
        bytes.completeExceptionally(t);
      }

      @Override
      public void onComplete() {
        bytes.complete(out.toByteArray());
      }
    });
    return bytes;
  }

  /**
   * One exchange: hands the response to the body handler's subscriber, a chunk per demand, and
   * completes the future with the subscriber's body.
   */
  private static final class Exchange<T> implements Flow.Subscription {
    private final HttpRequest request;
    private final Request jettyRequest;
    private final HttpResponse.BodyHandler<T> handler;
    private final CompletableFuture<HttpResponse<T>> result;
    private HttpResponse.BodySubscriber<T> subscriber; // set once, on the headers
    private HttpResponse.ResponseInfo info;
    private long demand; // guarded by this
    private ByteBuffer pending; // guarded by this: a chunk waiting for demand
    private Runnable pendingDemander; // guarded by this
    private boolean completed; // guarded by this: Jetty is done; onComplete once pending is delivered
    private boolean finished; // guarded by this: onComplete or onError was called
    private volatile boolean cancelled;

    Exchange(HttpRequest request, Request jettyRequest, HttpResponse.BodyHandler<T> handler,
        CompletableFuture<HttpResponse<T>> result) {
      this.request = request;
      this.jettyRequest = jettyRequest;
      this.handler = handler;
      this.result = result;
    }

    void headers(Response response) {
      Map<String, List<String>> map = new LinkedHashMap<>();
      for (HttpField f : response.getHeaders()) {
        map.computeIfAbsent(f.getName(), k -> new ArrayList<>()).add(f.getValue());
      }
      HttpHeaders headers = HttpHeaders.of(map, (a, b) -> true);
      int status = response.getStatus();
      info = new HttpResponse.ResponseInfo() {
        @Override
        public int statusCode() {
          return status;
        }

        @Override
        public HttpHeaders headers() {
          return headers;
        }

        @Override
        public Version version() {
          return Version.HTTP_2;
        }
      };
      HttpResponse.BodySubscriber<T> s = handler.apply(info);
      synchronized (this) {
        subscriber = s;
      }
      s.onSubscribe(this);
      s.getBody().whenComplete((body, err) -> {
        if (err != null) {
          result.completeExceptionally(err);
        } else {
          result.complete(new Resp<>(request, info, body));
        }
      });
    }

    void content(Response response, Content.Chunk chunk, Runnable demander) {
      ByteBuffer copy = ByteBuffer.allocate(chunk.remaining());
      copy.put(chunk.getByteBuffer().slice()).flip();
      boolean deliver;
      synchronized (this) {
        if (!copy.hasRemaining()) {
          deliver = false;
        } else if (demand > 0 && pending == null) {
          demand--;
          deliver = true;
        } else {
          pending = copy;
          pendingDemander = demander;
          return;
        }
      }
      if (deliver) {
        subscriber.onNext(List.of(copy));
      }
      demander.run();
    }

    void complete(org.eclipse.jetty.client.Result r) {
      HttpResponse.BodySubscriber<T> s;
      boolean now;
      // A response read to its end counts even when sending the request body failed: the server may
      // answer (401, 413) before reading it all, and Jetty then fails the request side.
      boolean failed;
      synchronized (this) {
        s = subscriber;
        completed = true;
        failed = r.getResponseFailure() != null || s == null;
        now = failed || pending == null;
        if (now) {
          finished = true;
        }
      }
      if (failed) {
        Throwable f = r.getFailure();
        IOException e = f instanceof IOException ? (IOException) f : new IOException(String.valueOf(f), f);
        if (s != null && !cancelled) {
          s.onError(e);
        }
        result.completeExceptionally(cancelled ? new CancellationException("cancelled") : e);
      } else if (now) {
        s.onComplete();
      }
    }

    @Override
    public void request(long n) {
      ByteBuffer chunk;
      Runnable demander;
      boolean completeNow = false;
      synchronized (this) {
        demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
        if (pending == null) {
          return;
        }
        chunk = pending;
        demander = pendingDemander;
        pending = null;
        pendingDemander = null;
        demand--;
        if (completed && !finished) {
          finished = true;
          completeNow = true;
        }
      }
      subscriber.onNext(List.of(chunk));
      if (completeNow) {
        subscriber.onComplete();
      } else {
        demander.run();
      }
    }

    @Override
    public void cancel() {
      cancelled = true;
      jettyRequest.abort(new CancellationException("cancelled by the subscriber"));
    }
  }

  private record Resp<T>(HttpRequest request, HttpResponse.ResponseInfo info, T body) implements HttpResponse<T> {
    @Override
    public int statusCode() {
      return info.statusCode();
    }

    @Override
    public Optional<HttpResponse<T>> previousResponse() {
      return Optional.empty();
    }

    @Override
    public HttpHeaders headers() {
      return info.headers();
    }

    @Override
    public Optional<SSLSession> sslSession() {
      return Optional.empty();
    }

    @Override
    public URI uri() {
      return request.uri();
    }

    @Override
    public Version version() {
      return info.version();
    }
  }

  /** Stops the HTTP/3 client (on its own thread: this may be called from one of the client's threads). */
  @Override
  public void close() {
    Thread t = new Thread(() -> {
      try {
        jetty.stop();
      } catch (Exception e) {
        // stopping anyway
      }
      Http3.deleteTree(pemDir);
    }, "switchboard-h3-client-stop");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public Optional<CookieHandler> cookieHandler() {
    return Optional.empty();
  }

  @Override
  public Optional<Duration> connectTimeout() {
    return Optional.of(config.connectTimeout());
  }

  @Override
  public Redirect followRedirects() {
    return Redirect.NEVER;
  }

  @Override
  public Optional<ProxySelector> proxy() {
    return Optional.empty();
  }

  @Override
  public SSLContext sslContext() {
    return config.sslContext();
  }

  @Override
  public SSLParameters sslParameters() {
    return new SSLParameters();
  }

  @Override
  public Optional<Authenticator> authenticator() {
    return Optional.empty();
  }

  @Override
  public Version version() {
    return Version.HTTP_2;
  }

  @Override
  public Optional<Executor> executor() {
    return Optional.empty();
  }
}
