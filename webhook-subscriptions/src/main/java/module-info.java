/**
 * Switchboard webhook subscriptions: durable endpoints that resume from their cursor through the
 * broker's history, and their management API.
 */
module dev.switchboard.webhook.subscriptions {
  requires transitive dev.switchboard.hub;
  requires transitive dev.switchboard.webhook;
  requires com.fasterxml.jackson.core;
  requires org.slf4j;
  requires static jakarta.servlet; // only for WebhookEndpointsServlet
  requires static java.sql; // only for JdbcEndpointStore
  requires static lettuce.core; // only for RedisEndpointStore

  exports dev.switchboard.webhook.subscriptions;
}
