package dev.switchboard.spring.boot;

import dev.switchboard.grpc.GrpcHubServer;
import dev.switchboard.hub.Hub;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;

/**
 * Starts the gRPC service ({@code switchboard.v1.Hub}, with health and reflection) on its own port
 * when {@code switchboard-transport-grpc} is on the class path and {@code switchboard.server.grpc.port}
 * is set. It stops after the hub has told its clients.
 */
@AutoConfiguration(after = SwitchboardAutoConfiguration.class)
@ConditionalOnClass(name = "dev.switchboard.grpc.GrpcHubServer")
@ConditionalOnBean(Hub.class)
@ConditionalOnProperty(name = "switchboard.server.grpc.port")
public class SwitchboardGrpcAutoConfiguration {
  /** The running gRPC server; {@link GrpcServerLifecycle#port()} tells the port bound. */
  @Bean
  public GrpcServerLifecycle switchboardGrpcServer(Hub hub, SwitchboardProperties p) {
    return new GrpcServerLifecycle(hub, p.getGrpc());
  }

  /** Starts and stops a {@link GrpcHubServer} with the application context. Thread-safe. */
  public static class GrpcServerLifecycle implements SmartLifecycle {
    private final Hub hub;
    private final SwitchboardProperties.Grpc settings;
    private volatile GrpcHubServer server;

    GrpcServerLifecycle(Hub hub, SwitchboardProperties.Grpc settings) {
      this.hub = hub;
      this.settings = settings;
    }

    @Override
    public synchronized void start() {
      if (server == null) {
        server = GrpcHubServer.builder(hub).host(settings.getHost()).port(settings.getPort())
            .shutdownGrace(settings.getShutdownGrace()).start();
      }
    }

    @Override
    public synchronized void stop() {
      GrpcHubServer s = server;
      server = null;
      if (s != null) {
        s.close();
      }
    }

    @Override
    public boolean isRunning() {
      return server != null;
    }

    /** One below the hub's lifecycle: started after the hub, stopped after it told the clients. */
    @Override
    public int getPhase() {
      return SwitchboardLifecycle.PHASE - 1;
    }

    /** The port the server listens on. @throws IllegalStateException when not running */
    public int port() {
      GrpcHubServer s = server;
      if (s == null) {
        throw new IllegalStateException("the Switchboard gRPC server is not running");
      }
      return s.port();
    }
  }
}
