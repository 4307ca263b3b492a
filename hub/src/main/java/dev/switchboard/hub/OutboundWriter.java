package dev.switchboard.hub;

import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.security.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one outbound writer of a transport connection: it writes the transport's own replies and the
 * {@link Connection}'s events, in that order of priority, one writer at a time, only while the
 * transport can take more, and ends the connection the same way on every transport. A transport
 * extends it and supplies only how to {@link #encode} an event, whether it {@link #isReady} for more,
 * how to {@link #write} (and {@link #flush}) a frame and how to {@link #close} its connection.
 *
 * <p>Semantics, the same for every transport:
 * <ul>
 *   <li>Replies (acks, errors, … sent by the transport itself) are bounded by the hub's
 *       {@link Hub.Builder#maxQueuedMessages queue limit}; a client that leaves more unread is closed
 *       as a slow consumer through {@link Connection#close}, so it is counted.
 *   <li>When the hub closes the connection, or the transport calls {@link #closeAfterFlush}, what is
 *       queued is written first, then {@link #close} is called with the reason. After
 *       {@link Status#SLOW_CONSUMER} (or {@link #closeNow}) what is queued is dropped and the
 *       connection is closed at once, even while a write is still in flight.
 *   <li>A failing {@link #write} or {@link #flush} (the client went away under us: an
 *       {@code IOException}, a container's {@code IllegalStateException} on a closed session) ends
 *       this connection only: it is released, logged at DEBUG without a stack trace, and
 *       {@link #close} is called so the transport can free its side. A failing {@link #encode} is a
 *       bug: the connection is closed with {@link Status#INTERNAL} and counted in
 *       {@link Hub#deliveryFailures()}. Nothing thrown here ever reaches the publishing thread.
 * </ul>
 *
 * <p>Writes are synchronous ({@link #write} returns when the frame is handed over, like a servlet
 * output stream or a gRPC call) or, when constructed with {@code asynchronous}, asynchronous with at
 * most one frame in flight: {@link #write} starts the send and the transport's completion calls
 * {@link #sent} (possibly before {@code write} returns).
 *
 * <p>Thread-safety: every public method may be called from any thread, {@link Connection.Sink}
 * callbacks from publishing threads included; none blocks. The abstract methods are called by one
 * thread at a time (the writer), never concurrently with each other, and must not block.
 *
 * @param <F> the transport's frame type
 */
public abstract class OutboundWriter<F> implements Connection.Sink {
  private static final Logger log = LoggerFactory.getLogger(OutboundWriter.class);

  private static final int STARTED = 1; // the transport may be written to
  private static final int CLOSING = 2; // close once what is queued is written
  private static final int DROP = 4; // close at once, write nothing more
  private static final int ENDED = 8; // closed or released: nothing more happens
  /** The close reason of a normal end (close(null)); only compared by identity. */
  private static final SwitchboardException NORMAL_END = new SwitchboardException(Status.UNAVAILABLE, "end");

  // Plain fields behind VarHandles rather than Atomic* objects: one connection, one object fewer each.
  private static final VarHandle WIP;
  private static final VarHandle STATE;
  private static final VarHandle REPLY_COUNT;
  private static final VarHandle CLOSE_ERROR;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      WIP = l.findVarHandle(OutboundWriter.class, "wip", int.class);
      STATE = l.findVarHandle(OutboundWriter.class, "state", int.class);
      REPLY_COUNT = l.findVarHandle(OutboundWriter.class, "replyCount", int.class);
      CLOSE_ERROR = l.findVarHandle(OutboundWriter.class, "closeError", SwitchboardException.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final boolean asynchronous;
  private final MpscQueue<F> replies = new MpscQueue<>();
  /** Drain requests: whoever raises it from zero writes, the others only count (one writer). */
  @SuppressWarnings("unused") // through WIP
  private volatile int wip;
  private volatile int state;
  private volatile int replyCount;
  private volatile Connection connection;
  /** Why to close, set before CLOSING: the first reason wins, a drop overrides a flush. */
  private volatile SwitchboardException closeError;
  private volatile boolean inFlight; // an asynchronous write awaits its completion
  private boolean needFlush; // writer only

  /**
   * @param asynchronous whether {@link #write} only starts a send that completes through {@link #sent}
   */
  protected OutboundWriter(boolean asynchronous) {
    this.asynchronous = asynchronous;
  }

  // ---- what a transport supplies (called by the writer only) ----

  /** The frame for an event, or null when this transport sends nothing for it. Must not throw. */
  protected abstract F encode(Connection.Event event);

  /**
   * Whether the transport can take a frame now. When it cannot, it must call {@link #drain()} once
   * it can (a servlet {@code WriteListener}, gRPC's on-ready handler). The default is true.
   */
  protected boolean isReady() {
    return true;
  }

  /**
   * Writes one frame. A synchronous transport hands it over and returns; an asynchronous one starts
   * the send and calls {@link #sent} when it completes. May call {@link #pollFrame()} to batch the
   * frames that follow into one write.
   *
   * @throws IOException (or any runtime exception) when the connection is broken
   */
  protected abstract void write(F frame) throws IOException;

  /** Pushes out written frames; called when nothing more is queued. The default does nothing. */
  protected void flush() throws IOException {}

  /**
   * Ends the transport's connection, pushing out what was written (it is not flushed first: the
   * transport may not be ready); called once at most, and not after {@link #released()}. After a
   * slow consumer or {@link #closeNow} it may be called while the transport is not ready or an
   * asynchronous write is still in flight.
   *
   * @param error why (its status, code and message for the client), or null for a normal end
   */
  protected abstract void close(SwitchboardException error);

  // ---- what a transport calls ----

  /**
   * Registers with the hub as this connection's sink. Nothing is written before {@link #start()}.
   *
   * @throws SwitchboardException as {@link Hub#connect} does
   */
  public final Connection connect(Hub hub, Principal principal, String transport) {
    return connect(hub, principal, null, transport);
  }

  /**
   * As {@link #connect(Hub, Principal, String)} for a client whose address is known (see
   * {@link Hub#connect(Principal, java.net.InetSocketAddress, String, Connection.Sink)}).
   *
   * @param remoteAddress the client's address, or null when unknown
   */
  public final Connection connect(Hub hub, Principal principal, java.net.InetSocketAddress remoteAddress,
      String transport) {
    Connection c = hub.connect(principal, remoteAddress, transport, this);
    connection = c;
    return c;
  }

  /** The hub connection, or null before {@link #connect}. */
  public final Connection connection() {
    return connection;
  }

  /** The transport may now be written to: writes what is queued. */
  public final void start() {
    setBits(STARTED);
    drain();
  }

  /**
   * Queues a frame of the transport's own (an ack, an error) ahead of queued events. A client that
   * leaves more unread replies than the hub's queue limit is closed as a slow consumer.
   *
   * @return false when the frame was not queued (closed, or the client is now cut off)
   */
  public final boolean reply(F frame) {
    if ((state & (ENDED | DROP)) != 0) {
      return false;
    }
    Connection c = connection;
    if ((int) REPLY_COUNT.getAndAdd(this, 1) >= (c == null ? Integer.MAX_VALUE : c.maxMessages())) {
      REPLY_COUNT.getAndAdd(this, -1);
      // Through the connection, so the hub counts it; its onClose drops what is queued.
      c.close(Status.SLOW_CONSUMER, "slow consumer: " + c.maxMessages()
          + " unread replies; read what the server sends");
      return false;
    }
    replies.offer(frame);
    drain();
    return true;
  }

  /**
   * Writes what is queued, as far as the transport takes it. Call it when the transport can take
   * more again. Never throws.
   */
  public final void drain() {
    if ((int) WIP.getAndAdd(this, 1) != 0) {
      return; // the current writer will loop once more
    }
    int missed = 1;
    do {
      writeWhilePossible();
      missed = (int) WIP.getAndAdd(this, -missed) - missed;
    } while (missed != 0);
  }

  /**
   * The completion of an asynchronous {@link #write}: null when the frame was sent, else why not
   * (the connection then ends). May be called from any thread, also before {@code write} returns.
   */
  protected final void sent(Throwable failure) {
    inFlight = false;
    if (failure != null && (state & ENDED) == 0) {
      writeFailed(failure);
    }
    drain();
  }

  /**
   * The next frame to write now, or null when none is queued; for a {@link #write} that batches
   * several frames into one. Only from within {@code write}.
   */
  protected final F pollFrame() {
    return (state & DROP) != 0 ? null : nextFrame();
  }

  /**
   * Ends the connection after writing what is queued: releases it from the hub (no new events),
   * writes the replies and events already queued, then calls {@link #close} with {@code error}.
   */
  public final void closeAfterFlush(SwitchboardException error) {
    Connection c = connection;
    if (c != null) {
      c.release();
    }
    requestClose(error, false);
    drain();
  }

  /** Ends the connection now: releases it, drops what is queued and calls {@link #close}. */
  public final void closeNow(SwitchboardException error) {
    Connection c = connection;
    if (c != null) {
      c.release();
    }
    requestClose(error, true);
    drain();
  }

  /**
   * The transport's connection ended by itself (the client closed, the call was cancelled): stops
   * writing and releases the hub connection; {@link #close} is not called.
   *
   * @return whether this call ended it (false when it had ended already)
   */
  public final boolean released() {
    if (!setBits(ENDED)) {
      return false;
    }
    Connection c = connection;
    if (c != null) {
      c.release();
    }
    return true;
  }

  /** Whether the connection has ended (closed by the writer or released). */
  public final boolean isEnded() {
    return (state & ENDED) != 0;
  }

  // ---- Connection.Sink ----

  @Override
  public final void onReady() {
    drain();
  }

  @Override
  public final void onClose(Status status, String reason) {
    requestClose(SwitchboardException.of(status, status.code(), reason),
        status == Status.SLOW_CONSUMER); // a slow consumer resumes from history: queued events go
    drain();
  }

  // ---- the writer ----

  private void writeWhilePossible() {
    try {
      while (true) {
        int s = state;
        if ((s & (STARTED | ENDED)) != STARTED) {
          return;
        }
        if ((s & DROP) != 0) {
          end();
          return;
        }
        if (inFlight) {
          return; // the completion drains again
        }
        if ((s & CLOSING) != 0 && nothingQueued()) {
          end(); // everything before the close is handed over: flush-then-close
          return;
        }
        if (!isReady()) {
          return; // the transport calls drain() when it can take more
        }
        F frame = nextFrame();
        if (frame == null) {
          if (needFlush) {
            needFlush = false;
            flush();
          }
          if ((state & CLOSING) != 0 && nothingQueued()) {
            end();
          }
          return; // whatever is queued from now on raises wip, and drain() loops
        }
        needFlush = true;
        if (asynchronous) {
          inFlight = true; // before the send: its completion may run inside write()
        }
        write(frame);
      }
    } catch (Throwable t) {
      writeFailed(t);
      end();
    }
  }

  /** The next reply, else the next event that has a frame, else null. Writer only. */
  private F nextFrame() {
    F f = replies.poll();
    if (f != null) {
      REPLY_COUNT.getAndAdd(this, -1);
      return f;
    }
    Connection c = connection;
    if (c == null) {
      return null;
    }
    Connection.Event e;
    while ((e = c.poll()) != null) {
      try {
        f = encode(e);
      } catch (RuntimeException ex) {
        c.deliveryFailed(ex); // closes with INTERNAL: onClose drops the rest
        return null;
      }
      if (f != null) {
        return f;
      }
    }
    return null;
  }

  private boolean nothingQueued() {
    Connection c = connection;
    return replyCount == 0 && (c == null || c.queuedMessages() == 0);
  }

  /** The connection broke under us: it ends (released, not counted), logged without a trace. */
  private void writeFailed(Throwable t) {
    Connection c = connection;
    if (log.isDebugEnabled() && (state & ENDED) == 0) {
      log.debug("{}: write failed, closing: {}", c == null ? "connection" : c.id(), String.valueOf(t));
    }
    if (c != null) {
      c.release();
    }
    requestClose(new SwitchboardException(Status.INTERNAL, "send failed"), true);
  }

  private void requestClose(SwitchboardException error, boolean drop) {
    SwitchboardException e = error == null ? NORMAL_END : error;
    if (drop) {
      if ((state & DROP) == 0) {
        closeError = e; // overrides a flush's reason: what is queued will not be written
      }
      setBits(CLOSING | DROP);
    } else {
      CLOSE_ERROR.compareAndSet(this, null, e);
      setBits(CLOSING);
    }
  }

  /** Calls close() once, unless the connection ended already. Writer only. */
  private void end() {
    if (!setBits(ENDED)) {
      return;
    }
    Connection c = connection;
    if (c != null) {
      c.release();
    }
    SwitchboardException e = closeError;
    try {
      close(e == NORMAL_END ? null : e);
    } catch (Throwable t) {
      log.debug("{}: closing failed: {}", c == null ? "connection" : c.id(), String.valueOf(t));
    }
  }

  /** Sets bits; returns whether any was newly set. */
  private boolean setBits(int bits) {
    while (true) {
      int s = state;
      if ((s & bits) == bits) {
        return false;
      }
      if (STATE.compareAndSet(this, s, s | bits)) {
        return true;
      }
    }
  }
}
