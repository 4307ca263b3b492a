package dev.switchboard.webhook;

import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * A durable {@link DeliveryStore} in a SQL table (PostgreSQL; plain JDBC), so pending deliveries
 * survive a restart and a new sender delivers what a crashed one left. It is also a transactional
 * outbox: {@link #enqueue(Connection, Delivery)} inserts with the application's own connection, so a
 * webhook is queued if and only if the application's transaction commits.
 *
 * <p>Table (created by {@link #createTable()}): one row per delivery, {@code state} 'pending' or
 * 'dead'. Several senders (nodes) may share the table: {@link #due} leases rows with
 * {@code SELECT … FOR UPDATE SKIP LOCKED} and moves their due time a lease into the future, so each
 * due delivery goes to one sender; a sender that crashes mid-attempt leaves its rows to the others
 * once the lease runs out. A delivery that was sent but whose outcome was lost to a crash (or whose
 * attempt outlived the lease) is sent again: receivers deduplicate by its id (as
 * {@link WebhookFilter} does). Needs PostgreSQL 9.5 or later (SKIP LOCKED).
 *
 * <p>Thread-safe; each call uses its own connection from the data source. SQL failures surface as
 * {@link IllegalStateException}.
 */
public final class JdbcDeliveryStore implements DeliveryStore {
  private static final String COLUMNS = "id, endpoint_id, url, body, content_type, created, attempts, next_attempt, last_error";

  /** The default lease: well above the sender's default attempt timeout (15 s). */
  public static final Duration DEFAULT_LEASE = Duration.ofMinutes(2);

  private final DataSource dataSource;
  private final String table;
  private final Duration lease;

  /** A store with the {@link #DEFAULT_LEASE}. @param table table name: letters, digits and underscores */
  public JdbcDeliveryStore(DataSource dataSource, String table) {
    this(dataSource, table, DEFAULT_LEASE);
  }

  /**
   * @param table table name: letters, digits and underscores
   * @param lease how long a sender holds a delivery it took; longer than its attempt timeout
   */
  public JdbcDeliveryStore(DataSource dataSource, String table, Duration lease) {
    if (table == null || !table.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")) {
      throw new IllegalArgumentException("table must be a plain SQL identifier: " + table);
    }
    if (lease == null || lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive: " + lease);
    }
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = table;
    this.lease = lease;
  }

  /** Creates the table and its index if they do not exist. */
  public void createTable() {
    run(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE IF NOT EXISTS " + table + " (id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL,"
            + " url TEXT NOT NULL, body BYTEA NOT NULL, content_type TEXT, created TIMESTAMPTZ NOT NULL,"
            + " attempts INT NOT NULL, next_attempt TIMESTAMPTZ NOT NULL, last_error TEXT,"
            + " state TEXT NOT NULL DEFAULT 'pending')");
        s.execute("CREATE INDEX IF NOT EXISTS " + table + "_due_by_endpoint ON " + table
            + " (state, endpoint_id, next_attempt)");
      }
      return null;
    });
  }

  /**
   * Queues a delivery inside the caller's transaction (the transactional outbox): it is sent only if
   * that transaction commits. Does not commit.
   */
  public void enqueue(Connection tx, Delivery d) throws SQLException {
    try (PreparedStatement p = tx.prepareStatement("INSERT INTO " + table + " (" + COLUMNS + ", state)"
        + " VALUES (?,?,?,?,?,?,?,?,?,'pending')")) {
      bind(p, d);
      p.executeUpdate();
    }
  }

  @Override
  public void add(Delivery d) {
    run(c -> {
      enqueue(c, d);
      return null;
    });
  }

  @Override
  public List<Delivery> due(String endpointId, Instant now, int max) {
    if (max <= 0) {
      return List.of();
    }
    List<Delivery> out = run(c -> {
      // Lock the due rows nobody else holds, push their due time a lease ahead, and return them
      // with the due time they had.
      try (PreparedStatement p = c.prepareStatement("WITH picked AS (SELECT id, next_attempt AS due_at FROM " + table
          + " WHERE state = 'pending' AND endpoint_id = ? AND next_attempt <= ? ORDER BY next_attempt LIMIT ?"
          + " FOR UPDATE SKIP LOCKED) UPDATE " + table + " t SET next_attempt = ? FROM picked WHERE t.id = picked.id"
          + " RETURNING t.id, t.endpoint_id, t.url, t.body, t.content_type, t.created, t.attempts, picked.due_at,"
          + " t.last_error")) {
        p.setString(1, endpointId);
        p.setTimestamp(2, Timestamp.from(now));
        p.setInt(3, max);
        p.setTimestamp(4, Timestamp.from(now.plus(lease)));
        return read(p);
      }
    });
    out.sort(Comparator.comparing(Delivery::nextAttempt));
    return out;
  }

  @Override
  public void release(Delivery d) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("UPDATE " + table + " SET next_attempt = ?"
          + " WHERE id = ? AND state = 'pending'")) {
        p.setTimestamp(1, Timestamp.from(d.nextAttempt()));
        p.setString(2, d.id());
        p.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public void update(Delivery d) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("UPDATE " + table
          + " SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ? AND state = 'pending'")) {
        p.setInt(1, d.attempts());
        p.setTimestamp(2, Timestamp.from(d.nextAttempt()));
        p.setString(3, d.lastError());
        p.setString(4, d.id());
        p.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public void remove(String id) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("DELETE FROM " + table + " WHERE id = ? AND state = 'pending'")) {
        p.setString(1, id);
        p.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public void deadLetter(Delivery d) {
    run(c -> {
      try (PreparedStatement p = c.prepareStatement("UPDATE " + table
          + " SET state = 'dead', attempts = ?, last_error = ? WHERE id = ?")) {
        p.setInt(1, d.attempts());
        p.setString(2, d.lastError());
        p.setString(3, d.id());
        p.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public List<Delivery> deadLetters() {
    return run(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table
          + " WHERE state = 'dead' ORDER BY created")) {
        return read(p);
      }
    });
  }

  @Override
  public Optional<Delivery> takeDeadLetter(String id) {
    return run(c -> {
      try (PreparedStatement p = c.prepareStatement("DELETE FROM " + table + " WHERE id = ? AND state = 'dead'"
          + " RETURNING " + COLUMNS)) {
        p.setString(1, id);
        List<Delivery> l = read(p);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
      }
    });
  }

  @Override
  public int pendingCount() {
    return run(c -> {
      try (Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table + " WHERE state = 'pending'")) {
        rs.next();
        return rs.getInt(1);
      }
    });
  }

  private static void bind(PreparedStatement p, Delivery d) throws SQLException {
    p.setString(1, d.id());
    p.setString(2, d.endpointId());
    p.setString(3, d.url().toString());
    p.setBytes(4, d.body());
    p.setString(5, d.contentType());
    p.setTimestamp(6, Timestamp.from(d.created()));
    p.setInt(7, d.attempts());
    p.setTimestamp(8, Timestamp.from(d.nextAttempt()));
    p.setString(9, d.lastError());
  }

  private static List<Delivery> read(PreparedStatement p) throws SQLException {
    List<Delivery> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(new Delivery(rs.getString(1), rs.getString(2), URI.create(rs.getString(3)), rs.getBytes(4),
            rs.getString(5), rs.getTimestamp(6).toInstant(), rs.getInt(7), rs.getTimestamp(8).toInstant(),
            rs.getString(9)));
      }
    }
    return out;
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T run(Work<T> w) {
    try (Connection c = dataSource.getConnection()) {
      return w.run(c);
    } catch (SQLException e) {
      throw new IllegalStateException("delivery store (" + table + "): " + e.getMessage(), e);
    }
  }
}
