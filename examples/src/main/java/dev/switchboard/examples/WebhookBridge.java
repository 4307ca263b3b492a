package dev.switchboard.examples;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Handshake;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import dev.switchboard.webhook.EndpointLimits;
import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookRegistrationException;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Principal;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The demo hub's webhook bridge, both ways: {@code POST /v1/webhooks/in} verifies Standard Webhooks
 * deliveries and publishes them to topic {@code webhooks.<type>} (redeliveries acknowledged, not
 * published twice); {@code POST /v1/webhooks/endpoints} with {@code {"url","topics":[…]}} registers
 * an endpoint (→ 201 {@code {"id","secret"}}), after which messages on those topics are delivered to
 * it as signed webhooks with retries; {@code GET /v1/webhooks/endpoints} lists the caller's endpoints
 * with their delivery status and {@code GET /v1/webhooks/endpoints/{id}} shows one.
 *
 * <p>Registration and status need the {@code admin} authenticator (in the demo a bearer token),
 * are bounded by {@link EndpointLimits}, and check the URL with the sender's
 * {@link dev.switchboard.webhook.TargetPolicy} (400 {@code forbidden_target} for private and other
 * non-public addresses unless allowed). Endpoints live in memory.
 */
final class WebhookBridge implements AutoCloseable {
  private static final JsonFactory JSON = new JsonFactory();

  /** One registered endpoint, owned by the principal that registered it. */
  private record Registered(String id, String owner, URI url, List<String> topics, Instant created, Connection connection) {}

  private final Hub hub;
  private final WebhookSender sender;
  private final String secret;
  private final Authenticator admin;
  private final EndpointLimits limits;
  private final Map<String, Registered> registered = new LinkedHashMap<>(); // guarded by itself

  /**
   * @param admin who may register endpoints and read their status
   * @param limits endpoints per principal and topics per endpoint; topics per endpoint at most the
   *     hub's subscriptions per connection (one connection per endpoint)
   */
  WebhookBridge(Hub hub, String secret, boolean allowPrivateTargets, Authenticator admin, EndpointLimits limits) {
    this.hub = hub;
    this.secret = secret;
    this.admin = admin;
    this.limits = limits;
    this.sender = WebhookSender.builder().allowPrivateTargets(allowPrivateTargets).build().start();
  }

  /**
   * The demo's admin authenticator: {@code Authorization: Bearer <token>} must equal {@code token}
   * (compared in constant time).
   */
  static Authenticator adminToken(String token) {
    byte[] expected = token.getBytes(StandardCharsets.UTF_8);
    Principal adminPrincipal = () -> "admin";
    return Authenticator.bearer(t -> MessageDigest.isEqual(expected, t.getBytes(StandardCharsets.UTF_8)) ? adminPrincipal : null);
  }

  /** A fresh admin token (URL-safe, 128 bits). */
  static String newAdminToken() {
    byte[] key = new byte[16];
    new SecureRandom().nextBytes(key);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(key);
  }

  /** A fresh Standard Webhooks secret. */
  static String newSecret() {
    byte[] key = new byte[24];
    new SecureRandom().nextBytes(key);
    return "whsec_" + Base64.getEncoder().encodeToString(key);
  }

  /** Verifies, deduplicates and answers 401 with a JSON error before {@link #inbound()} runs. */
  Filter inboundFilter() {
    return WebhookFilter.builder(WebhookVerifier.standardWebhooks(secret).build()).build();
  }

  /** Publishes a verified delivery to {@code webhooks.<type>}. */
  HttpServlet inbound() {
    return new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        byte[] body = req.getInputStream().readAllBytes();
        String type = typeOf(body);
        if (type == null || !Topics.isValid("webhooks." + type)) {
          error(res, 400, "invalid_payload", "the payload must be a JSON object whose \"type\" is 1-191 characters"
              + " of A-Z a-z 0-9 . _ - :");
          return;
        }
        String topic = "webhooks." + type;
        try {
          hub.publish(Message.builder(topic).json(new String(body, StandardCharsets.UTF_8)).build())
              .toCompletableFuture().join();
          // And to the log the demo page shows (every type on one topic).
          hub.publish(Message.builder("webhooks").json(new String(body, StandardCharsets.UTF_8)).build())
              .toCompletableFuture().join();
          res.setStatus(204);
        } catch (RuntimeException e) {
          error(res, 400, "invalid_payload", "webhook body must be a JSON object: " + e.getMessage());
        }
      }
    };
  }

  /** Registers outbound endpoints and shows their status, for authenticated principals. */
  HttpServlet endpoints() {
    return new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        Principal who = authenticate(req, res);
        if (who == null) {
          return;
        }
        if (req.getPathInfo() != null && !req.getPathInfo().equals("/")) {
          error(res, 405, "method_not_allowed", "POST registers at /v1/webhooks/endpoints");
          return;
        }
        try {
          register(who, req, res);
        } catch (WebhookRegistrationException e) {
          error(res, e.status(), e.code(), e.getMessage());
        } catch (IOException | IllegalArgumentException e) {
          error(res, 400, "invalid_endpoint", e.getMessage());
        }
      }

      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
        Principal who = authenticate(req, res);
        if (who == null) {
          return;
        }
        String path = req.getPathInfo();
        List<Registered> mine = new ArrayList<>();
        synchronized (registered) {
          for (Registered r : registered.values()) {
            if (r.owner.equals(who.getName()) && (path == null || path.equals("/") || path.equals("/" + r.id))) {
              mine.add(r);
            }
          }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
          if (path == null || path.equals("/")) {
            g.writeStartObject();
            g.writeArrayFieldStart("endpoints");
            for (Registered r : mine) {
              writeEndpoint(g, r);
            }
            g.writeEndArray();
            g.writeEndObject();
          } else if (mine.isEmpty()) {
            g.close();
            // Another principal's endpoint is not found either: ids are not disclosed.
            error(res, 404, "not_found", "no webhook endpoint " + path.substring(1) + " of yours");
            return;
          } else {
            writeEndpoint(g, mine.get(0));
          }
        }
        res.setStatus(200);
        res.setContentType("application/json");
        res.setHeader("Cache-Control", "no-store");
        res.getOutputStream().write(out.toByteArray());
      }
    };
  }

  /** The principal, or null after answering 401 (with the JSON error body). */
  private Principal authenticate(HttpServletRequest req, HttpServletResponse res) throws IOException {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String name : Collections.list(req.getHeaderNames())) {
      headers.put(name, Collections.list(req.getHeaders(name)));
    }
    Map<String, List<String>> query = new LinkedHashMap<>();
    req.getParameterMap().forEach((k, v) -> query.put(k, List.of(v)));
    InetSocketAddress remote = req.getRemoteAddr() == null ? null
        : InetSocketAddress.createUnresolved(req.getRemoteAddr(), req.getRemotePort());
    try {
      Principal p = admin.authenticate(new Handshake("http", remote, headers, query));
      if (p == null) {
        throw new SwitchboardException(Status.UNAUTHENTICATED, "authentication failed");
      }
      return p;
    } catch (SwitchboardException e) {
      res.setHeader("WWW-Authenticate", "Bearer");
      error(res, e.status().httpStatus(), e.errorCode(), e.getMessage());
      return null;
    }
  }

  private void register(Principal who, HttpServletRequest req, HttpServletResponse res) throws IOException {
    String url = null;
    Set<String> topics = new LinkedHashSet<>();
    int asked = 0;
    try (JsonParser p = JSON.createParser(req.getInputStream().readNBytes(64 * 1024))) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException("body must be a JSON object {\"url\",\"topics\":[…]}");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        JsonToken t = p.nextToken();
        if (f.equals("url") && t == JsonToken.VALUE_STRING) {
          url = p.getText();
        } else if (f.equals("topics") && t == JsonToken.START_ARRAY) {
          for (JsonToken e; (e = p.nextToken()) != JsonToken.END_ARRAY; ) {
            if (e != JsonToken.VALUE_STRING) {
              throw new IllegalArgumentException("\"topics\" must be an array of strings");
            }
            asked++;
            topics.add(p.getText());
          }
        } else {
          p.skipChildren();
        }
      }
    }
    if (url == null || topics.isEmpty()) {
      throw new IllegalArgumentException("need \"url\" and a non-empty \"topics\" array");
    }
    limits.checkTopics(asked);
    for (String t : topics) {
      if (!Topics.isValid(t)) {
        throw new IllegalArgumentException("invalid topic '" + t.replaceAll("\\p{Cntrl}", "?") + "'");
      }
    }
    URI target = sender.targets().check(url);
    String id = "ep_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    String endpointSecret = newSecret();
    synchronized (registered) {
      limits.checkOneMoreEndpoint(who.getName(), (int) registered.values().stream().filter(r -> r.owner.equals(who.getName())).count());
      sender.register(id, target, WebhookSigner.standardWebhooks(endpointSecret));
      Connection c;
      try {
        c = forward(id, List.copyOf(topics));
      } catch (SwitchboardException e) {
        sender.unregister(id);
        error(res, e.status().httpStatus(), e.errorCode(), "the hub refused a subscription: " + e.getMessage());
        return;
      }
      registered.put(id, new Registered(id, who.getName(), target, List.copyOf(topics), Instant.now(), c));
    }
    res.setStatus(201);
    res.setContentType("application/json");
    res.setHeader("Location", "/v1/webhooks/endpoints/" + id);
    res.getWriter().print("{\"id\":\"" + id + "\",\"secret\":\"" + endpointSecret + "\"}");
  }

  private void writeEndpoint(JsonGenerator g, Registered r) throws IOException {
    WebhookSender.EndpointStatus st = sender.status(r.id);
    g.writeStartObject();
    g.writeStringField("id", r.id);
    g.writeStringField("url", r.url.toString());
    g.writeArrayFieldStart("topics");
    for (String t : r.topics) {
      g.writeString(t);
    }
    g.writeEndArray();
    g.writeStringField("created", r.created.toString());
    if (st != null) {
      g.writeStringField("state", st.state().name().toLowerCase(java.util.Locale.ROOT));
      g.writeNumberField("consecutiveFailures", st.consecutiveFailures());
      writeNullable(g, "lastError", st.lastError());
      writeNullable(g, "lastFailure", st.lastFailure() == null ? null : st.lastFailure().toString());
      writeNullable(g, "lastSuccess", st.lastSuccess() == null ? null : st.lastSuccess().toString());
      writeNullable(g, "disabledReason", st.disabledReason());
    }
    g.writeEndObject();
  }

  private static void writeNullable(JsonGenerator g, String field, String value) throws IOException {
    if (value == null) {
      g.writeNullField(field);
    } else {
      g.writeStringField(field, value);
    }
  }

  /**
   * Subscribes on the hub and hands each message to the sender as a Standard Webhooks payload.
   *
   * @throws SwitchboardException when the hub refuses a subscription (nothing is left subscribed)
   */
  private Connection forward(String endpointId, List<String> topics) {
    Connection[] holder = new Connection[1];
    Connection c = hub.connect(Authenticator.ANONYMOUS, "webhook", new Connection.Sink() {
      @Override
      public void onReady() {
        Connection conn = holder[0];
        if (conn == null) {
          return;
        }
        synchronized (this) {
          Connection.Event e;
          while ((e = conn.poll()) != null) {
            if (e instanceof Connection.Delivery) {
              sender.send(endpointId, payload(((Connection.Delivery) e).message()), "application/json");
            }
          }
        }
      }

      @Override
      public void onClose(Status status, String reason) {}
    });
    holder[0] = c;
    for (String t : topics) {
      CompletableFuture<Void> done = c.subscribe(t, null).toCompletableFuture();
      if (done.isCompletedExceptionally()) { // live-only subscriptions complete at once
        c.release();
        try {
          done.join();
        } catch (java.util.concurrent.CompletionException e) {
          if (e.getCause() instanceof SwitchboardException) {
            throw (SwitchboardException) e.getCause();
          }
        }
        throw new SwitchboardException(Status.INTERNAL, "subscription to " + t + " failed");
      }
    }
    return c;
  }

  /** {@code {"type","timestamp","data"}}: the Standard Webhooks payload shape. */
  static byte[] payload(Message m) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("type", m.event() != null ? m.topic() + "." + m.event() : m.topic());
      g.writeStringField("timestamp", String.valueOf(m.time()));
      g.writeStringField("id", m.id());
      if (m.isJson()) {
        g.writeFieldName("data");
        g.writeRawValue(m.text());
      } else {
        g.writeStringField("data", m.text());
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  private static String typeOf(byte[] body) {
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        JsonToken t = p.nextToken();
        if (f.equals("type") && t == JsonToken.VALUE_STRING) {
          return p.getText();
        }
        p.skipChildren();
      }
    } catch (IOException e) {
      return null;
    }
    return null;
  }

  private static void error(HttpServletResponse res, int status, String code, String message) throws IOException {
    res.setStatus(status);
    res.setContentType("application/json");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeNumberField("status", status);
      g.writeStringField("error", code);
      g.writeStringField("message", message == null ? "" : message);
      g.writeEndObject();
    }
    res.getOutputStream().write(out.toByteArray());
  }

  @Override
  public void close() {
    sender.close();
    synchronized (registered) {
      registered.values().forEach(r -> r.connection.release());
    }
  }
}
