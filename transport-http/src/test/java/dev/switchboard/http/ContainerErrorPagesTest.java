package dev.switchboard.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.undertow.Undertow;
import io.undertow.server.HttpHandler;
import io.undertow.server.handlers.DisallowedMethodsHandler;
import io.undertow.servlet.Servlets;
import io.undertow.servlet.api.DeploymentInfo;
import io.undertow.servlet.api.DeploymentManager;
import io.undertow.servlet.api.ErrorPage;
import io.undertow.servlet.api.ServletStackTraces;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.valves.ErrorReportValve;
import org.junit.jupiter.api.Test;

/**
 * The README's "JSON error pages on other containers" snippets, run: on Tomcat and Undertow, a path
 * nothing serves is a JSON 404, an exception is a JSON 500 without class names, and TRACE is 405.
 */
class ContainerErrorPagesTest {
  /** The project's error body for a status (what {@code MessageJson.error} writes). */
  static String json(int status) {
    String code = status == 404 ? "not_found" : status == 405 ? "method_not_allowed" : status < 500 ? "invalid_argument" : "internal";
    return "{\"status\":" + status + ",\"error\":\"" + code + "\",\"message\":\"HTTP " + status + "\"}";
  }

  // --- Tomcat: an ErrorReportValve subclass for every error page the container writes ---

  /** README snippet: Tomcat. */
  public static class JsonErrorReportValve extends ErrorReportValve {
    @Override
    protected void report(Request request, Response response, Throwable t) {
      int status = response.getStatus();
      if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
        return; // not an error, or the application already wrote its own body
      }
      try {
        response.resetBuffer();
        response.setContentType("application/json");
        response.getWriter().write(json(status));
        response.finishResponse();
      } catch (IOException | IllegalStateException e) {
        // the client is gone or the response committed: nothing more to send
      }
    }
  }

  @Test
  void tomcat_errorReportValve_answersJson_andRefusesTrace() throws Exception {
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(Files.createTempDirectory("switchboard-tomcat").toString());
    Connector connector = new Connector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    // connector.setAllowTrace(false) is Tomcat's default: TRACE is 405 before any servlet.
    tomcat.setConnector(connector);
    ((StandardHost) tomcat.getHost()).setErrorReportValveClass(JsonErrorReportValve.class.getName());
    Context context = tomcat.addContext("", null);
    Tomcat.addServlet(context, "boom", new Boom());
    context.addServletMappingDecoded("/boom", "boom");
    tomcat.start();
    try {
      assertAnswers(connector.getLocalPort());
    } finally {
      tomcat.stop();
      tomcat.destroy();
    }
  }

  // --- Undertow: an error page for servlet errors, a default response listener for the rest ---

  @Test
  void undertow_errorPageAndDefaultResponseListener_answerJson_andRefuseTrace() throws Exception {
    // README snippet: Undertow.
    DeploymentInfo info = Servlets.deployment().setClassLoader(getClass().getClassLoader())
        .setContextPath("/").setDeploymentName("app")
        .setServletStackTraces(ServletStackTraces.NONE)
        .addServlets(Servlets.servlet("boom", Boom.class).addMapping("/boom"),
            Servlets.servlet("error", JsonErrorServlet.class).addMapping("/error"))
        .addErrorPage(new ErrorPage("/error")); // every status and exception
    DeploymentManager manager = Servlets.defaultContainer().addDeployment(info);
    manager.deploy();
    HttpHandler app = manager.start();
    HttpHandler jsonDefaults = exchange -> {
      // Errors answered outside the servlet (no body yet): the 405 below, 404 from a path handler…
      exchange.addDefaultResponseListener(ex -> {
        if (ex.getStatusCode() < 400 || ex.isResponseStarted()) {
          return false;
        }
        ex.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
        ex.getResponseSender().send(ByteBuffer.wrap(json(ex.getStatusCode()).getBytes(StandardCharsets.UTF_8)));
        return true;
      });
      new DisallowedMethodsHandler(app, Methods.TRACE).handleRequest(exchange);
    };
    Undertow server = Undertow.builder().addHttpListener(0, "127.0.0.1").setHandler(jsonDefaults).build();
    server.start();
    try {
      int port = ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
      assertAnswers(port);
    } finally {
      server.stop();
      manager.stop();
      manager.undeploy();
    }
  }

  /** README snippet: the servlet an error page points at (Undertow, Tomcat error pages, any container). */
  public static class JsonErrorServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      Object code = req.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
      int status = code instanceof Integer ? (Integer) code : 500;
      res.setStatus(status);
      res.setContentType("application/json");
      res.getWriter().write(json(status)); // never the exception's class or message
    }
  }

  /** A servlet that fails. */
  public static class Boom extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) {
      throw new IllegalStateException("internal detail dev.switchboard.Secret");
    }
  }

  /**
   * {@code .} and {@code ..} as a topic, plain or percent-encoded, never publish on any container:
   * 400, from the container or (decoded) {@code invalid_topic} from the filter.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(dev.switchboard.testkit.EmbeddedContainer.class)
  void dotTopics_neverPublish(dev.switchboard.testkit.EmbeddedContainer container) throws Exception {
    dev.switchboard.hub.Hub hub = dev.switchboard.hub.Hub.builder().build();
    try (dev.switchboard.testkit.TransportContractTest.Server server =
             container.start(0, java.util.List.of(new HttpTransportFilter(hub)), null)) {
      for (String topic : new String[] {".", "..", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e"}) {
        String raw = send(server.port(), "POST /v1/topics/" + topic + "/messages HTTP/1.1\r\nHost: x\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
        assertTrue(raw.startsWith("HTTP/1.1 400"), container + " " + topic + ": " + raw);
        // Measured: Jetty refuses %2e segments itself (400 "Ambiguous URI path segment"); Tomcat and
        // Undertow pass them, and plain dots on all three, to the filter, which refuses the topic.
        if (container != dev.switchboard.testkit.EmbeddedContainer.JETTY || !topic.contains("%")) {
          assertTrue(raw.contains("\"error\":\"invalid_topic\""), container + " " + topic + ": " + raw);
        }
      }
      for (String topic : new String[] {".", "..", "messages"}) {
        assertTrue(hub.broker().history(topic, null, 10).toCompletableFuture().get().messages().isEmpty(), topic);
      }
    } finally {
      hub.shutdown();
    }
  }

  private static void assertAnswers(int port) throws IOException {
    String notFound = send(port, "GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertJson(notFound, 404);
    String boom = send(port, "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertJson(boom, 500);
    String trace = send(port, "TRACE /boom HTTP/1.1\r\nHost: x\r\nCookie: s3cr3t\r\nConnection: close\r\n\r\n");
    assertTrue(trace.startsWith("HTTP/1.1 405"), trace);
    assertFalse(trace.contains("s3cr3t"), trace);
  }

  private static void assertJson(String raw, int status) {
    assertTrue(raw.startsWith("HTTP/1.1 " + status), raw);
    assertTrue(raw.toLowerCase(java.util.Locale.ROOT).contains("content-type: application/json"), raw);
    assertTrue(raw.contains(json(status)), raw);
    assertFalse(raw.contains("IllegalStateException") || raw.contains("Secret") || raw.contains("<html"), raw);
  }

  private static String send(int port, String request) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      s.setSoTimeout(30_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      for (int n; (n = in.read(buf)) >= 0; ) {
        out.write(buf, 0, n);
      }
      return out.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
