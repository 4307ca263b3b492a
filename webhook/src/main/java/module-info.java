/** Switchboard webhooks: signing and verification (Standard Webhooks, GitHub, Stripe, Slack, generic). */
module dev.switchboard.webhook {
  requires org.slf4j;
  requires static jakarta.servlet;
  requires java.net.http;
  requires static java.sql; // only for JdbcDeliveryStore // JDK only; the tests post real deliveries with it

  exports dev.switchboard.webhook;
}
