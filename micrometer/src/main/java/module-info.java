/** Micrometer metrics for a Switchboard hub and webhook sender. */
module dev.switchboard.micrometer {
  requires transitive dev.switchboard.transport;
  requires transitive dev.switchboard.hub;
  requires transitive micrometer.core;
  requires static dev.switchboard.webhook;

  exports dev.switchboard.micrometer;
}
