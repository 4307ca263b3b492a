package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class MpscQueueTest {
  @Test
  void singleThread_isFifo_andEmptyGivesNull() {
    MpscQueue<String> q = new MpscQueue<>();
    assertNull(q.poll());
    q.offer("a");
    q.offer("b");
    assertEquals("a", q.poll());
    q.offer("c");
    assertEquals("b", q.poll());
    assertEquals("c", q.poll());
    assertNull(q.poll());
  }

  @Test
  void aTakenNodeDoesNotLinkToItsSuccessor() throws Exception {
    // A taken node may already be tenured; if it still linked to the next one, every later node would
    // stay reachable from it until a full GC and be promoted by each young collection.
    MpscQueue<String> q = new MpscQueue<>();
    java.lang.reflect.Field head = MpscQueue.class.getDeclaredField("head");
    head.setAccessible(true);
    q.offer("a");
    q.offer("b");
    Object stub = head.get(q);
    assertEquals("a", q.poll());
    Object first = head.get(q);
    assertEquals("b", q.poll());
    java.lang.reflect.Field next = stub.getClass().getDeclaredField("next");
    next.setAccessible(true);
    assertNull(next.get(stub), "the stub left behind links to nothing");
    assertNull(next.get(first), "the first taken node links to nothing");
    q.offer("c");
    assertEquals("c", q.poll(), "the queue still works after unlinking");
  }

  @Test
  void fourProducersOneConsumer_everyElementOnce_eachProducersOrderKept() throws Exception {
    int producers = 4;
    int perProducer = 200_000;
    MpscQueue<long[]> q = new MpscQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      int id = p;
      Thread t = new Thread(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < perProducer; i++) {
          q.offer(new long[] {id, i});
        }
      });
      t.start();
      threads.add(t);
    }
    start.countDown();
    long[] next = new long[producers];
    long taken = 0;
    long deadline = System.nanoTime() + 60_000_000_000L; // bounded: a lost element fails, never hangs
    while (taken < (long) producers * perProducer && System.nanoTime() < deadline) {
      long[] e = q.poll();
      if (e == null) {
        Thread.onSpinWait();
        continue;
      }
      assertEquals(next[(int) e[0]], e[1], "producer " + e[0] + " out of order");
      next[(int) e[0]]++;
      taken++;
    }
    for (Thread t : threads) {
      t.join();
    }
    assertEquals((long) producers * perProducer, taken);
    assertNull(q.poll(), "nothing extra");
    for (long n : next) {
      assertTrue(n == perProducer);
    }
  }
}
