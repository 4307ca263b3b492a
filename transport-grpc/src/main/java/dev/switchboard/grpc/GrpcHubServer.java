package dev.switchboard.grpc;

import dev.switchboard.grpc.v1.HubGrpc;
import dev.switchboard.hub.Hub;
import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A ready-made gRPC server (Netty) for a {@link Hub}: the {@code switchboard.v1.Hub} service, the
 * {@code grpc.health.v1} health service (SERVING while running, NOT_SERVING from {@link #close()})
 * and server reflection (v1 and v1alpha, for grpcurl and similar tools), plus any services of your
 * own added with {@link Builder#addService}.
 *
 * <pre>{@code
 * GrpcHubServer grpc = GrpcHubServer.builder(hub).port(9090).addService(new UserService()).start();
 * }</pre>
 *
 * <p>While the hub holds its connection limit ({@code Hub.Builder.maxConnections}), a new
 * {@code Subscribe} or {@code Connect} stream fails at once with UNAVAILABLE
 * ({@code too_many_connections}) and a {@code retry-after} trailer; unary {@code Publish} and
 * {@code PublishStream} hold no connection and are still taken, and health and reflection still
 * answer. While the hub shuts down, every call of the service fails with UNAVAILABLE. gRPC's TCP connections themselves are not limited (one per client
 * channel, however many calls it carries), so they share the descriptors the hub's default limit
 * leaves free.
 *
 * <p>Defaults: host 127.0.0.1, largest inbound message the hub's payload limit plus 64 KiB for the
 * envelope, server keepalive pings every 30 s (a peer that does not answer within 10 s is dropped),
 * client keepalive pings permitted every 10 s, 5 s grace on close.
 *
 * <p>HTTP/2 limits per connection, each with a setting on the {@link Builder}: at most 500 streams
 * reset by the client within 10 s (HTTP/2 "rapid reset", CVE-2023-44487; past it the connection gets
 * GOAWAY {@code ENHANCE_YOUR_CALM} and is closed), 1,000 concurrent calls (HTTP/2
 * {@code MAX_CONCURRENT_STREAMS}: a client queues further calls until one ends), 8 KiB of request
 * metadata (headers) per call (more fails the call). Client keepalive pings are permitted every
 * 10 s; more often gets GOAWAY. Thread-safe.
 */
public final class GrpcHubServer implements AutoCloseable {
  private final Server server;
  private final GrpcHubService service;
  private final HealthStatusManager health;
  private final Duration shutdownGrace;

  private GrpcHubServer(Builder b) {
    this.service = new GrpcHubService(b.hub);
    this.health = new HealthStatusManager();
    this.shutdownGrace = b.shutdownGrace;
    int maxInbound = b.maxInboundMessageBytes > 0 ? b.maxInboundMessageBytes
        : b.hub.maxPayloadBytes() + GrpcCodec.ENVELOPE_BYTES;
    NettyServerBuilder nb = NettyServerBuilder
        .forAddress(new InetSocketAddress(b.host, b.port), b.credentials)
        .maxInboundMessageSize(maxInbound)
        .keepAliveTime(b.keepAliveTime.toMillis(), TimeUnit.MILLISECONDS)
        .keepAliveTimeout(b.keepAliveTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .permitKeepAliveTime(b.permitKeepAliveTime.toMillis(), TimeUnit.MILLISECONDS)
        .permitKeepAliveWithoutCalls(true)
        .maxConcurrentCallsPerConnection(b.maxConcurrentCallsPerConnection)
        .maxInboundMetadataSize(b.maxInboundMetadataBytes)
        .addService(service)
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .addService(legacyReflection());
    if (b.maxResetsPerWindow > 0) { // grpc-java takes only positive values; unset means no limit
      nb.maxRstFramesPerWindow(b.maxResetsPerWindow, (int) b.resetWindow.toSeconds());
    }
    b.services.forEach(nb::addService);
    this.server = nb.build();
  }

  @SuppressWarnings("deprecation") // v1alpha is what older grpcurl and grpc_cli builds ask for
  private static BindableService legacyReflection() {
    return ProtoReflectionService.newInstance();
  }

  /** A builder for a server over {@code hub}. */
  public static Builder builder(Hub hub) {
    return new Builder(hub);
  }

  private GrpcHubServer startServer() {
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the gRPC server: " + e.getMessage(), e);
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(HubGrpc.SERVICE_NAME, ServingStatus.SERVING);
    for (ServerServiceDefinition d : server.getServices()) {
      health.setStatus(d.getServiceDescriptor().getName(), ServingStatus.SERVING);
    }
    return this;
  }

  /** The port the server listens on (the real one when 0 was asked for). */
  public int port() {
    return server.getPort();
  }

  /** The Switchboard service this server runs. */
  public GrpcHubService service() {
    return service;
  }

  /**
   * Stops taking calls, ends the hub's streams with UNAVAILABLE (clients reconnect), waits up to the
   * grace period for calls in progress, then cancels what is left. Does not shut the hub down.
   */
  @Override
  public void close() {
    health.enterTerminalState();
    server.shutdown();
    service.closeStreams("server is shutting down");
    try {
      if (!server.awaitTermination(shutdownGrace.toMillis(), TimeUnit.MILLISECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** Builds and starts a {@link GrpcHubServer}. Not thread-safe. */
  public static final class Builder {
    private final Hub hub;
    private final List<BindableService> services = new ArrayList<>();
    private String host = "127.0.0.1";
    private int port = 9090;
    private int maxInboundMessageBytes;
    private Duration keepAliveTime = Duration.ofSeconds(30);
    private Duration keepAliveTimeout = Duration.ofSeconds(10);
    private Duration shutdownGrace = Duration.ofSeconds(5);
    private Duration permitKeepAliveTime = Duration.ofSeconds(10);
    private int maxResetsPerWindow = 500;
    private Duration resetWindow = Duration.ofSeconds(10);
    private int maxConcurrentCallsPerConnection = 1_000;
    private int maxInboundMetadataBytes = 8 * 1024;
    private ServerCredentials credentials = InsecureServerCredentials.create();

    private Builder(Hub hub) {
      this.hub = Objects.requireNonNull(hub, "hub");
    }

    /** The address to listen on; default 127.0.0.1 ({@code 0.0.0.0} for every interface). */
    public Builder host(String host) {
      this.host = Objects.requireNonNull(host, "host");
      return this;
    }

    /** The port; 0 picks a free one ({@link #port()} tells which). Default 9090. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0-65535: " + port);
      }
      this.port = port;
      return this;
    }

    /**
     * TLS or other credentials, e.g. {@code TlsServerCredentials.create(certChainFile, keyFile)};
     * default plain text (put TLS in front, or set this, before exposing the port beyond loopback).
     */
    public Builder credentials(ServerCredentials credentials) {
      this.credentials = Objects.requireNonNull(credentials, "credentials");
      return this;
    }

    /** Adds one of your own services next to the hub's. */
    public Builder addService(BindableService service) {
      services.add(Objects.requireNonNull(service, "service"));
      return this;
    }

    /**
     * The largest request message accepted; bigger ones fail with RESOURCE_EXHAUSTED before they
     * are read. Default: the hub's payload limit plus 64 KiB.
     */
    public Builder maxInboundMessageBytes(int bytes) {
      if (bytes < 1024) {
        throw new IllegalArgumentException("maxInboundMessageBytes must be at least 1024: " + bytes);
      }
      this.maxInboundMessageBytes = bytes;
      return this;
    }

    /** How often the server pings an idle connection, and how long it waits for the answer. */
    public Builder keepAlive(Duration time, Duration timeout) {
      if (time.compareTo(Duration.ofSeconds(1)) < 0 || timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("keepalive time must be at least 1s and timeout positive: "
            + time + ", " + timeout);
      }
      this.keepAliveTime = time;
      this.keepAliveTimeout = timeout;
      return this;
    }

    /**
     * The shortest interval at which a client may send keepalive pings (default 10 s); a client
     * pinging more often is sent GOAWAY {@code ENHANCE_YOUR_CALM} ("too_many_pings") and dropped.
     */
    public Builder permitKeepAliveTime(Duration time) {
      if (time.isNegative() || time.compareTo(Duration.ofDays(1)) > 0) {
        throw new IllegalArgumentException("permitKeepAliveTime must be from 0 to 1 day: " + time);
      }
      this.permitKeepAliveTime = time;
      return this;
    }

    /**
     * HTTP/2 rapid-reset protection (CVE-2023-44487): a connection whose client resets more than
     * {@code resets} streams (RST_STREAM frames) within {@code window} gets GOAWAY
     * {@code ENHANCE_YOUR_CALM} and is closed; its other calls fail and the client reconnects.
     * Default 500 within 10 s, far above what cancelling clients send; {@code resets} 0 turns the
     * protection off.
     *
     * @throws IllegalArgumentException if {@code resets} is negative or the window is not 1 s to 1 h
     *     in whole seconds
     */
    public Builder maxResetsPerWindow(int resets, Duration window) {
      if (resets < 0) {
        throw new IllegalArgumentException("resets must be >= 0: " + resets);
      }
      if (window.compareTo(Duration.ofSeconds(1)) < 0 || window.compareTo(Duration.ofHours(1)) > 0
          || window.toMillis() % 1000 != 0) {
        throw new IllegalArgumentException("window must be 1 s to 1 h in whole seconds: " + window);
      }
      this.maxResetsPerWindow = resets;
      this.resetWindow = window;
      return this;
    }

    /**
     * Most calls one connection may have open at once (HTTP/2 {@code MAX_CONCURRENT_STREAMS}); a
     * client queues further calls until one ends. Default 1,000. Each {@code Subscribe} is a call;
     * the Switchboard client multiplexes every subscription over one {@code Connect} call.
     */
    public Builder maxConcurrentCallsPerConnection(int calls) {
      if (calls < 1) {
        throw new IllegalArgumentException("maxConcurrentCallsPerConnection must be >= 1: " + calls);
      }
      this.maxConcurrentCallsPerConnection = calls;
      return this;
    }

    /**
     * Most bytes of request metadata (headers, HPACK-decoded, as HTTP/2 counts them) per call,
     * announced in SETTINGS ({@code MAX_HEADER_LIST_SIZE}); a call with more fails before any of the
     * service's code runs (a grpc-java client refuses to send it and fails the call with INTERNAL;
     * the server resets it otherwise). Default 8 KiB (grpc-java's own default, made explicit), room
     * for a long bearer token.
     */
    public Builder maxInboundMetadataBytes(int bytes) {
      if (bytes < 1024 || bytes > (1 << 20)) {
        throw new IllegalArgumentException("maxInboundMetadataBytes must be from 1 KiB to 1 MiB: " + bytes);
      }
      this.maxInboundMetadataBytes = bytes;
      return this;
    }

    /** How long {@link GrpcHubServer#close()} waits for calls in progress; default 5 s. */
    public Builder shutdownGrace(Duration grace) {
      if (grace.isNegative()) {
        throw new IllegalArgumentException("shutdownGrace must not be negative: " + grace);
      }
      this.shutdownGrace = grace;
      return this;
    }

    /**
     * Builds and starts the server.
     *
     * @throws java.io.UncheckedIOException when the port cannot be bound
     */
    public GrpcHubServer start() {
      return new GrpcHubServer(this).startServer();
    }
  }
}
