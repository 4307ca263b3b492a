package dev.switchboard.ws;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over WebSocket on embedded Undertow 2.3. */
class WsUndertowContractTest extends WsContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.UNDERTOW;
  }
}
