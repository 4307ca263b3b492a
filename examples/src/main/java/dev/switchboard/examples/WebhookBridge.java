package dev.switchboard.examples;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Topics;
import dev.switchboard.webhook.EndpointLimits;
import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookVerifier;
import dev.switchboard.webhook.subscriptions.EndpointStore;
import dev.switchboard.webhook.subscriptions.WebhookEndpointsServlet;
import dev.switchboard.webhook.subscriptions.WebhookSubscriptions;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Principal;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The demo hub's webhooks, both ways: {@code POST /v1/webhooks/in} verifies Standard Webhooks
 * deliveries and publishes them to topic {@code webhooks.<type>} (redeliveries acknowledged, not
 * published twice); {@code /v1/webhooks/endpoints} is the library's management API
 * ({@link WebhookEndpointsServlet} over {@link WebhookSubscriptions}): register an endpoint with
 * {@code {"url","topics":[…]}} (→ 201 with its {@code secret}), after which the messages of those
 * topics are delivered to it as signed webhooks, in order, resuming from its cursor; list, update,
 * rotate, replay, test and read the recent attempts.
 *
 * <p>The API needs the {@code admin} authenticator (in the demo a bearer token), is bounded by
 * {@link EndpointLimits}, and checks URLs with the sender's
 * {@link dev.switchboard.webhook.TargetPolicy} (400 {@code forbidden_target} for private and other
 * non-public addresses unless allowed). Endpoints live in memory here (a durable app passes a
 * {@code JdbcEndpointStore} or {@code RedisEndpointStore}); their cursors resume through the hub's
 * broker history, so with {@code --broker redis://…} a restarted demo re-registers nothing but a
 * real store would resume.
 */
final class WebhookBridge implements AutoCloseable {
  private static final JsonFactory JSON = new JsonFactory();

  private final Hub hub;
  private final String secret;
  private final WebhookSubscriptions subscriptions;
  private final Authenticator admin;

  /**
   * @param admin who may manage endpoints
   * @param limits endpoints per principal and topics per endpoint
   */
  WebhookBridge(Hub hub, String secret, boolean allowPrivateTargets, Authenticator admin, EndpointLimits limits) {
    this.hub = hub;
    this.secret = secret;
    this.admin = admin;
    this.subscriptions = WebhookSubscriptions.builder(hub.broker(), EndpointStore.inMemory())
        .sender(b -> b.allowPrivateTargets(allowPrivateTargets))
        .limits(limits)
        .build().start();
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

  /** The management API of the outbound endpoints, for the admin principal. */
  HttpServlet endpoints() {
    return new WebhookEndpointsServlet(subscriptions, admin);
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
    subscriptions.close();
  }
}
