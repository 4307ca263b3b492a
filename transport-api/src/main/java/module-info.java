/**
 * Switchboard's transport-independent API ({@code dev.switchboard.transport}) and server core
 * ({@code dev.switchboard.hub}).
 */
module dev.switchboard.transport {
  requires transitive org.slf4j;
  requires com.fasterxml.jackson.core;
  requires java.net.http;
  requires jdk.management; // the descriptor limit, for the default connection limit

  exports dev.switchboard.transport;
  exports dev.switchboard.hub;
  // Shared wire helpers for Switchboard's own transport modules only.
  exports dev.switchboard.transport.internal to dev.switchboard.http, dev.switchboard.sse, dev.switchboard.ws,
      dev.switchboard.grpc, dev.switchboard.redis, dev.switchboard.kafka, dev.switchboard.http3;

  uses dev.switchboard.transport.TransportProvider;
  uses dev.switchboard.hub.BrokerProvider;
  uses dev.switchboard.transport.internal.Http3Clients;
}
