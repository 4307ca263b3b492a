package dev.switchboard.examples;

import dev.switchboard.hub.DescriptorLimit;
import dev.switchboard.hub.Hub;
import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SelectableChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's Jetty connector, sized so that accepting never runs the process out of descriptors.
 * The hub refuses connections past its limit with 503 (its default leaves a quarter of the
 * descriptor limit free); this connector stops accepting at {@link DescriptorLimit#containerMaxConnections()},
 * above the hub's limit so refused clients still get their 503, below the descriptor limit so accept
 * never fails with "Too many open files". Past that limit new connections wait in the listen backlog
 * until some close. Reaching the limit is logged once per episode, and its end once the open
 * connections have stayed a tenth below it for a quiet period.
 *
 * <p>If accepting fails anyway (descriptors taken by something else), Jetty would log a WARN with a
 * stack trace every second for as long as it lasts; this connector logs one line when an episode
 * starts and one when accepting works again, and retries every second in between.
 *
 * <p>Thread-safe.
 */
final class DemoConnector extends ServerConnector {
  private static final Logger log = LoggerFactory.getLogger(DemoConnector.class);

  private final Duration retryInterval;
  private final Limit limit;
  private final AtomicLong failures = new AtomicLong();
  private volatile long firstFailureNanos;

  /**
   * A connector on {@code server} (the caller sets host and port and adds it) with its limit added to
   * the server.
   *
   * @param retryInterval how long to wait after a failed accept
   * @param quiet how long the open connections must stay below the limit to end an episode
   */
  DemoConnector(Server server, Duration retryInterval, Duration quiet, ConnectionFactory... factories) {
    // One acceptor thread (Jetty's default on small machines), so accept failures come through
    // handleAcceptFailure below rather than the selector.
    super(server, 1, -1, factories);
    this.retryInterval = retryInterval;
    this.limit = new Limit(DescriptorLimit.containerMaxConnections(), quiet);
    server.addBean(limit);
  }

  /** Sets the limit on open connections (tests; the demo sizes it with {@link #limitConnections}). */
  void maxConnections(int max) {
    limit.setMaxNetworkConnectionCount(max);
  }

  /**
   * Sizes the limit from the descriptors free now; call once everything that holds descriptors of
   * its own (Jetty's selectors, the gRPC server's event loops) has started.
   */
  void limitConnections(Hub hub) {
    int max = DescriptorLimit.containerMaxConnections();
    limit.setMaxNetworkConnectionCount(max);
    log.info("connection limits: the hub answers 503 past {} connections, Jetty accepts at most {} "
        + "({} of {} descriptors open)", hub.maxConnections(), max, DescriptorLimit.openDescriptors(),
        DescriptorLimit.processLimit());
    if (max <= hub.maxConnections()) {
      log.warn("the hub's connection limit ({}) is not below what the free descriptors allow ({}): "
          + "clients past {} wait instead of getting a 503; raise the descriptor limit (ulimit -n)",
          hub.maxConnections(), max, max);
    }
  }

  @Override
  public void accept(int acceptorID) throws IOException {
    super.accept(acceptorID);
    long failed = failures.get();
    if (failed != 0 && failures.compareAndSet(failed, 0)) {
      log.info("accepting connections again after {} failed attempts in {} s", failed,
          Duration.ofNanos(System.nanoTime() - firstFailureNanos).toSeconds());
    }
  }

  @Override
  protected boolean handleAcceptFailure(Throwable failure) {
    if (!isRunning() || failure instanceof InterruptedException || failure instanceof ClosedByInterruptException) {
      return super.handleAcceptFailure(failure); // stopping or interrupted: Jetty logs these at DEBUG
    }
    if (failures.getAndIncrement() == 0) {
      firstFailureNanos = System.nanoTime();
      log.warn("cannot accept connections: {} (descriptor limit {}); retrying every {} ms, logged again "
          + "when accepting works", failure, DescriptorLimit.processLimit(), retryInterval.toMillis());
    }
    log.debug("accept failed", failure);
    try {
      Thread.sleep(retryInterval.toMillis()); // as Jetty does: no spinning on a failing accept
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Failed accepts in the current episode (0 when accepting works). */
  long failedAccepts() {
    return failures.get();
  }

  /** Whether an episode at the connection limit is going on (logged, its end not yet). */
  boolean atLimit() {
    return limit.episode.get();
  }

  /** How often the connection limit was reached in the current episode. */
  long limitReached() {
    return limit.reached.get();
  }

  /**
   * Jetty's limit on open network connections, logging episodes rather than each time it stops and
   * resumes accepting (at the limit, every connection that closes lets one waiting one in): one line
   * when the limit is first reached, one when the open connections have stayed a tenth below it for
   * the quiet period.
   */
  private final class Limit extends NetworkConnectionLimit {
    private final Duration quiet;
    private final AtomicBoolean episode = new AtomicBoolean();
    private final AtomicBoolean endCheckScheduled = new AtomicBoolean();
    private final AtomicLong reached = new AtomicLong();
    private volatile long lastReachedNanos;
    private volatile long episodeStartNanos;

    Limit(int max, Duration quiet) {
      super(max, DemoConnector.this);
      this.quiet = quiet;
    }

    @Override
    protected void limit() {
      super.limit();
      lastReachedNanos = System.nanoTime();
      reached.incrementAndGet();
      if (episode.compareAndSet(false, true)) {
        episodeStartNanos = lastReachedNanos;
        log.warn("{} connections open, the server's limit: new connections wait until some close",
            getMaxNetworkConnectionCount());
      }
    }

    @Override
    public void onClosed(SelectableChannel channel) {
      super.onClosed(channel);
      if (episode.get() && farBelowLimit() && endCheckScheduled.compareAndSet(false, true)) {
        getScheduler().schedule(this::checkEnd, quiet);
      }
    }

    private void checkEnd() {
      endCheckScheduled.set(false);
      if (!farBelowLimit()) {
        return; // a later close schedules the next check
      }
      long sinceReached = System.nanoTime() - lastReachedNanos;
      if (sinceReached < quiet.toNanos()) {
        if (endCheckScheduled.compareAndSet(false, true)) {
          getScheduler().schedule(this::checkEnd, quiet.toNanos() - sinceReached, TimeUnit.NANOSECONDS);
        }
        return;
      }
      if (episode.compareAndSet(true, false)) {
        log.info("{} connections open, below the server's limit ({}) again; reached it {} times in {} s",
            getNetworkConnectionCount(), getMaxNetworkConnectionCount(), reached.getAndSet(0),
            Duration.ofNanos(lastReachedNanos - episodeStartNanos).toSeconds());
      }
    }

    private boolean farBelowLimit() {
      int max = getMaxNetworkConnectionCount();
      return getNetworkConnectionCount() <= max - Math.max(1, max / 10);
    }
  }
}
