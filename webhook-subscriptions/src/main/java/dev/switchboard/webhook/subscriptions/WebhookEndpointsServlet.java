package dev.switchboard.webhook.subscriptions;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Handshake;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.webhook.WebhookRegistrationException;
import dev.switchboard.webhook.WebhookSender;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.Principal;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The management API of {@link WebhookSubscriptions}, JSON over HTTP; map it at
 * {@code /v1/webhooks/endpoints} and {@code /v1/webhooks/endpoints/*}. Every request is
 * authenticated with the given {@link Authenticator} (401 with {@code WWW-Authenticate: Bearer}
 * otherwise); a principal sees and changes only the endpoints it registered (another's is 404).
 *
 * <ul>
 *   <li>{@code POST /} {@code {"url","topics":[…],"scheme"?,"rateLimit"?,"maxInFlight"?,"enabled"?,"metadata"?}}
 *       → 201 the endpoint and {@code "secret"}</li>
 *   <li>{@code GET /} → {@code {"endpoints":[…]}}; {@code GET /{id}} → the endpoint (status, cursors)</li>
 *   <li>{@code PATCH /{id}} (or {@code PUT}) with any of the fields above → the endpoint</li>
 *   <li>{@code DELETE /{id}} → 204</li>
 *   <li>{@code POST /{id}/rotate} {@code {"overlapSeconds"?}} → {@code {"secret","activeFrom","previousExpires"}}</li>
 *   <li>{@code GET /{id}/attempts?limit=n} → {@code {"attempts":[…]}} newest first</li>
 *   <li>{@code POST /{id}/replay} {@code {"topic"?,"afterId"}} or {@code {"since":"<ISO-8601>"}} → 202</li>
 *   <li>{@code POST /{id}/test} → 202 {@code {"deliveryId"}}</li>
 * </ul>
 *
 * <p>Errors are {@code {"status","error","message"}}: 400 with the codes of
 * {@link WebhookRegistrationException} and {@value WebhookSubscriptions#INVALID_ENDPOINT}, 401,
 * 404 {@code not_found}, 405 {@code method_not_allowed}, 409 {@code disabled}, 413
 * {@code too_large} (bodies above 64 KiB). Secrets appear only in the answers to create and rotate.
 * Thread-safe.
 */
public final class WebhookEndpointsServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  /** The largest request body accepted. */
  public static final int MAX_BODY_BYTES = 64 * 1024;

  private final transient WebhookSubscriptions subscriptions;
  private final transient Authenticator authenticator;

  /**
   * @param authenticator who may manage endpoints; its principal's name owns what it registers
   */
  public WebhookEndpointsServlet(WebhookSubscriptions subscriptions, Authenticator authenticator) {
    this.subscriptions = Objects.requireNonNull(subscriptions, "subscriptions");
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
  }

  /** Thrown inside to answer with a JSON error. */
  private static final class Answer extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String code;

    Answer(int status, String code, String message) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
    }
  }

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
    try {
      Principal who = authenticate(req, res);
      if (who == null) {
        return;
      }
      route(who, req, res);
    } catch (Answer a) {
      error(res, a.status, a.code, a.getMessage());
    } catch (WebhookRegistrationException e) {
      error(res, e.status(), e.code(), e.getMessage());
    }
  }

  private void route(Principal who, HttpServletRequest req, HttpServletResponse res) throws IOException {
    String method = req.getMethod();
    String path = req.getPathInfo() == null ? "/" : req.getPathInfo();
    String[] parts = path.substring(1).split("/", -1);
    if (path.equals("/") || path.isEmpty()) {
      if (method.equals("GET")) {
        write(res, 200, g -> {
          g.writeStartObject();
          g.writeArrayFieldStart("endpoints");
          for (WebhookSubscriptions.View v : subscriptions.list(who.getName())) {
            writeView(g, v);
          }
          g.writeEndArray();
          g.writeEndObject();
        });
      } else if (method.equals("POST")) {
        WebhookSubscriptions.Created c = subscriptions.create(who.getName(), change(body(req)));
        res.setHeader("Location", req.getRequestURI().replaceAll("/$", "") + "/" + c.endpoint().id());
        WebhookSubscriptions.View v = subscriptions.get(c.endpoint().id()).orElseThrow();
        write(res, 201, g -> {
          writeView(g, v, c.secret());
        });
      } else {
        throw new Answer(405, "method_not_allowed", method + " is not allowed here; use GET or POST");
      }
      return;
    }
    String id = parts[0];
    WebhookSubscriptions.View view = subscriptions.get(id).filter(v -> v.endpoint().owner().equals(who.getName()))
        .orElseThrow(() -> new Answer(404, "not_found", "no webhook endpoint " + printable(id) + " of yours"));
    String action = parts.length > 1 ? parts[1] : "";
    if (parts.length > 2) {
      throw new Answer(404, "not_found", "no such resource: " + printable(path));
    }
    switch (method + " " + action) {
      case "GET ":
        write(res, 200, g -> writeView(g, view));
        return;
      case "PATCH ":
      case "PUT ": {
        subscriptions.update(id, change(body(req)));
        WebhookSubscriptions.View v = subscriptions.get(id).orElseThrow(() -> new Answer(404, "not_found", "deleted"));
        write(res, 200, g -> writeView(g, v));
        return;
      }
      case "DELETE ":
        subscriptions.delete(id);
        res.setStatus(204);
        return;
      case "POST rotate": {
        Map<String, Object> b = body(req);
        Duration overlap = null;
        if (b.get("overlapSeconds") != null) {
          overlap = Duration.ofSeconds(number(b, "overlapSeconds"));
        }
        WebhookSubscriptions.Rotation r = subscriptions.rotateSecret(id, overlap).orElseThrow();
        write(res, 200, g -> {
          g.writeStartObject();
          g.writeStringField("secret", r.secret());
          g.writeStringField("activeFrom", r.activeFrom().toString());
          g.writeStringField("previousExpires", r.previousExpires().toString());
          g.writeStringField("rule", view.endpoint().scheme().multiSignature()
              ? "both secrets sign every delivery until previousExpires"
              : "the previous secret signs until activeFrom, the new one from then on");
          g.writeEndObject();
        });
        return;
      }
      case "GET attempts": {
        int limit = 50;
        String l = req.getParameter("limit");
        if (l != null) {
          try {
            limit = Integer.parseInt(l);
          } catch (NumberFormatException e) {
            limit = -1;
          }
          if (limit < 1 || limit > 1000) {
            throw new Answer(400, "invalid_limit", "limit must be 1 to 1000: " + printable(l));
          }
        }
        List<WebhookSubscriptions.AttemptRecord> attempts = subscriptions.attempts(id, limit).orElse(List.of());
        write(res, 200, g -> {
          g.writeStartObject();
          g.writeArrayFieldStart("attempts");
          for (WebhookSubscriptions.AttemptRecord a : attempts) {
            g.writeStartObject();
            g.writeStringField("deliveryId", a.deliveryId());
            g.writeNumberField("attempt", a.attempt());
            g.writeStringField("time", a.time().toString());
            g.writeNumberField("status", a.status());
            g.writeNumberField("latencyMillis", a.latencyMillis());
            nullable(g, "error", a.error());
            g.writeStringField("outcome", a.outcome());
            nullable(g, "responseExcerpt", a.responseExcerpt());
            g.writeEndObject();
          }
          g.writeEndArray();
          g.writeEndObject();
        });
        return;
      }
      case "POST replay": {
        Map<String, Object> b = body(req);
        if (b.get("since") != null) {
          Instant since;
          try {
            since = Instant.parse(string(b, "since"));
          } catch (DateTimeParseException e) {
            throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"since\" must be an ISO-8601 instant such as 2026-01-31T12:00:00Z");
          }
          Map<String, String> cursors = subscriptions.replaySince(id, since).orElseThrow();
          write(res, 202, g -> {
            g.writeStartObject();
            g.writeObjectFieldStart("cursors");
            for (Map.Entry<String, String> e : cursors.entrySet()) {
              g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
            g.writeEndObject();
          });
        } else {
          subscriptions.replay(id, (String) b.get("topic"), string(b, "afterId"));
          write(res, 202, g -> {
            g.writeStartObject();
            g.writeStringField("afterId", string(b, "afterId"));
            g.writeEndObject();
          });
        }
        return;
      }
      case "POST test": {
        String did;
        try {
          did = subscriptions.testSend(id).orElseThrow();
        } catch (IllegalStateException e) {
          throw new Answer(409, "disabled", e.getMessage());
        }
        write(res, 202, g -> {
          g.writeStartObject();
          g.writeStringField("deliveryId", did);
          g.writeEndObject();
        });
        return;
      }
      default:
        if (!List.of("", "rotate", "attempts", "replay", "test").contains(action)) {
          throw new Answer(404, "not_found", "no such resource: " + printable(path));
        }
        throw new Answer(405, "method_not_allowed", method + " is not allowed on " + printable(path));
    }
  }

  private static String string(Map<String, Object> b, String field) {
    Object v = b.get(field);
    if (!(v instanceof String)) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"" + field + "\" must be a string");
    }
    return (String) v;
  }

  private static long number(Map<String, Object> b, String field) {
    Object v = b.get(field);
    if (!(v instanceof Long)) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"" + field + "\" must be an integer");
    }
    return (Long) v;
  }

  @SuppressWarnings("unchecked")
  private static EndpointChange change(Map<String, Object> b) {
    for (String k : b.keySet()) {
      if (!List.of("url", "topics", "scheme", "rateLimit", "maxInFlight", "enabled", "metadata").contains(k)) {
        throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "unknown field \"" + printable(k)
            + "\"; fields are url, topics, scheme, rateLimit, maxInFlight, enabled, metadata");
      }
    }
    Object topics = b.get("topics");
    if (topics != null && !(topics instanceof List && ((List<Object>) topics).stream().allMatch(t -> t instanceof String))) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"topics\" must be an array of strings");
    }
    Object metadata = b.get("metadata");
    if (metadata != null && !(metadata instanceof Map && ((Map<String, Object>) metadata).values().stream().allMatch(v -> v instanceof String))) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"metadata\" must be an object of strings");
    }
    Object enabled = b.get("enabled");
    if (enabled != null && !(enabled instanceof Boolean)) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"enabled\" must be true or false");
    }
    return new EndpointChange(b.get("url") == null ? null : string(b, "url"), (List<String>) topics,
        b.get("scheme") == null ? null : string(b, "scheme"), integer(b, "rateLimit"), integer(b, "maxInFlight"),
        (Boolean) enabled, (Map<String, String>) metadata);
  }

  private static Integer integer(Map<String, Object> b, String field) {
    if (b.get(field) == null) {
      return null;
    }
    long n = number(b, field);
    if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "\"" + field + "\" is out of range");
    }
    return (int) n;
  }

  /** The request's JSON object (empty for an empty body): strings, longs, booleans, arrays, objects. */
  private static Map<String, Object> body(HttpServletRequest req) throws IOException {
    byte[] raw = req.getInputStream().readNBytes(MAX_BODY_BYTES + 1);
    if (raw.length > MAX_BODY_BYTES) {
      throw new Answer(413, "too_large", "the body must be at most " + MAX_BODY_BYTES + " bytes");
    }
    if (raw.length == 0) {
      return Map.of();
    }
    try (JsonParser p = EndpointJson.JSON.createParser(raw)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "the body must be a JSON object");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> m = (Map<String, Object>) value(p, 0);
      if (p.nextToken() != null) {
        throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "the body must be one JSON object");
      }
      return m;
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "the body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  private static Object value(JsonParser p, int depth) throws IOException {
    if (depth > 4) {
      throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "the body is nested too deeply");
    }
    switch (p.currentToken()) {
      case START_OBJECT: {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String k = p.currentName();
          p.nextToken();
          m.put(k, value(p, depth + 1));
        }
        return m;
      }
      case START_ARRAY: {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          l.add(value(p, depth + 1));
        }
        return l;
      }
      case VALUE_STRING:
        return p.getText();
      case VALUE_NUMBER_INT:
        return p.getLongValue();
      case VALUE_TRUE:
        return Boolean.TRUE;
      case VALUE_FALSE:
        return Boolean.FALSE;
      case VALUE_NULL:
        return null;
      default:
        throw new Answer(400, WebhookSubscriptions.INVALID_ENDPOINT, "unexpected JSON value " + p.currentToken());
    }
  }

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
      Principal p = authenticator.authenticate(new Handshake("http", remote, headers, query));
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

  private static void writeView(JsonGenerator g, WebhookSubscriptions.View v) throws IOException {
    writeView(g, v, null);
  }

  private static void writeView(JsonGenerator g, WebhookSubscriptions.View v, String secret) throws IOException {
    Endpoint e = v.endpoint();
    g.writeStartObject();
    EndpointJson.writeFields(g, e, false);
    if (secret != null) {
      g.writeStringField("secret", secret);
    }
    g.writeObjectFieldStart("cursors");
    for (Map.Entry<String, String> c : v.cursors().entrySet()) {
      nullable(g, c.getKey(), c.getValue());
    }
    g.writeEndObject();
    g.writeNumberField("inFlight", v.inFlight());
    WebhookSender.EndpointStatus st = v.status();
    g.writeStringField("state", !e.enabled() ? "disabled" : st == null ? "starting" : st.state().name().toLowerCase(Locale.ROOT));
    if (st != null) {
      g.writeNumberField("consecutiveFailures", st.consecutiveFailures());
      nullable(g, "lastError", st.lastError());
      nullable(g, "lastFailure", st.lastFailure() == null ? null : st.lastFailure().toString());
      nullable(g, "lastSuccess", st.lastSuccess() == null ? null : st.lastSuccess().toString());
    }
    g.writeEndObject();
  }

  private static void nullable(JsonGenerator g, String field, String value) throws IOException {
    if (value == null) {
      g.writeNullField(field);
    } else {
      g.writeStringField(field, value);
    }
  }

  private interface Body {
    void write(JsonGenerator g) throws IOException;
  }

  private static void write(HttpServletResponse res, int status, Body body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = EndpointJson.JSON.createGenerator(out)) {
      body.write(g);
    }
    res.setStatus(status);
    res.setContentType("application/json");
    res.setHeader("Cache-Control", "no-store");
    res.getOutputStream().write(out.toByteArray());
  }

  private static void error(HttpServletResponse res, int status, String code, String message) throws IOException {
    write(res, status, g -> {
      g.writeStartObject();
      g.writeNumberField("status", status);
      g.writeStringField("error", code);
      g.writeStringField("message", message == null ? "" : message);
      g.writeEndObject();
    });
  }

  private static String printable(String s) {
    String p = s.replaceAll("\\p{Cntrl}", "?");
    return p.length() > 80 ? p.substring(0, 80) + "…" : p;
  }
}
