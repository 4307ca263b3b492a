/**
 * Switchboard's server core ({@code dev.switchboard.hub}: the {@code Hub}, the {@code Broker} SPI and
 * the embedded {@code InMemoryBroker}) and the helpers Switchboard's own transport and broker modules
 * share ({@code dev.switchboard.transport.internal}, exported to those modules only).
 */
module dev.switchboard.hub {
  requires transitive dev.switchboard.transport;
  requires transitive org.slf4j;
  requires com.fasterxml.jackson.core;
  requires java.net.http;
  requires jdk.management; // the descriptor limit, for the default connection limit
  requires static jakarta.servlet; // only internal.ServletIo, for the servlet filters

  exports dev.switchboard.hub;
  // Shared wire helpers for Switchboard's own transport modules only.
  exports dev.switchboard.transport.internal to dev.switchboard.http, dev.switchboard.sse, dev.switchboard.ws,
      dev.switchboard.grpc, dev.switchboard.redis, dev.switchboard.kafka, dev.switchboard.http3;

  uses dev.switchboard.hub.BrokerProvider;
  uses dev.switchboard.transport.internal.Http3Clients; // switchboard-http3, when present
}
