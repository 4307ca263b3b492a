package dev.switchboard.bench;

import dev.switchboard.sse.SseParser;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.internal.MessageJson;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * A cheap load client: thousands of HTTP/1.1 subscribers (SSE streams or long-poll loops) on one
 * selector thread, so the client is not the bottleneck. Records publish-to-receive latency from the
 * send time embedded at the start of each payload.
 *
 * <p>Thread-safe for {@link #connect}, counters and {@link #recorder()}; all I/O runs on its thread.
 */
final class LoadClient implements FanoutClient {
  enum Mode { SSE, LONGPOLL, WS, GRPC }

  private final Selector selector;
  private final InetSocketAddress address;
  private final Mode mode;
  private final String path;
  private final Recorder recorder = new Recorder(3_600_000_000L, 3);
  private final AtomicLong delivered = new AtomicLong();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger failed = new AtomicInteger();
  private final ConcurrentLinkedQueue<Integer> toConnect = new ConcurrentLinkedQueue<>();
  private final Thread thread;
  private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(256 * 1024);
  private volatile boolean running = true;

  LoadClient(InetSocketAddress address, Mode mode, String path) throws IOException {
    this.selector = Selector.open();
    this.address = address;
    this.mode = mode;
    this.path = path;
    this.thread = new Thread(this::loop, "load-client");
    thread.setDaemon(true);
    thread.start();
  }

  @Override
  public void connect(int n) {
    toConnect.add(n);
    selector.wakeup();
  }

  @Override
  public long delivered() {
    return delivered.get();
  }

  int open() {
    return open.get();
  }

  @Override
  public int failed() {
    return failed.get();
  }

  @Override
  public Recorder recorder() {
    return recorder;
  }

  private void loop() {
    try {
      while (running) {
        selector.select(100);
        Integer n;
        while ((n = toConnect.poll()) != null) {
          for (int i = 0; i < n; i++) {
            SocketChannel ch = SocketChannel.open();
            ch.configureBlocking(false);
            ch.connect(address);
            ch.register(selector, SelectionKey.OP_CONNECT, new Conn(ch));
          }
        }
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
          SelectionKey key = it.next();
          it.remove();
          Conn c = (Conn) key.attachment();
          try {
            if (key.isConnectable()) {
              c.ch.finishConnect();
              open.incrementAndGet();
              key.interestOps(SelectionKey.OP_READ);
              c.sendRequest();
            } else if (key.isReadable()) {
              c.read();
            }
          } catch (IOException | RuntimeException e) {
            c.fail();
            key.cancel();
          }
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() throws IOException {
    running = false;
    selector.wakeup();
    try {
      thread.join(10_000); // the loop owns the selector: let it leave before closing it
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (SelectionKey k : selector.keys()) {
      k.channel().close();
    }
    selector.close();
  }

  private static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
  }

  private void record(String data) {
    int bar = data.indexOf('|');
    if (bar > 0) {
      long sent = Long.parseLong(data.substring(0, bar));
      recorder.recordValue(Math.max(0, Math.min(nowMicros() - sent, 3_600_000_000L)));
      delivered.incrementAndGet();
    }
  }

  /** One HTTP/1.1 connection: headers, then a fixed-length or chunked body. */
  private final class Conn implements SseParser.Handler {
    final SocketChannel ch;
    final ByteArrayOutputStream head = new ByteArrayOutputStream();
    final ByteArrayOutputStream body = new ByteArrayOutputStream();
    final SseParser sse = new SseParser(this, 1 << 20);
    boolean inHeaders = true;
    boolean chunked;
    long remaining; // content-length left, or bytes left in the current chunk
    int chunkState; // 0 size line, 1 data, 2 CRLF after data
    final StringBuilder sizeLine = new StringBuilder();
    int status;
    String cursor;
    boolean failedOnce;
    // WebSocket frame parsing (server frames are never masked)
    boolean wsOpen;
    int wsState; // 0 first two bytes, 1 extended length, 2 payload
    final byte[] wsHead = new byte[10];
    int wsHeadLen;
    int wsHeadNeeded = 2;
    int wsOpcode;
    long wsRemaining;
    final ByteArrayOutputStream wsPayload = new ByteArrayOutputStream(512);

    Conn(SocketChannel ch) {
      this.ch = ch;
    }

    void sendRequest() throws IOException {
      if (mode == Mode.WS) {
        write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        inHeaders = true;
        head.reset();
        return;
      }
      String target;
      if (mode == Mode.SSE) {
        target = path;
      } else if (cursor == null) {
        target = path + "?limit=0";
      } else {
        target = path + "?after=" + cursor + "&wait=30&limit=1000";
      }
      String req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + (mode == Mode.SSE ? "Accept: text/event-stream\r\n" : "") + "\r\n";
      ByteBuffer b = ByteBuffer.wrap(req.getBytes(StandardCharsets.US_ASCII));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      inHeaders = true;
      head.reset();
      body.reset();
    }

    private void write(byte[] bytes) throws IOException {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    }

    /** A client frame: masked, with a zero mask key (which leaves the payload as it is). */
    private void writeFrame(int opcode, byte[] payload) throws IOException {
      byte[] f = new byte[6 + payload.length];
      f[0] = (byte) (0x80 | opcode);
      f[1] = (byte) (0x80 | payload.length); // payloads here are < 126 bytes
      System.arraycopy(payload, 0, f, 6, payload.length);
      write(f);
    }

    private void wsByteLoop() throws IOException {
      while (readBuffer.hasRemaining()) {
        if (wsState < 2) {
          wsHead[wsHeadLen++] = readBuffer.get();
          if (wsHeadLen < wsHeadNeeded) {
            continue;
          }
          if (wsState == 0) {
            wsOpcode = wsHead[0] & 0x0f;
            int len7 = wsHead[1] & 0x7f;
            if (len7 == 126 || len7 == 127) {
              wsState = 1;
              wsHeadNeeded = 2 + (len7 == 126 ? 2 : 8);
              continue;
            }
            wsRemaining = len7;
          } else {
            long len = 0;
            for (int i = 2; i < wsHeadNeeded; i++) {
              len = (len << 8) | (wsHead[i] & 0xff);
            }
            wsRemaining = len;
          }
          wsState = 2;
          wsPayload.reset();
          if (wsRemaining == 0) {
            frameDone();
          }
        } else {
          int take = (int) Math.min(wsRemaining, readBuffer.remaining());
          byte[] b = new byte[take];
          readBuffer.get(b);
          wsPayload.write(b, 0, take);
          wsRemaining -= take;
          if (wsRemaining == 0) {
            frameDone();
          }
        }
      }
    }

    private void frameDone() throws IOException {
      byte[] p = wsPayload.toByteArray();
      wsState = 0;
      wsHeadLen = 0;
      wsHeadNeeded = 2;
      if (wsOpcode == 1 || wsOpcode == 0) {
        String text = new String(p, StandardCharsets.UTF_8);
        int d = text.indexOf("\"data\":\"");
        if (d >= 0) {
          record(text.substring(d + 8, text.indexOf('"', d + 8)));
        }
      } else if (wsOpcode == 9) {
        writeFrame(0xA, p);
      } else if (wsOpcode == 8) {
        throw new IOException("closed by server");
      }
    }

    void read() throws IOException {
      readBuffer.clear();
      int n = ch.read(readBuffer);
      if (n < 0) {
        throw new IOException("closed by server");
      }
      readBuffer.flip();
      if (wsOpen) {
        wsByteLoop();
        return;
      }
      while (readBuffer.hasRemaining()) {
        if (wsOpen) {
          wsByteLoop();
          return;
        }
        if (inHeaders) {
          byte b = readBuffer.get();
          head.write(b);
          int len = head.size();
          byte[] h = head.toByteArray();
          if (len >= 4 && h[len - 4] == '\r' && h[len - 3] == '\n' && h[len - 2] == '\r' && h[len - 1] == '\n') {
            startBody(new String(h, StandardCharsets.US_ASCII));
          }
        } else {
          consumeBody();
        }
      }
    }

    private void startBody(String headers) throws IOException {
      inHeaders = false;
      status = Integer.parseInt(headers.substring(9, 12));
      String lower = headers.toLowerCase(java.util.Locale.ROOT);
      chunked = lower.contains("transfer-encoding: chunked");
      chunkState = 0;
      remaining = 0;
      int cl = lower.indexOf("content-length:");
      if (!chunked && cl >= 0) {
        remaining = Long.parseLong(lower.substring(cl + 15, lower.indexOf('\r', cl)).trim());
      }
      if (mode == Mode.WS) {
        if (status != 101) {
          throw new IOException("HTTP " + status + " to the WebSocket upgrade");
        }
        wsOpen = true;
        if (path.startsWith("/v1/")) {
          writeFrame(0x1, "{\"op\":\"subscribe\",\"topic\":\"bench\"}".getBytes(StandardCharsets.US_ASCII));
        }
        return;
      }
      if (status != 200 && status != 204) {
        throw new IOException("HTTP " + status);
      }
      if (!chunked && remaining == 0 && mode == Mode.LONGPOLL) {
        bodyDone();
      }
    }

    private void consumeBody() throws IOException {
      if (!chunked) {
        int take = (int) Math.min(remaining, readBuffer.remaining());
        deliver(take);
        remaining -= take;
        if (remaining == 0) {
          bodyDone();
        }
        return;
      }
      switch (chunkState) {
        case 0: {
          byte b = readBuffer.get();
          if (b == '\n') {
            String s = sizeLine.toString().trim();
            int semi = s.indexOf(';');
            remaining = Long.parseLong(semi < 0 ? s : s.substring(0, semi), 16);
            sizeLine.setLength(0);
            chunkState = remaining == 0 ? 3 : 1;
            if (remaining == 0) {
              bodyDone();
            }
          } else if (b != '\r') {
            sizeLine.append((char) b);
          }
          break;
        }
        case 1: {
          int take = (int) Math.min(remaining, readBuffer.remaining());
          deliver(take);
          remaining -= take;
          if (remaining == 0) {
            chunkState = 2;
          }
          break;
        }
        case 2: {
          if (readBuffer.get() == '\n') {
            chunkState = 0;
          }
          break;
        }
        default:
          readBuffer.get(); // trailer after the last chunk
      }
    }

    private void deliver(int n) {
      if (mode == Mode.SSE) {
        int limit = readBuffer.limit();
        readBuffer.limit(readBuffer.position() + n);
        sse.feed(readBuffer);
        readBuffer.limit(limit);
      } else {
        byte[] b = new byte[n];
        readBuffer.get(b);
        body.write(b, 0, n);
      }
    }

    private void bodyDone() throws IOException {
      if (mode == Mode.LONGPOLL) {
        if (status == 200) {
          MessageJson.Page page = MessageJson.readPage(body.toByteArray());
          for (Message m : page.messages()) {
            record(m.text());
          }
          if (page.next() != null) {
            cursor = page.next();
          }
        }
        sendRequest();
      }
    }

    void fail() {
      if (!failedOnce) {
        failedOnce = true;
        failed.incrementAndGet();
        open.decrementAndGet();
      }
      try {
        ch.close();
      } catch (IOException e) {
        // closing anyway
      }
    }

    @Override
    public void onEvent(String lastEventId, String type, String data) {
      record(data);
    }
  }
}
