/** The transport contract suite every Switchboard transport's tests extend, and its helpers. */
module dev.switchboard.testkit {
  requires transitive dev.switchboard.transport;
  requires transitive org.junit.jupiter.api;
  requires transitive jakarta.servlet;
  requires org.eclipse.jetty.server;
  requires org.eclipse.jetty.ee10.servlet;
  requires org.eclipse.jetty.http2.server;

  exports dev.switchboard.testkit;
}
