package dev.switchboard.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.util.RecyclerPool;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Jackson's buffers are shared through one bounded pool, not kept per thread: a container that
 * grows to hundreds of threads during a connection burst must not keep buffers for each of them.
 */
class MessageJsonBuffersTest {
  @Test
  void parsingOnManyThreads_keepsAtMostThePoolsCapacityOfBuffers() throws Exception {
    RecyclerPool<?> pool = MessageJson.JSON._getRecyclerPool();
    RecyclerPool.BoundedPoolBase<?> bounded = assertInstanceOf(RecyclerPool.BoundedPoolBase.class, pool);
    byte[] frame = "{\"op\":\"subscribe\",\"topic\":\"prices\"}".getBytes(StandardCharsets.UTF_8);
    int threads = 200;
    CountDownLatch allParsing = new CountDownLatch(threads);
    List<Thread> started = new ArrayList<>();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(() -> {
        try (JsonParser p = MessageJson.JSON.createParser(frame)) {
          allParsing.countDown();
          allParsing.await(); // all 200 parsers hold their buffers at once
          while (p.nextToken() != null) {
            p.getText();
          }
        } catch (Exception | AssertionError e) {
          failures.add(e);
        }
      });
      t.start();
      started.add(t);
    }
    for (Thread t : started) {
      t.join(30_000);
    }
    assertEquals(List.of(), failures);
    assertTrue(bounded.pooledCount() <= bounded.capacity(),
        bounded.pooledCount() + " buffer sets kept, capacity " + bounded.capacity());
    assertTrue(bounded.capacity() <= 64, "capacity " + bounded.capacity());
  }
}
