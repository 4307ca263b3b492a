package dev.switchboard.spring.boot;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code switchboard.server.*} settings. Every limit left unset keeps the {@code Hub.Builder}
 * default. A mutable bean bound by Spring; not thread-safe, read once at start-up.
 */
@ConfigurationProperties("switchboard.server")
public class SwitchboardProperties {
  /** Whether to mount the hub at all. */
  private boolean enabled = true;

  /**
   * A path before /v1 (e.g. /realtime gives /realtime/v1/topics/...); empty for none. Must start,
   * and not end, with '/'.
   */
  private String basePath = "";

  /** The broker: 'memory' (one node), or redis://host:6379 with switchboard-broker-redis. */
  private String broker = "memory";

  /**
   * Cross-origin callers allowed for REST, long polling, SSE and WebSocket handshakes, e.g.
   * https://app.example.com; '*' allows any. Same-origin calls are always allowed.
   */
  private List<String> allowedOrigins = new ArrayList<>();

  /** Largest accepted payload in bytes (hub default 1 MiB). */
  private Integer maxPayloadBytes;

  /** Most application headers on a published message (hub default 64). */
  private Integer maxHeaders;

  /** Most bytes of a published message's header names and values together (hub default 8 KiB). */
  private Integer maxHeaderBytes;

  /** Per-connection outbound queue limit in messages (hub default 1024). */
  private Integer maxQueuedMessages;

  /** Per-connection outbound queue limit in bytes (hub default 8 MiB). */
  private Long maxQueuedBytes;

  /** Connections plus waiting long polls accepted at once (hub default: from the descriptor limit). */
  private Integer maxConnections;

  /** Topics one connection may subscribe to at once (hub default 1000). */
  private Integer maxSubscriptionsPerConnection;

  /** Longest long-poll wait a client may ask for (hub default and maximum 60s). */
  private Duration maxPollWait;

  private final Sse sse = new Sse();

  private final WebSocket websocket = new WebSocket();

  private final Grpc grpc = new Grpc();

  private final Webhook webhook = new Webhook();

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public String getBasePath() {
    return basePath;
  }

  public void setBasePath(String basePath) {
    this.basePath = basePath;
  }

  public String getBroker() {
    return broker;
  }

  public void setBroker(String broker) {
    this.broker = broker;
  }

  public List<String> getAllowedOrigins() {
    return allowedOrigins;
  }

  public void setAllowedOrigins(List<String> allowedOrigins) {
    this.allowedOrigins = allowedOrigins;
  }

  public Integer getMaxPayloadBytes() {
    return maxPayloadBytes;
  }

  public void setMaxPayloadBytes(Integer maxPayloadBytes) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  public Integer getMaxHeaders() {
    return maxHeaders;
  }

  public void setMaxHeaders(Integer maxHeaders) {
    this.maxHeaders = maxHeaders;
  }

  public Integer getMaxHeaderBytes() {
    return maxHeaderBytes;
  }

  public void setMaxHeaderBytes(Integer maxHeaderBytes) {
    this.maxHeaderBytes = maxHeaderBytes;
  }

  public Integer getMaxQueuedMessages() {
    return maxQueuedMessages;
  }

  public void setMaxQueuedMessages(Integer maxQueuedMessages) {
    this.maxQueuedMessages = maxQueuedMessages;
  }

  public Long getMaxQueuedBytes() {
    return maxQueuedBytes;
  }

  public void setMaxQueuedBytes(Long maxQueuedBytes) {
    this.maxQueuedBytes = maxQueuedBytes;
  }

  public Integer getMaxConnections() {
    return maxConnections;
  }

  public void setMaxConnections(Integer maxConnections) {
    this.maxConnections = maxConnections;
  }

  public Integer getMaxSubscriptionsPerConnection() {
    return maxSubscriptionsPerConnection;
  }

  public void setMaxSubscriptionsPerConnection(Integer maxSubscriptionsPerConnection) {
    this.maxSubscriptionsPerConnection = maxSubscriptionsPerConnection;
  }

  public Duration getMaxPollWait() {
    return maxPollWait;
  }

  public void setMaxPollWait(Duration maxPollWait) {
    this.maxPollWait = maxPollWait;
  }

  public Sse getSse() {
    return sse;
  }

  public WebSocket getWebsocket() {
    return websocket;
  }

  public Grpc getGrpc() {
    return grpc;
  }

  public Webhook getWebhook() {
    return webhook;
  }

  /** {@code switchboard.server.webhook.*}: receiving webhooks (with a WebhookVerifier bean). */
  public static class Webhook {
    /** URL pattern the verifying webhook filter is mapped to. */
    private String path = "/webhooks/*";

    public String getPath() {
      return path;
    }

    public void setPath(String path) {
      this.path = path;
    }
  }

  /** {@code switchboard.server.sse.*}. */
  public static class Sse {
    /** Heartbeat interval: no stream stays silent for longer. */
    private Duration heartbeat = Duration.ofSeconds(15);

    /** The reconnect delay sent to clients in the stream's retry field. */
    private Duration retry = Duration.ofSeconds(1);

    public Duration getHeartbeat() {
      return heartbeat;
    }

    public void setHeartbeat(Duration heartbeat) {
      this.heartbeat = heartbeat;
    }

    public Duration getRetry() {
      return retry;
    }

    public void setRetry(Duration retry) {
      this.retry = retry;
    }
  }

  /** {@code switchboard.server.websocket.*}. */
  public static class WebSocket {
    /** Whether to export the WebSocket endpoint (needs the container's WebSocket support). */
    private boolean enabled = true;

    /** Server ping interval; a peer silent for two intervals is closed. */
    private Duration pingInterval = Duration.ofSeconds(30);

    /** Idle timeout of a session with no traffic at all. */
    private Duration idleTimeout = Duration.ofMinutes(5);

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public Duration getPingInterval() {
      return pingInterval;
    }

    public void setPingInterval(Duration pingInterval) {
      this.pingInterval = pingInterval;
    }

    public Duration getIdleTimeout() {
      return idleTimeout;
    }

    public void setIdleTimeout(Duration idleTimeout) {
      this.idleTimeout = idleTimeout;
    }
  }

  /** {@code switchboard.server.grpc.*}: the gRPC server, started only when a port is set. */
  public static class Grpc {
    /** The gRPC port (0 picks a free one); unset: no gRPC server. Needs switchboard-transport-grpc. */
    private Integer port;

    /** The address the gRPC server listens on (0.0.0.0 for every interface). */
    private String host = "127.0.0.1";

    /** How long gRPC calls get to finish when the application stops. */
    private Duration shutdownGrace = Duration.ofSeconds(5);

    public Integer getPort() {
      return port;
    }

    public void setPort(Integer port) {
      this.port = port;
    }

    public String getHost() {
      return host;
    }

    public void setHost(String host) {
      this.host = host;
    }

    public Duration getShutdownGrace() {
      return shutdownGrace;
    }

    public void setShutdownGrace(Duration shutdownGrace) {
      this.shutdownGrace = shutdownGrace;
    }
  }
}
