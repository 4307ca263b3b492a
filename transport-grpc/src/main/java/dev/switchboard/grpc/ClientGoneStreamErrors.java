package dev.switchboard.grpc;

import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Demotes grpc-netty's WARNING "Stream Error" for a client that went away while data was still
 * queued for it to FINE (DEBUG through SLF4J's bridge), without the stack trace.
 *
 * <p>Where it comes from: when a stream closes (the client cancelled, its process died, its
 * connection dropped) Netty's HTTP/2 flow controller fails every frame still waiting for flow-control
 * window with {@code StreamException: Stream closed before write could take place}, and
 * {@code NettyServerHandler.onStreamError} logs each at WARNING with a 25-line trace while the stream
 * is still registered. A server stream that is written only while {@code isReady()} still has up to
 * gRPC's on-ready threshold (32 KiB) queued, so an abrupt disconnect of a busy subscriber logs it; the
 * application cannot prevent it. Nothing is lost that was not already the client's to lose: it
 * resumes from its last id.
 *
 * <p>Only records with exactly that message and that exception are touched; any other filter already
 * on the logger still applies. Thread-safe; installed once per class loader.
 */
final class ClientGoneStreamErrors implements Filter {
  /** grpc-netty-shaded's and plain grpc-netty's handler, whichever the server runs on. */
  private static final String[] LOGGERS = {
      "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler", "io.grpc.netty.NettyServerHandler"};
  static final String CLOSED_BEFORE_WRITE = "Stream closed before write could take place";
  /** Held strongly: JUL keeps loggers weakly, and a collected one would come back without the filter. */
  private static final Logger[] HELD = new Logger[LOGGERS.length];

  private final Logger logger;
  private final Filter previous;

  private ClientGoneStreamErrors(Logger logger, Filter previous) {
    this.logger = logger;
    this.previous = previous;
  }

  /** Installs the filter on grpc-netty's server handler loggers (idempotent). */
  static synchronized void install() {
    for (int i = 0; i < LOGGERS.length; i++) {
      if (HELD[i] == null) {
        Logger l = Logger.getLogger(LOGGERS[i]);
        l.setFilter(new ClientGoneStreamErrors(l, l.getFilter()));
        HELD[i] = l;
      }
    }
  }

  @Override
  public boolean isLoggable(LogRecord r) {
    if (isClientGone(r)) {
      if (!logger.isLoggable(Level.FINE)) {
        return false;
      }
      r.setLevel(Level.FINE);
      r.setMessage("stream closed by the client before queued data could be written ("
          + r.getThrown().getMessage() + ")");
      r.setThrown(null);
    }
    return previous == null || previous.isLoggable(r);
  }

  static boolean isClientGone(LogRecord r) {
    Throwable t = r.getThrown();
    return r.getLevel().intValue() > Level.FINE.intValue() && "Stream Error".equals(r.getMessage())
        && t != null && t.getClass().getName().endsWith("Http2Exception$StreamException")
        && CLOSED_BEFORE_WRITE.equals(t.getMessage());
  }
}
