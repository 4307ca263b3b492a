package dev.switchboard.examples;

import dev.switchboard.grpc.GrpcHubServer;
import dev.switchboard.http.HttpTransportFilter;
import dev.switchboard.hub.Broker;
import dev.switchboard.hub.Brokers;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.sse.SseTransportFilter;
import dev.switchboard.transport.Message;
import dev.switchboard.ws.WebSocketTransport;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.EnumSet;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.websocket.jakarta.server.config.JakartaWebSocketServletContainerInitializer;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * The demo hub: one embedded Jetty 12 server (HTTP/1.1 and h2c on one port) serving the REST,
 * long-polling, SSE and WebSocket endpoints with the in-memory broker, a gRPC server (Netty) with the
 * {@code switchboard.v1.Hub} service, health and reflection, and a simulated price ticker on topic
 * {@code prices}.
 *
 * <pre>java -XX:+ExitOnOutOfMemoryError -jar examples/target/switchboard-demo.jar [--port 8080] [--grpc-port 9090] [--host 127.0.0.1] [--no-demo-feed] [--https-port 8443 --http3-port 8443]</pre>
 *
 * <p>The in-memory broker runs with its documented defaults ({@link InMemoryBroker.Builder}: 1,000
 * messages and 16 MiB per topic, a quarter of the heap over all topics, 100,000 topics).
 */
public final class DemoHub implements AutoCloseable {
  static final String USAGE = String.join("\n",
      "usage: java -XX:+ExitOnOutOfMemoryError -jar switchboard-demo.jar [options]",
      "  (-XX:+ExitOnOutOfMemoryError: a JVM out of heap exits instead of lingering half-alive;",
      "   the in-memory history keeps 1,000 messages and 16 MiB per topic, a quarter of -Xmx in all)",
      "  --port N        HTTP port (default 8080; 0 picks a free port)",
      "  --grpc-port N   gRPC port (default 9090; 0 picks a free port)",
      "  --host ADDR     address to bind (default 127.0.0.1)",
      "  --broker B      memory (default) or redis://host:port to share topics with other hubs",
      "  --no-demo-feed  do not publish the simulated ticker on topic 'prices'",
      "  --webhook-secret whsec_...       secret for POST /v1/webhooks/in (generated and printed if absent)",
      "  --allow-private-webhook-targets  let registered webhook endpoints be loopback/private addresses",
      "  --webhook-admin-token T          bearer token for /v1/webhooks/endpoints (generated and printed if absent)",
      "  --no-websocket  refuse WebSocket upgrades with 403 (as a blocking proxy would; clients fall back)",
      String.join("\n", DemoTls.USAGE),
      "  --help          show this help");

  /** Parsed command line. */
  record Options(int port, int grpcPort, String host, String broker, boolean demoFeed, String webhookSecret, boolean allowPrivateWebhookTargets,
      String webhookAdminToken, boolean websocket, DemoTls.Settings tls) {
    Options(int port, int grpcPort, String host, String broker, boolean demoFeed, String webhookSecret,
        boolean allowPrivateWebhookTargets, String webhookAdminToken, boolean websocket) {
      this(port, grpcPort, host, broker, demoFeed, webhookSecret, allowPrivateWebhookTargets, webhookAdminToken,
          websocket, DemoTls.Settings.OFF);
    }
  }

  private final Hub hub;
  private final Server server;
  private final ServerConnector connector;
  private final ScheduledExecutorService feed;
  private final WebhookBridge webhooks;
  private final GrpcHubServer grpc;
  private DemoTls tls; // null without --https-port / --http3-port

  private DemoHub(Hub hub, Server server, ServerConnector connector, ScheduledExecutorService feed,
      WebhookBridge webhooks, GrpcHubServer grpc) {
    this.hub = hub;
    this.grpc = grpc;
    this.server = server;
    this.connector = connector;
    this.feed = feed;
    this.webhooks = webhooks;
  }

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("switchboard demo: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    if (options == null) {
      System.out.println(USAGE);
      return;
    }
    DemoHub demo;
    try {
      demo = start(options);
    } catch (IllegalStateException | IllegalArgumentException e) {
      System.err.println("switchboard demo: " + e.getMessage()); // e.g. HTTP/3 unavailable here: one line
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(demo::close, "switchboard-demo-shutdown"));
    demo.printListening(System.out);
    demo.server.join();
  }

  /**
   * Parses the command line.
   *
   * @return null when help was asked for
   * @throws IllegalArgumentException naming the bad or unknown option
   */
  static Options parse(String[] args) {
    int port = 8080;
    int grpcPort = 9090;
    String host = "127.0.0.1";
    String broker = "memory";
    boolean demoFeed = true;
    String webhookSecret = null;
    boolean allowPrivate = false;
    String adminToken = null;
    boolean websocket = true;
    DemoTls.Parser tls = new DemoTls.Parser();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--help":
        case "-h":
          return null;
        case "--no-demo-feed":
          demoFeed = false;
          break;
        case "--port":
          port = portValue(a, value(args, ++i, a));
          break;
        case "--host":
          host = value(args, ++i, a);
          break;
        case "--broker":
          broker = value(args, ++i, a);
          if (!broker.equals("memory") && !broker.startsWith("redis://") && !broker.startsWith("rediss://")) {
            throw new IllegalArgumentException("--broker must be memory or redis://host:port, not '" + broker + "'");
          }
          break;
        case "--grpc-port":
          grpcPort = portValue(a, value(args, ++i, a));
          break;
        case "--webhook-secret":
          webhookSecret = value(args, ++i, a);
          if (!webhookSecret.startsWith("whsec_")) {
            throw new IllegalArgumentException("--webhook-secret must be a whsec_... Standard Webhooks secret");
          }
          break;
        case "--allow-private-webhook-targets":
          allowPrivate = true;
          break;
        case "--webhook-admin-token":
          adminToken = value(args, ++i, a);
          if (adminToken.length() < 16 || !adminToken.matches("[A-Za-z0-9._~+/=-]+")) {
            throw new IllegalArgumentException("--webhook-admin-token must be at least 16 characters of A-Z a-z 0-9 . _ ~ + / = -");
          }
          break;
        case "--no-websocket":
          websocket = false;
          break;
        default:
          if (a.startsWith("--port=")) {
            port = portValue("--port", a.substring(7));
          } else if (a.startsWith("--grpc-port=")) {
            grpcPort = portValue("--grpc-port", a.substring(12));
          } else if (a.startsWith("--host=")) {
            host = a.substring(7);
          } else {
            int taken = tls.parse(args, i);
            if (taken == 0) {
              throw new IllegalArgumentException("unknown option '" + a + "'");
            }
            i += taken - 1;
          }
      }
    }
    if (host.isBlank()) {
      throw new IllegalArgumentException("--host needs an address");
    }
    return new Options(port, grpcPort, host, broker, demoFeed, webhookSecret, allowPrivate, adminToken, websocket,
        tls.build());
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  static int portValue(String option, String v) {
    try {
      int p = Integer.parseInt(v);
      if (p >= 0 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(option + " must be a port from 0 to 65535, not '" + v + "'");
  }

  /** Starts the server and, if enabled, the ticker. */
  static DemoHub start(Options o) throws Exception {
    return start(o, o.broker().equals("memory") ? InMemoryBroker.builder().build() : Brokers.create(o.broker()));
  }

  /** Starts with this broker (tests pass one with their own Redis key prefix). */
  static DemoHub start(Options o, Broker broker) throws Exception {
    Hub.Builder hubBuilder = Hub.builder().broker(broker); // the default limits from the descriptors free now
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    // Jetty stops accepting between the hub's connection limit and the descriptor limit: clients past
    // the hub's limit still get its 503, and accepting never fails for want of descriptors.
    DemoConnector connector = new DemoConnector(server, java.time.Duration.ofSeconds(1),
        java.time.Duration.ofSeconds(10), new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
    connector.setHost(o.host());
    connector.setPort(o.port());
    server.addConnector(connector);
    connector.open(); // bound now, so the hosts the hub answers to name the real port
    DemoTls tls = o.tls().enabled() ? DemoTls.add(server, config, o.tls(), o.host()) : null;
    java.util.List<Integer> ports = new java.util.ArrayList<>(java.util.List.of(connector.getLocalPort()));
    if (tls != null) {
      ports.addAll(tls.ports());
    }
    Hub hub = hubBuilder.originPolicy(originPolicy(o.host(), ports.stream().mapToInt(Integer::intValue).toArray())).build();

    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    FilterHolder sse = new FilterHolder(new SseTransportFilter(hub));
    sse.setAsyncSupported(true);
    FilterHolder rest = new FilterHolder(new HttpTransportFilter(hub));
    rest.setAsyncSupported(true);
    context.addFilter(sse, "/v1/*", EnumSet.of(DispatcherType.REQUEST));
    context.addFilter(rest, "/v1/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(new IndexServlet()), "/");
    DemoClient.serve(context);
    String secret = o.webhookSecret();
    if (secret == null) {
      secret = WebhookBridge.newSecret();
      System.err.println("switchboard demo: webhook secret for /v1/webhooks/in is " + secret
          + " (pass --webhook-secret to choose it)");
    }
    String adminToken = o.webhookAdminToken();
    if (adminToken == null) {
      adminToken = WebhookBridge.newAdminToken();
      System.err.println("switchboard demo: admin token for /v1/webhooks/endpoints is " + adminToken
          + " (send Authorization: Bearer <token>; pass --webhook-admin-token to choose it)");
    }
    WebhookBridge webhooks = new WebhookBridge(hub, secret, o.allowPrivateWebhookTargets(),
        WebhookBridge.adminToken(adminToken), dev.switchboard.webhook.EndpointLimits.defaults());
    context.addFilter(new FilterHolder(webhooks.inboundFilter()), "/v1/webhooks/in", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(webhooks.inbound()), "/v1/webhooks/in");
    ServletHolder endpoints = new ServletHolder(webhooks.endpoints());
    context.addServlet(endpoints, "/v1/webhooks/endpoints");
    context.addServlet(endpoints, "/v1/webhooks/endpoints/*");
    // Same-origin handshakes only (the default): pages the hub serves itself may connect.
    if (o.websocket()) {
      WebSocketTransport ws = WebSocketTransport.builder(hub).build();
      JakartaWebSocketServletContainerInitializer.configure(context, (sc, container) -> ws.register(sc, container));
    } else {
      DemoClient.refuseWebSocket(context);
    }
    server.setHandler(JsonErrorHandler.install(server, context)); // JSON errors, no TRACE
    server.setStopAtShutdown(false);
    server.start();
    GrpcHubServer grpc;
    try {
      grpc = GrpcHubServer.builder(hub).host(o.host()).port(o.grpcPort())
          .shutdownGrace(java.time.Duration.ofSeconds(2)).start();
    } catch (RuntimeException e) {
      server.stop();
      throw e;
    }
    connector.limitConnections(hub); // now that both servers hold their own descriptors

    ScheduledExecutorService feed = null;
    if (o.demoFeed()) {
      feed = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "switchboard-demo-feed");
        t.setDaemon(true);
        return t;
      });
      double[] price = {100.0};
      feed.scheduleAtFixedRate(() -> {
        price[0] = Math.max(1, price[0] + ThreadLocalRandom.current().nextGaussian());
        String json = String.format(Locale.ROOT, "{\"symbol\":\"ACME\",\"price\":%.2f,\"time\":\"%s\"}",
            price[0], java.time.Instant.now());
        hub.publish(Message.builder("prices").event("price").json(json).build());
      }, 0, 1, TimeUnit.SECONDS);
    }
    DemoHub demo = new DemoHub(hub, server, connector, feed, webhooks, grpc);
    demo.tls = tls;
    return demo;
  }

  /**
   * Same-origin pages only (the default), and only the hosts the demo binds to, so a page on
   * another name that resolves here (DNS rebinding) gets 403: the bound address, with
   * {@code localhost}, {@code 127.0.0.1} and {@code [::1]} for a loopback address, and every
   * interface's address and the machine's name for a wildcard one; each with the bound port.
   */
  static OriginPolicy originPolicy(String bindHost, int... ports) throws IOException {
    java.util.Set<String> hosts = new java.util.LinkedHashSet<>();
    hosts.add(bindHost);
    InetAddress bound = InetAddress.getByName(bindHost);
    if (bound.isLoopbackAddress() || bound.isAnyLocalAddress()) {
      hosts.addAll(java.util.List.of("localhost", "127.0.0.1", "::1"));
    }
    if (bound.isAnyLocalAddress()) {
      hosts.add(InetAddress.getLocalHost().getHostName());
      for (NetworkInterface nic : java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
          String literal = a.getHostAddress();
          int zone = literal.indexOf('%');
          hosts.add(zone < 0 ? literal : literal.substring(0, zone));
        }
      }
    }
    OriginPolicy.Builder policy = OriginPolicy.builder();
    for (String h : hosts) {
      for (int port : ports) {
        policy.allowHost((h.indexOf(':') >= 0 && !h.startsWith("[") ? "[" + h + "]" : h) + ":" + port);
      }
    }
    return policy.build();
  }

  /** The HTTP base URL with the real port. */
  String httpUrl() {
    String host = connector.getHost();
    return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + connector.getLocalPort();
  }

  /** The gRPC address with the real port, {@code host:port}. */
  String grpcAddress() {
    String host = connector.getHost();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + grpc.port();
  }

  Hub hub() {
    return hub;
  }

  /** The TLS connectors, or null when neither --https-port nor --http3-port was given. */
  DemoTls tls() {
    return tls;
  }

  void printListening(PrintStream out) {
    out.println("switchboard demo listening http=" + httpUrl() + " grpc=" + grpcAddress());
    if (tls != null) {
      tls.print(out, connector.getHost());
    }
    out.flush();
  }

  /** Stops the ticker, tells clients the server is going away, and stops Jetty. */
  @Override
  public void close() {
    if (feed != null) {
      feed.shutdownNow();
    }
    webhooks.close();
    grpc.close();
    hub.shutdown();
    try {
      server.stop();
    } catch (Exception e) {
      System.err.println("switchboard demo: error while stopping: " + e);
    }
    if (tls != null) {
      tls.close();
    }
  }

  /**
   * The demo page at {@code /} (plain HTML and JavaScript, no build step), and {@code 404} for any
   * other path no endpoint serves.
   */
  private static final class IndexServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      if (!req.getRequestURI().equals("/") && !req.getRequestURI().equals("/index.html")) {
        res.sendError(404);
        return;
      }
      try (java.io.InputStream in = DemoHub.class.getResourceAsStream("index.html")) {
        if (in == null) {
          res.sendError(500, "index.html is missing from the jar");
          return;
        }
        res.setContentType("text/html; charset=utf-8");
        res.setHeader("Cache-Control", "no-cache");
        in.transferTo(res.getOutputStream());
      }
    }

    @Override
    protected void doOptions(HttpServletRequest req, HttpServletResponse res) {
      res.setHeader("Allow", "GET, HEAD, OPTIONS"); // not TRACE, which the server refuses
    }
  }
}
