package dev.switchboard.webhook.subscriptions;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where webhook endpoints and their cursors live. A cursor is, per endpoint and topic, the id of
 * the last message the endpoint acknowledged with a 2xx (or gave up on, see
 * {@link WebhookSubscriptions}); the empty string means "from the oldest message history holds".
 * Implementations: {@link #inMemory()} (lost on restart), {@link JdbcEndpointStore} and
 * {@link RedisEndpointStore}.
 *
 * <p>Implementations are thread-safe. A store that cannot answer throws an unchecked exception
 * (its driver's), which the caller reports.
 */
public interface EndpointStore {
  /** Adds or replaces an endpoint (by id). */
  void save(Endpoint endpoint);

  /** One endpoint. */
  Optional<Endpoint> get(String id);

  /** Every endpoint, oldest first. */
  List<Endpoint> list();

  /** The endpoints of one owner, oldest first. */
  default List<Endpoint> list(String owner) {
    List<Endpoint> out = new ArrayList<>();
    for (Endpoint e : list()) {
      if (e.owner().equals(owner)) {
        out.add(e);
      }
    }
    return out;
  }

  /** Removes an endpoint and its cursors; returns whether it was there. */
  boolean delete(String id);

  /** The endpoint's cursors, topic → last message id ("" for "from the oldest"). */
  Map<String, String> cursors(String endpointId);

  /** Stores cursors of one endpoint (topic → id); other topics' cursors stay. */
  void saveCursors(String endpointId, Map<String, String> cursors);

  /** Forgets the cursor of one topic (the endpoint no longer subscribes to it). */
  void deleteCursor(String endpointId, String topic);

  /** An in-memory store: for tests and single-process apps that accept losing endpoints on restart. */
  static EndpointStore inMemory() {
    return new InMemory();
  }

  /** The in-memory store; one lock. */
  final class InMemory implements EndpointStore {
    private final Map<String, Endpoint> endpoints = new HashMap<>();
    private final Map<String, Map<String, String>> cursors = new HashMap<>();

    private InMemory() {}

    @Override
    public synchronized void save(Endpoint endpoint) {
      endpoints.put(endpoint.id(), endpoint);
    }

    @Override
    public synchronized Optional<Endpoint> get(String id) {
      return Optional.ofNullable(endpoints.get(id));
    }

    @Override
    public synchronized List<Endpoint> list() {
      List<Endpoint> out = new ArrayList<>(endpoints.values());
      out.sort(Comparator.comparing(Endpoint::created).thenComparing(Endpoint::id));
      return out;
    }

    @Override
    public synchronized boolean delete(String id) {
      cursors.remove(id);
      return endpoints.remove(id) != null;
    }

    @Override
    public synchronized Map<String, String> cursors(String endpointId) {
      return new LinkedHashMap<>(cursors.getOrDefault(endpointId, Map.of()));
    }

    @Override
    public synchronized void saveCursors(String endpointId, Map<String, String> c) {
      cursors.computeIfAbsent(endpointId, k -> new HashMap<>()).putAll(c);
    }

    @Override
    public synchronized void deleteCursor(String endpointId, String topic) {
      Map<String, String> c = cursors.get(endpointId);
      if (c != null) {
        c.remove(topic);
      }
    }
  }
}
