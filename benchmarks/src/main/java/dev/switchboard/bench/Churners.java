package dev.switchboard.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Short-lived subscribers, {@code churnPerSecond} new ones a second on raw clients, taking the four
 * transports in turn and, within each, the behaviours in the ratio 2 : 2 : 1:
 * <ul>
 *   <li>{@link Behaviour#RESUME}: resume after a recent checkpoint of a steady subscriber of the same
 *   topic, check that every later message comes, once and in order, from exactly there, for 2-6 s,
 *   then close politely;
 *   <li>{@link Behaviour#ABRUPT}: live messages for 1-5 s (checked), then drop the connection with no
 *   goodbye;
 *   <li>{@link Behaviour#SLOW}: resume after a checkpoint as well, so the hub has a backlog to push,
 *   and never read for 5-20 s (the hub's writes back up), then drop the connection.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class Churners implements AutoCloseable {
  enum Behaviour {
    RESUME(2_000, 6_000), ABRUPT(1_000, 5_000), SLOW(5_000, 20_000);

    final int minMillis;
    final int maxMillis;

    Behaviour(int minMillis, int maxMillis) {
      this.minMillis = minMillis;
      this.maxMillis = maxMillis;
    }
  }

  /** The cycle of behaviours for each transport: 2 resume, 2 abrupt, 1 slow. */
  private static final Behaviour[] CYCLE = {Behaviour.RESUME, Behaviour.ABRUPT, Behaviour.RESUME,
      Behaviour.ABRUPT, Behaviour.SLOW};
  /** After a churner closes, late callbacks may still land in its check for this long before it is counted. */
  private static final long FOLD_DELAY_MILLIS = 1_000;

  private final SoakClients clients;
  private final SoakSettings settings;
  private final SoakLedger ledger;
  private final SteadySubscribers steady;
  private final ScheduledExecutorService starter = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "soak-churn");
    t.setDaemon(true);
    return t;
  });
  private final Set<Live> live = ConcurrentHashMap.newKeySet();
  private final AtomicLong started = new AtomicLong();
  private final Map<String, SequenceCheck.Counts> counts = new LinkedHashMap<>(); // guarded by itself
  private final Map<String, Long> startedBy = new LinkedHashMap<>(); // guarded by counts
  private final AtomicLong noCheckpoint = new AtomicLong();
  private volatile boolean stopped;

  private record Live(RawSubscriber sub, Behaviour behaviour, ScheduledFuture<?>[] end) {}

  Churners(SoakClients clients, SoakSettings settings, SoakLedger ledger, SteadySubscribers steady) {
    this.clients = clients;
    this.settings = settings;
    this.ledger = ledger;
    this.steady = steady;
    synchronized (counts) {
      for (Behaviour b : Behaviour.values()) {
        for (String t : SoakSubscriber.TRANSPORTS) {
          counts.put(key(b, t), SequenceCheck.Counts.ZERO);
          startedBy.put(key(b, t), 0L);
        }
      }
    }
  }

  private static String key(Behaviour b, String transport) {
    return b.name().toLowerCase(java.util.Locale.ROOT) + "-" + transport;
  }

  void start() {
    if (settings.churnPerSecond() <= 0) {
      return;
    }
    long period = (long) (1e9 / settings.churnPerSecond());
    starter.scheduleAtFixedRate(this::startOne, 0, period, TimeUnit.NANOSECONDS);
  }

  private void startOne() {
    if (stopped) {
      return;
    }
    long n = started.getAndIncrement();
    String transport = SoakSubscriber.TRANSPORTS[(int) (n % SoakSubscriber.TRANSPORTS.length)];
    Behaviour b = CYCLE[(int) (n / SoakSubscriber.TRANSPORTS.length % CYCLE.length)];
    int topic = ThreadLocalRandom.current().nextInt(settings.topics());
    SequenceCheck check = new SequenceCheck(ledger, topic);
    String after = null;
    if (b != Behaviour.ABRUPT) { // a slow reader resumes too, so that a backlog is pushed at it
      SequenceCheck.Checkpoint cp = steady.checkpoint(topic);
      if (cp == null) {
        noCheckpoint.incrementAndGet(); // this one is live instead
      } else {
        check.resumeFrom(cp);
        after = cp.id();
      }
    }
    RawSubscriber sub = RawSubscriber.create(clients, "churn", transport, settings.topic(topic), check, false,
        b != Behaviour.SLOW);
    synchronized (counts) {
      startedBy.merge(key(b, transport), 1L, Long::sum);
    }
    Live l = new Live(sub, b, new ScheduledFuture<?>[1]);
    live.add(l);
    sub.open(after);
    int lifetime = ThreadLocalRandom.current().nextInt(b.minMillis, b.maxMillis + 1);
    l.end()[0] = clients.timer.schedule(() -> end(l), lifetime, TimeUnit.MILLISECONDS);
  }

  private void end(Live l) {
    if (!live.remove(l)) {
      return;
    }
    l.sub().close(l.behaviour() != Behaviour.RESUME);
    clients.timer.schedule(() -> {
      synchronized (counts) {
        counts.merge(key(l.behaviour(), l.sub().transport), l.sub().check.counts(), SequenceCheck.Counts::plus);
      }
    }, FOLD_DELAY_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Starts no more, and ends every live churner now as its behaviour ends; waits for their counts. */
  void stop() throws InterruptedException {
    stopped = true;
    starter.shutdownNow();
    starter.awaitTermination(10, TimeUnit.SECONDS);
    for (Live l : live) {
      if (l.end()[0] != null) {
        l.end()[0].cancel(false);
      }
      end(l);
    }
    Thread.sleep(FOLD_DELAY_MILLIS + 200);
  }

  long started() {
    return started.get();
  }

  int live() {
    return live.size();
  }

  /** Resuming churners that found no checkpoint yet and subscribed live instead. */
  long withoutCheckpoint() {
    return noCheckpoint.get();
  }

  /** Counts by behaviour and transport, e.g. {@code resume-sse}. */
  Map<String, SequenceCheck.Counts> counts() {
    synchronized (counts) {
      return new LinkedHashMap<>(counts);
    }
  }

  Map<String, Long> startedBy() {
    synchronized (counts) {
      return new LinkedHashMap<>(startedBy);
    }
  }

  @Override
  public void close() {
    stopped = true;
    starter.shutdownNow();
    live.forEach(l -> l.sub().close(true));
  }
}
