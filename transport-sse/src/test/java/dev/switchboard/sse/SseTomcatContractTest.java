package dev.switchboard.sse;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over Server-Sent Events on embedded Tomcat 11. */
class SseTomcatContractTest extends SseContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.TOMCAT;
  }
}
