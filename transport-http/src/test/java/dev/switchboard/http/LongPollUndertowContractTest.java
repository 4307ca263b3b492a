package dev.switchboard.http;

import dev.switchboard.testkit.EmbeddedContainer;

/** The whole transport contract over long polling on embedded Undertow 2.3. */
class LongPollUndertowContractTest extends LongPollContractTest {
  @Override
  protected EmbeddedContainer container() {
    return EmbeddedContainer.UNDERTOW;
  }
}
