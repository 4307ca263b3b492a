package dev.switchboard.webhook.subscriptions;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An endpoint as one JSON document, secrets included: how the durable stores keep it. */
final class EndpointJson {
  static final JsonFactory JSON = new JsonFactory();

  private EndpointJson() {}

  static String write(Endpoint e) {
    StringWriter w = new StringWriter();
    try (JsonGenerator g = JSON.createGenerator(w)) {
      g.writeStartObject();
      writeFields(g, e, true);
      g.writeEndObject();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return w.toString();
  }

  /**
   * The endpoint's fields into an open object: with {@code stored}, the owner and the secrets too
   * (for the stores; the management API shows neither).
   */
  static void writeFields(JsonGenerator g, Endpoint e, boolean stored) throws IOException {
    g.writeStringField("id", e.id());
    if (stored) {
      g.writeStringField("owner", e.owner());
    }
    g.writeStringField("url", e.url());
    g.writeArrayFieldStart("topics");
    for (String t : e.topics()) {
      g.writeString(t);
    }
    g.writeEndArray();
    g.writeStringField("scheme", e.scheme().label());
    if (stored) {
      g.writeArrayFieldStart("secrets");
      for (Endpoint.Secret s : e.secrets()) {
        g.writeStartObject();
        g.writeStringField("value", s.value());
        g.writeStringField("activeFrom", s.activeFrom().toString());
        if (s.expires() != null) {
          g.writeStringField("expires", s.expires().toString());
        }
        g.writeEndObject();
      }
      g.writeEndArray();
    }
    g.writeBooleanField("enabled", e.enabled());
    if (e.disabledReason() == null) {
      g.writeNullField("disabledReason");
    } else {
      g.writeStringField("disabledReason", e.disabledReason());
    }
    g.writeNumberField("rateLimit", e.rateLimit());
    g.writeNumberField("maxInFlight", e.maxInFlight());
    g.writeObjectFieldStart("metadata");
    for (Map.Entry<String, String> m : e.metadata().entrySet()) {
      g.writeStringField(m.getKey(), m.getValue());
    }
    g.writeEndObject();
    g.writeStringField("created", e.created().toString());
  }

  /**
   * @throws IllegalStateException when the document is not one {@link #write} made
   */
  static Endpoint read(String doc) {
    String id = null;
    String owner = null;
    String url = null;
    List<String> topics = new ArrayList<>();
    String scheme = "standard-webhooks";
    List<Endpoint.Secret> secrets = new ArrayList<>();
    boolean enabled = true;
    String reason = null;
    int rate = 0;
    int inFlight = 1;
    Map<String, String> metadata = new LinkedHashMap<>();
    Instant created = null;
    try (JsonParser p = JSON.createParser(doc)) {
      expect(p.nextToken(), JsonToken.START_OBJECT);
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String f = p.currentName();
        JsonToken t = p.nextToken();
        switch (f) {
          case "id": id = p.getText(); break;
          case "owner": owner = p.getText(); break;
          case "url": url = p.getText(); break;
          case "scheme": scheme = p.getText(); break;
          case "enabled": enabled = t == JsonToken.VALUE_TRUE; break;
          case "disabledReason": reason = t == JsonToken.VALUE_NULL ? null : p.getText(); break;
          case "rateLimit": rate = p.getIntValue(); break;
          case "maxInFlight": inFlight = p.getIntValue(); break;
          case "created": created = Instant.parse(p.getText()); break;
          case "topics":
            while (p.nextToken() == JsonToken.VALUE_STRING) {
              topics.add(p.getText());
            }
            break;
          case "metadata":
            while (p.nextToken() == JsonToken.FIELD_NAME) {
              String k = p.currentName();
              p.nextToken();
              metadata.put(k, p.getText());
            }
            break;
          case "secrets":
            while (p.nextToken() == JsonToken.START_OBJECT) {
              String v = null;
              Instant from = null;
              Instant exp = null;
              while (p.nextToken() == JsonToken.FIELD_NAME) {
                String k = p.currentName();
                p.nextToken();
                if (k.equals("value")) {
                  v = p.getText();
                } else if (k.equals("activeFrom")) {
                  from = Instant.parse(p.getText());
                } else if (k.equals("expires")) {
                  exp = Instant.parse(p.getText());
                }
              }
              secrets.add(new Endpoint.Secret(v, from, exp));
            }
            break;
          default:
            p.skipChildren();
        }
      }
      return new Endpoint(id, owner, url, topics, Endpoint.SignatureScheme.of(scheme), secrets, enabled, reason, rate,
          inFlight, metadata, created);
    } catch (IOException | RuntimeException ex) {
      throw new IllegalStateException("stored webhook endpoint is not readable: " + ex.getMessage(), ex);
    }
  }

  private static void expect(JsonToken got, JsonToken want) {
    if (got != want) {
      throw new IllegalStateException("expected " + want + ", got " + got);
    }
  }
}
