/**
 * The transport contract suite every Switchboard transport's tests extend, and its helpers: embedded
 * Jetty, Tomcat and Undertow servers.
 *
 * <p>Tomcat's and Undertow's jars are read from the class path (the build adds
 * {@code --add-reads dev.switchboard.testkit=ALL-UNNAMED}): tomcat-embed-core is a module that
 * exports {@code jakarta.servlet} itself, which no module can read next to Jetty's
 * {@code jakarta.servlet}, and Undertow's jars are not modules. Tests run on the class path.
 */
module dev.switchboard.testkit {
  requires transitive dev.switchboard.transport;
  requires transitive dev.switchboard.hub;
  requires transitive org.junit.jupiter.api;
  requires transitive jakarta.servlet;
  requires transitive jakarta.websocket;
  requires java.logging;
  requires org.eclipse.jetty.server;
  requires org.eclipse.jetty.ee10.servlet;
  requires org.eclipse.jetty.http2.server;
  requires org.eclipse.jetty.alpn.server;
  requires org.eclipse.jetty.ee10.websocket.jakarta.server;

  exports dev.switchboard.testkit;
}
