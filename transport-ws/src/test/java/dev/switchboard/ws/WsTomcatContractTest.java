package dev.switchboard.ws;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over WebSocket on embedded Tomcat 11. */
class WsTomcatContractTest extends WsContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.TOMCAT;
  }
}
