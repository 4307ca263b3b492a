package dev.switchboard.ws;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.OriginPolicy;
import dev.switchboard.testkit.EmbeddedContainer;
import dev.switchboard.testkit.RawHttp;
import dev.switchboard.testkit.RecordingListener;
import dev.switchboard.testkit.TransportContractTest;
import dev.switchboard.transport.Backoff;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.security.Principal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Handshakes refused by the origin policy or the Authenticator are answered before the upgrade, on
 * Jetty, Tomcat and Undertow alike: 403 or 401 with the JSON error body, never a 101; seen by the JDK
 * WebSocket client (a failed handshake with the status) and on a raw socket (the status line and the
 * body). Accepted handshakes are authenticated once.
 */
@Timeout(120)
class WsHandshakeRefusalTest {
  private static final String EVIL = "http://evil.example";

  private final HttpClient http = HttpClient.newHttpClient();
  private final AtomicInteger authentications = new AtomicInteger();
  private Hub hub;
  private WebSocketTransport ws;
  private TransportContractTest.Server server;
  private Channel channel;

  private void start(EmbeddedContainer container, Consumer<Hub.Builder> customize) throws Exception {
    Hub.Builder b = Hub.builder();
    customize.accept(b);
    hub = b.build();
    ws = WebSocketTransport.builder(hub).build();
    server = container.start(0, List.of(), ws::register);
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.close();
    }
    if (server != null) {
      server.close();
    }
    if (hub != null) {
      hub.shutdown();
    }
  }

  private Authenticator countingBearer(String token) {
    Principal alice = () -> "alice";
    Authenticator bearer = Authenticator.bearer(t -> t.equals(token) ? alice : null);
    return h -> {
      authentications.incrementAndGet();
      return bearer.authenticate(h);
    };
  }

  /** Opens a JDK WebSocket with these header name/value pairs; fails with the handshake's failure. */
  private WebSocket open(String url, String... headers) throws Exception {
    WebSocket.Builder b = http.newWebSocketBuilder().subprotocols(WsProtocol.SUBPROTOCOL);
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return b.buildAsync(URI.create(url), new WebSocket.Listener() {}).get(30, TimeUnit.SECONDS);
  }

  /** Opens a session, sees it on the server, closes it and sees it gone (no upgrade left in flight). */
  private void openAndClose(String url, String... headers) throws Exception {
    WebSocket w = open(url, headers);
    awaitCondition("the session is open on the server", () -> ws.sessionCount() == 1);
    w.abort();
    awaitCondition("the session is closed on the server", () -> ws.sessionCount() == 0);
  }

  private String wsUrl() {
    return "ws://127.0.0.1:" + server.port() + "/v1/ws";
  }

  private static int refusedStatus(ThrowingOpen open) {
    ExecutionException e = assertThrows(ExecutionException.class, open::run);
    return assertInstanceOf(WebSocketHandshakeException.class, e.getCause()).getResponse().statusCode();
  }

  @FunctionalInterface
  private interface ThrowingOpen {
    void run() throws Exception;
  }

  /** A raw handshake's answer, which must be a refusal with the JSON body and never an upgrade. */
  private RawHttp.Response rawRefusal(String host, String extraHeaders, int status, String error) throws Exception {
    RawHttp.Response r = RawHttp.exchange(server.port(), RawHttp.upgradeHead("/v1/ws", host, extraHeaders), null);
    assertNotEquals(101, r.status(), r.statusLine());
    assertEquals(status, r.status(), r.statusLine() + " " + r.body());
    assertTrue(r.header("Content-Type").startsWith("application/json"), r.headers().toString());
    assertTrue(r.body().startsWith("{\"status\":" + status + ",\"error\":\"" + error + "\",\"message\":\""), r.body());
    return r;
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void crossOriginHandshake_is403BeforeTheUpgrade_sameAndAllowedOriginsAreUpgraded(EmbeddedContainer container)
      throws Exception {
    start(container, b -> b.originPolicy(OriginPolicy.builder().allowOrigin("https://app.example").build()));
    String self = "127.0.0.1:" + server.port();

    assertEquals(403, refusedStatus(() -> open(wsUrl(), "Origin", EVIL)));
    // Same host and port but another scheme is another origin.
    assertEquals(403, refusedStatus(() -> open(wsUrl(), "Origin", "https://" + self)));
    assertEquals(403, refusedStatus(() -> open(wsUrl(), "Origin", "http://127.0.0.1:" + (server.port() + 1))));
    assertEquals(403, refusedStatus(() -> open(wsUrl(), "Origin", "null")));
    rawRefusal(self, "Origin: " + EVIL + "\r\n", 403, "forbidden_origin");
    assertEquals(0, ws.sessionCount(), "no refused handshake became a session");

    openAndClose(wsUrl(), "Origin", "https://app.example");
    openAndClose(wsUrl(), "Origin", "http://" + self);
    openAndClose(wsUrl()); // not a browser: no Origin, nothing to hijack
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void handshakeForAHostNotAllowed_is403_dnsRebindingIsRefused(EmbeddedContainer container) throws Exception {
    start(container, b -> b.originPolicy(OriginPolicy.builder().allowHost("127.0.0.1").build()));
    String evilHost = "evil.example:" + server.port();
    // A rebound name: the page and the server agree on the origin, only the Host gives it away.
    rawRefusal(evilHost, "Origin: http://" + evilHost + "\r\n", 403, "forbidden_host");
    rawRefusal(evilHost, "", 403, "forbidden_host");
    assertEquals(403, refusedStatus(() -> open("ws://localhost:" + server.port() + "/v1/ws")));

    openAndClose(wsUrl());
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void unauthenticatedHandshake_is401BeforeTheUpgrade_andAnAcceptedOneIsAuthenticatedOnce(
      EmbeddedContainer container) throws Exception {
    start(container, b -> b.authenticator(countingBearer("s3cret")));
    String self = "127.0.0.1:" + server.port();

    assertEquals(401, refusedStatus(() -> open(wsUrl())));
    assertEquals(401, refusedStatus(() -> open(wsUrl(), "Authorization", "Bearer guess")));
    RawHttp.Response r = rawRefusal(self, "", 401, "unauthenticated");
    assertTrue(r.body().contains("missing credentials"), r.body());
    // The origin is decided first: a cross-origin page learns nothing about the credentials.
    rawRefusal(self, "Origin: " + EVIL + "\r\n", 403, "forbidden_origin");
    assertEquals(0, ws.sessionCount());

    authentications.set(0);
    openAndClose(wsUrl(), "Authorization", "Bearer s3cret");
    assertEquals(1, authentications.get(), "the filter's verdict is used by the endpoint, not recomputed");
    authentications.set(0);
    openAndClose(wsUrl() + "?access_token=s3cret");
    assertEquals(1, authentications.get());
  }

  /** The handshake's query string is read as REST reads it: a broken escape is refused, not guessed at. */
  @Test
  void brokenQueryEscape_is400BeforeTheUpgrade() throws Exception {
    start(EmbeddedContainer.JETTY, b -> b.authenticator(countingBearer("s3cret")));
    String self = "127.0.0.1:" + server.port();
    RawHttp.Response r = RawHttp.exchange(server.port(),
        RawHttp.upgradeHead("/v1/ws?access_token=s3cret&x=%e9", self, ""), null);
    assertEquals(400, r.status(), r.statusLine() + " " + r.body());
    assertTrue(r.body().startsWith("{\"status\":400,\"error\":\"invalid_query\""), r.body());
    assertEquals(0, authentications.get(), "refused before the Authenticator runs");
    assertEquals(0, ws.sessionCount());
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void wsChannel_reportsRefusedHandshakes_andDoesNotRetryThem(EmbeddedContainer container) throws Exception {
    start(container, b -> b.authenticator(countingBearer("s3cret")));
    channel = openChannel("ws", b -> {});
    RecordingListener l = new RecordingListener();
    channel.subscribe("news", l);
    assertEquals(Status.UNAUTHENTICATED, l.next(Duration.ofSeconds(30)).error().status());
    SwitchboardException e = failure(channel.send(Message.text("news", "x")));
    assertEquals(Status.UNAUTHENTICATED, e.status());
    assertTrue(e.getMessage().contains("401: missing credentials"), "the server's reason: " + e.getMessage());
    assertEquals(Channel.State.CLOSED, channel.state(), "a refused handshake ends the channel");
    assertEquals(1, authentications.get(), "no retry after a 401");
    channel.close();

    channel = openChannel("ws", b -> b.token("s3cret").header("Origin", EVIL));
    e = failure(channel.send(Message.text("news", "x")));
    assertEquals(Status.PERMISSION_DENIED, e.status());
    assertEquals("forbidden_origin", e.errorCode(), "the server's code, from its JSON body");
    assertTrue(e.getMessage().contains("HTTP 403: cross-origin request from"), e.getMessage());
    assertEquals(Channel.State.CLOSED, channel.state(), "a refused handshake ends the channel");
    assertEquals(1, authentications.get(), "refused on the origin, before the Authenticator");
    channel.close();

    channel = openChannel("ws", b -> b.token("s3cret"));
    assertEquals("ok", channel.send(Message.text("news", "ok")).toCompletableFuture().get(30, TimeUnit.SECONDS).text());
  }

  @ParameterizedTest
  @EnumSource(EmbeddedContainer.class)
  void autoChannel_reportsBadCredentials_ratherThanFallingBack(EmbeddedContainer container) throws Exception {
    start(container, b -> b.authenticator(countingBearer("s3cret")));
    channel = openChannel("auto", b -> b.token("guess"));
    SwitchboardException e = failure(channel.send(Message.text("news", "x")));
    assertEquals(Status.UNAUTHENTICATED, e.status());
    assertEquals("ws", channel.transport());
    assertEquals(Channel.State.CLOSED, channel.state());
  }

  private Channel openChannel(String transport, Consumer<TransportConfig.Builder> customize) {
    TransportConfig.Builder b = TransportConfig.builder().transport(transport).url(server.url())
        .reconnectBackoff(Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200)))
        .requestTimeout(Duration.ofSeconds(20));
    customize.accept(b);
    return Transports.open(b.build());
  }

  private static void awaitCondition(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not true within 30 s: " + what);
      }
      Thread.sleep(10);
    }
  }

  private static SwitchboardException failure(java.util.concurrent.CompletionStage<?> stage) throws Exception {
    try {
      stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return SwitchboardException.from(e.getCause());
    }
    throw new AssertionError("expected a failure");
  }
}
