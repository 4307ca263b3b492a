/**
 * Switchboard's transport-independent client API ({@code dev.switchboard.transport}): messages,
 * channels, publishers, the {@code TransportProvider} SPI, errors and their status table. The server
 * core is in {@code dev.switchboard.hub} (artifact {@code switchboard-hub}).
 */
module dev.switchboard.transport {
  requires transitive org.slf4j;

  exports dev.switchboard.transport;

  uses dev.switchboard.transport.TransportProvider;
}
