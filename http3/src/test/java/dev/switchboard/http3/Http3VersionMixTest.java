package dev.switchboard.http3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.eclipse.jetty.http3.client.transport.HttpClientTransportOverHTTP3;
import org.eclipse.jetty.http3.server.HTTP3ServerConnectionFactory;
import org.eclipse.jetty.quic.quiche.client.QuicheTransport;
import org.eclipse.jetty.quic.quiche.server.QuicheServerConnector;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Test;

/**
 * Guards the version mix switchboard-http3 runs on: Jetty's HTTP/3 and QUIC jars at one older 12.1.x
 * (server and client alike), core Jetty (jetty-util, jetty-io, jetty-http, jetty-server) at the parent
 * pom's version. A dependency change that drags core Jetty down to the HTTP/3 version, or splits the
 * HTTP/3 jars across versions, fails here; that the mix works is shown by the other tests (real
 * exchanges over QUIC).
 */
class Http3VersionMixTest {
  private static String jarOf(Class<?> c) {
    var source = c.getProtectionDomain().getCodeSource();
    assertNotNull(source, "no code source for " + c);
    return Path.of(source.getLocation().getPath()).getFileName().toString();
  }

  @Test
  void http3JarsAreAtOneVersion_andCoreJettyAtTheParentPomsVersion() {
    String core = System.getProperty("jetty.version");
    String h3 = System.getProperty("jetty-http3.version");
    assertNotNull(core, "run by Maven (surefire passes jetty.version)");
    assertNotNull(h3, "run by Maven (surefire passes jetty-http3.version)");
    for (Class<?> c : new Class<?>[] {Server.class, org.eclipse.jetty.util.BufferUtil.class,
        org.eclipse.jetty.io.EndPoint.class, org.eclipse.jetty.http.HttpFields.class,
        org.eclipse.jetty.client.HttpClient.class}) {
      assertTrue(jarOf(c).endsWith("-" + core + ".jar"), c + " comes from " + jarOf(c) + ", not core Jetty " + core);
    }
    assertEquals(core, Server.getVersion(), "the running core Jetty");
    for (Class<?> c : new Class<?>[] {HTTP3ServerConnectionFactory.class, QuicheServerConnector.class,
        HttpClientTransportOverHTTP3.class, QuicheTransport.class, org.eclipse.jetty.quic.util.VarLenInt.class,
        org.eclipse.jetty.http3.qpack.QpackEncoder.class}) {
      assertTrue(jarOf(c).endsWith("-" + h3 + ".jar"), c + " comes from " + jarOf(c) + ", not HTTP/3 " + h3);
    }
  }
}
