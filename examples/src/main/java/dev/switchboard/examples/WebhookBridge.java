package dev.switchboard.examples;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.switchboard.hub.Authenticator;
import dev.switchboard.hub.Connection;
import dev.switchboard.hub.Hub;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.Topics;
import dev.switchboard.webhook.WebhookFilter;
import dev.switchboard.webhook.WebhookSender;
import dev.switchboard.webhook.WebhookSigner;
import dev.switchboard.webhook.WebhookVerifier;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * The demo hub's webhook bridge, both ways: {@code POST /v1/webhooks/in} verifies Standard Webhooks
 * deliveries and publishes them to topic {@code webhooks.<type>} (redeliveries acknowledged, not
 * published twice); {@code POST /v1/webhooks/endpoints} with {@code {"url","topics":[…]}} registers
 * an endpoint (→ 201 {@code {"id","secret"}}), after which messages on those topics are delivered to
 * it as signed webhooks with retries.
 */
final class WebhookBridge implements AutoCloseable {
  private static final JsonFactory JSON = new JsonFactory();

  private final Hub hub;
  private final WebhookSender sender;
  private final String secret;
  private final List<Connection> subscriptions = new ArrayList<>();

  WebhookBridge(Hub hub, String secret, boolean allowPrivateTargets) {
    this.hub = hub;
    this.secret = secret;
    this.sender = WebhookSender.builder().allowPrivateTargets(allowPrivateTargets).build().start();
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

  /** Registers outbound endpoints. */
  HttpServlet endpoints() {
    return new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
        String url = null;
        List<String> topics = new ArrayList<>();
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
              while (p.nextToken() == JsonToken.VALUE_STRING) {
                topics.add(p.getText());
              }
            } else {
              p.skipChildren();
            }
          }
          if (url == null || topics.isEmpty()) {
            throw new IllegalArgumentException("need \"url\" and a non-empty \"topics\" array");
          }
          for (String t : topics) {
            if (!Topics.isValid(t)) {
              throw new IllegalArgumentException("invalid topic '" + t + "'");
            }
          }
          String id = "ep_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
          String endpointSecret = newSecret();
          sender.register(id, URI.create(url), WebhookSigner.standardWebhooks(endpointSecret));
          forward(id, topics);
          res.setStatus(201);
          res.setContentType("application/json");
          res.getWriter().print("{\"id\":\"" + id + "\",\"secret\":\"" + endpointSecret + "\"}");
        } catch (IOException | IllegalArgumentException e) {
          error(res, 400, "invalid_endpoint", e.getMessage());
        }
      }
    };
  }

  /** Subscribes on the hub and hands each message to the sender as a Standard Webhooks payload. */
  private void forward(String endpointId, List<String> topics) {
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
    synchronized (subscriptions) {
      subscriptions.add(c);
    }
    for (String t : topics) {
      c.subscribe(t, null);
    }
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
    synchronized (subscriptions) {
      subscriptions.forEach(Connection::release);
    }
  }
}
