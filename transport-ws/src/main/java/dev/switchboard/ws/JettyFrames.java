package dev.switchboard.ws;

import dev.switchboard.transport.internal.FanoutCache;
import jakarta.websocket.RemoteEndpoint;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.OutgoingFrames;

/**
 * Coalesced writes on Jetty: several text frames handed to Jetty's frame flusher in one go, all but
 * the last marked <em>batch</em>, so Jetty copies them into its batch buffer and writes them with the
 * last one in a single (gathering) socket write, without blocking. The Jakarta API cannot do this:
 * {@code RemoteEndpoint.flushBatch()} and {@code setBatchingAllowed(false)} block until the batch is
 * written. Loaded only when the session's async remote is Jetty's ({@link #of}), so the transport
 * runs unchanged on other containers without Jetty on the class path. Internal.
 *
 * <p>Thread-safety: one writer at a time per session (the session's {@code OutboundWriter}).
 */
final class JettyFrames {
  /**
   * A frame's UTF-8 bytes, encoded once per fan-out: every session of a fan-out gets the same frame
   * {@code String} instance, so the bytes are shared and each session wraps them in a buffer of its
   * own (Jetty reads the buffer's position, never its contents). Jakarta's {@code sendText} encodes
   * the same text again for every session.
   */
  private static final FanoutCache<String, byte[]> UTF8 =
      new FanoutCache<>(String::length, text -> text.getBytes(StandardCharsets.UTF_8));

  private final OutgoingFrames out;

  private JettyFrames(OutgoingFrames out) {
    this.out = out;
  }

  /**
   * A writer of coalesced frames for this remote, or null when it is not Jetty's. Call only when
   * {@link WebSocketTransport#JETTY_CORE_VISIBLE}: this class links Jetty's core WebSocket API.
   */
  static JettyFrames of(RemoteEndpoint.Async remote) {
    return remote instanceof OutgoingFrames ? new JettyFrames((OutgoingFrames) remote) : null;
  }

  /**
   * Queues a text frame with Jetty's flusher. With {@code batch}, Jetty only copies it to its batch
   * buffer (flushed with the next frame sent without {@code batch}, or when the buffer fills) and
   * completes {@code done} then; without, the frame and everything batched before it are written.
   */
  void send(String text, boolean batch, Done done) {
    out.sendFrame(new Frame(OpCode.TEXT, ByteBuffer.wrap(UTF8.get(text))), done.callback, batch);
  }

  /**
   * A reusable completion (one per session, not one per frame): Jetty's {@link Callback} wrapped so
   * that callers need no Jetty type.
   */
  static final class Done {
    final Callback callback;

    Done(Runnable succeeded, java.util.function.Consumer<Throwable> failed) {
      // Non-blocking: the writer's completion only queues or starts the next non-blocking send.
      this.callback = Callback.from(org.eclipse.jetty.util.thread.Invocable.InvocationType.NON_BLOCKING, succeeded,
          failed);
    }
  }
}
