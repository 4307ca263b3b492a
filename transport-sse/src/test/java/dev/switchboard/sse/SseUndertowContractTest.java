package dev.switchboard.sse;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over Server-Sent Events on embedded Undertow 2.3. */
class SseUndertowContractTest extends SseContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.UNDERTOW;
  }
}
