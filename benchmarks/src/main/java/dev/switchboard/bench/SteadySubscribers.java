package dev.switchboard.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The subscribers that stay for the whole run: spread evenly over the topics and over the eight
 * {@link #KINDS} (the project's {@code Channel} and a raw client, for each of SSE, WebSocket, long
 * polling and gRPC), every message checked. They are also the reference that resuming churners take
 * their checkpoints from.
 *
 * <p>Thread-safe.
 */
final class SteadySubscribers implements AutoCloseable {
  /** Each kind: over a Channel or raw, and the transport. */
  static final List<String> KINDS = List.of("channel-sse", "channel-ws", "channel-longpoll", "channel-grpc",
      "raw-sse", "raw-ws", "raw-longpoll", "raw-grpc");

  private final List<SoakSubscriber> all = new ArrayList<>();
  private final List<List<SoakSubscriber>> byTopic = new ArrayList<>();

  /**
   * Opens {@code n} subscribers; subscriber {@code i} takes topic {@code i % topics} and a kind that
   * shifts with every round of topics, so each topic gets different kinds.
   */
  SteadySubscribers(SoakClients clients, SoakSettings s, SoakLedger ledger) {
    for (int t = 0; t < s.topics(); t++) {
      byTopic.add(new ArrayList<>());
    }
    for (int i = 0; i < s.steadySubscribers(); i++) {
      int topic = i % s.topics();
      String kind = KINDS.get((i + i / s.topics()) % KINDS.size());
      String transport = kind.substring(kind.indexOf('-') + 1);
      SequenceCheck check = new SequenceCheck(ledger, topic);
      SoakSubscriber sub;
      if (kind.startsWith("channel-")) {
        sub = new SoakSubscriber.OverChannel(clients, "steady", transport, s.topic(topic), check);
      } else {
        RawSubscriber raw = RawSubscriber.create(clients, "steady", transport, s.topic(topic), check, true, true);
        raw.open(null);
        sub = raw;
      }
      all.add(sub);
      synchronized (byTopic) {
        byTopic.get(topic).add(sub);
      }
    }
  }

  int size() {
    return all.size();
  }

  /** Waits until every subscriber has had a message; returns how many have not (0 when all have). */
  int awaitStarted(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      int waiting = (int) all.stream().filter(x -> !x.check.started()).count();
      if (waiting == 0 || System.nanoTime() > deadline) {
        return waiting;
      }
      Thread.sleep(100);
    }
  }

  /**
   * Waits until every subscriber has every acknowledged message (the publishers have stopped), then
   * counts what is still missing as gaps. Returns how long it waited.
   */
  Duration settle(Duration timeout) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (all.stream().anyMatch(x -> x.check.behind() > 0) && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    all.forEach(x -> x.check.closeTail());
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** A recent checkpoint of a random subscriber of topic {@code t}, or null when none has one yet. */
  SequenceCheck.Checkpoint checkpoint(int t) {
    List<SoakSubscriber> subs;
    synchronized (byTopic) {
      subs = byTopic.get(t);
    }
    if (subs.isEmpty()) {
      return null;
    }
    return subs.get(ThreadLocalRandom.current().nextInt(subs.size())).check.checkpoint();
  }

  /** Deliveries so far. */
  long delivered() {
    return all.stream().mapToLong(x -> x.check.counts().delivered()).sum();
  }

  /** The counts of each kind, in {@link #KINDS} order. */
  Map<String, SequenceCheck.Counts> countsByKind() {
    Map<String, SequenceCheck.Counts> out = new LinkedHashMap<>();
    KINDS.forEach(k -> out.put(k, SequenceCheck.Counts.ZERO));
    for (SoakSubscriber x : all) {
      out.merge(x.kind(), x.check.counts(), SequenceCheck.Counts::plus);
    }
    return out;
  }

  /** Subscribers of each kind. */
  Map<String, Integer> sizeByKind() {
    Map<String, Integer> out = new LinkedHashMap<>();
    KINDS.forEach(k -> out.put(k, 0));
    all.forEach(x -> out.merge(x.kind(), 1, Integer::sum));
    return out;
  }

  @Override
  public void close() {
    all.forEach(x -> x.close(false));
  }
}
