/** Switchboard webhooks: signing and verification (Standard Webhooks, GitHub, Stripe, Slack, generic). */
module dev.switchboard.webhook {
  requires org.slf4j;

  exports dev.switchboard.webhook;
}
