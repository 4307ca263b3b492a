package dev.switchboard.http;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over long polling on embedded Tomcat 11. */
class LongPollTomcatContractTest extends LongPollContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.TOMCAT;
  }
}
