package dev.switchboard.webhook.subscriptions;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Endpoints and cursors in two SQL tables ({@code <prefix>_endpoints}, {@code <prefix>_cursors}),
 * tested on PostgreSQL (upserts use {@code INSERT … ON CONFLICT}). An endpoint is one row holding
 * its JSON document (secrets included: protect the table like any credential store).
 *
 * <p>Thread-safe (one pooled connection per call). SQL errors surface as
 * {@link IllegalStateException} naming the table.
 */
public final class JdbcEndpointStore implements EndpointStore {
  private final DataSource dataSource;
  private final String endpoints;
  private final String cursors;

  /**
   * @param prefix table name prefix: a letter or underscore, then letters, digits and underscores
   * @throws IllegalArgumentException if {@code prefix} is not a plain SQL identifier
   */
  public JdbcEndpointStore(DataSource dataSource, String prefix) {
    if (prefix == null || !prefix.matches("[A-Za-z_][A-Za-z0-9_]{0,40}")) {
      throw new IllegalArgumentException("prefix must be a plain SQL identifier: " + prefix);
    }
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.endpoints = prefix + "_endpoints";
    this.cursors = prefix + "_cursors";
  }

  /** Creates the tables if they do not exist. */
  public JdbcEndpointStore createTables() {
    run(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE IF NOT EXISTS " + endpoints + " (id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
            + " created TIMESTAMPTZ NOT NULL, doc TEXT NOT NULL)");
        s.execute("CREATE INDEX IF NOT EXISTS " + endpoints + "_by_owner ON " + endpoints + " (owner, created)");
        s.execute("CREATE TABLE IF NOT EXISTS " + cursors + " (endpoint_id TEXT NOT NULL, topic TEXT NOT NULL,"
            + " message_id TEXT NOT NULL, PRIMARY KEY (endpoint_id, topic))");
      }
      return null;
    });
    return this;
  }

  @Override
  public void save(Endpoint e) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT INTO " + endpoints + " (id, owner, created, doc)"
          + " VALUES (?,?,?,?) ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, doc = EXCLUDED.doc")) {
        p.setString(1, e.id());
        p.setString(2, e.owner());
        p.setTimestamp(3, Timestamp.from(e.created()));
        p.setString(4, EndpointJson.write(e));
        p.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public Optional<Endpoint> get(String id) {
    List<Endpoint> one = query("SELECT doc FROM " + endpoints + " WHERE id = ?", id);
    return one.isEmpty() ? Optional.empty() : Optional.of(one.get(0));
  }

  @Override
  public List<Endpoint> list() {
    return query("SELECT doc FROM " + endpoints + " ORDER BY created, id", null);
  }

  @Override
  public List<Endpoint> list(String owner) {
    return query("SELECT doc FROM " + endpoints + " WHERE owner = ? ORDER BY created, id", owner);
  }

  private List<Endpoint> query(String sql, String arg) {
    return run(c -> {
      try (PreparedStatement p = c.prepareStatement(sql)) {
        if (arg != null) {
          p.setString(1, arg);
        }
        List<Endpoint> out = new ArrayList<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.add(EndpointJson.read(rs.getString(1)));
          }
        }
        return out;
      }
    });
  }

  @Override
  public boolean delete(String id) {
    return run(c -> {
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try (PreparedStatement a = c.prepareStatement("DELETE FROM " + cursors + " WHERE endpoint_id = ?");
           PreparedStatement b = c.prepareStatement("DELETE FROM " + endpoints + " WHERE id = ?")) {
        a.setString(1, id);
        a.executeUpdate();
        b.setString(1, id);
        boolean was = b.executeUpdate() > 0;
        c.commit();
        return was;
      } catch (SQLException ex) {
        c.rollback();
        throw ex;
      } finally {
        c.setAutoCommit(auto);
      }
    });
  }

  @Override
  public Map<String, String> cursors(String endpointId) {
    return run(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT topic, message_id FROM " + cursors + " WHERE endpoint_id = ?")) {
        p.setString(1, endpointId);
        Map<String, String> out = new LinkedHashMap<>();
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            out.put(rs.getString(1), rs.getString(2));
          }
        }
        return out;
      }
    });
  }

  @Override
  public void saveCursors(String endpointId, Map<String, String> c) {
    if (c.isEmpty()) {
      return;
    }
    run(conn -> {
      try (PreparedStatement p = conn.prepareStatement("INSERT INTO " + cursors + " (endpoint_id, topic, message_id)"
          + " VALUES (?,?,?) ON CONFLICT (endpoint_id, topic) DO UPDATE SET message_id = EXCLUDED.message_id")) {
        for (Map.Entry<String, String> e : c.entrySet()) {
          p.setString(1, endpointId);
          p.setString(2, e.getKey());
          p.setString(3, e.getValue());
          p.addBatch();
        }
        p.executeBatch();
      }
      return null;
    });
  }

  @Override
  public void deleteCursor(String endpointId, String topic) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("DELETE FROM " + cursors + " WHERE endpoint_id = ? AND topic = ?")) {
        p.setString(1, endpointId);
        p.setString(2, topic);
        p.executeUpdate();
      }
      return null;
    });
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T run(Work<T> w) {
    try (Connection c = dataSource.getConnection()) {
      return w.run(c);
    } catch (SQLException e) {
      throw new IllegalStateException("endpoint store (" + endpoints + "): " + e.getMessage(), e);
    }
  }
}
