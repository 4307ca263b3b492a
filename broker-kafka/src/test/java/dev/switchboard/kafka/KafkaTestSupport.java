package dev.switchboard.kafka;

import dev.switchboard.kafka.testbroker.KafkaTestBroker;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The module's tests share one real Kafka broker (started on first use, in its own JVM, stopped when
 * the test JVM exits), each test on Kafka topics of its own; the failure test stops it and starts it
 * again.
 */
final class KafkaTestSupport {
  private KafkaTestSupport() {}

  private static volatile boolean ready;

  static String bootstrap() {
    KafkaTestBroker k = KafkaTestBroker.shared();
    if (!ready) {
      awaitReady(k);
      ready = true;
    }
    return k.bootstrapServers();
  }

  /** Waits until the broker answers metadata requests (its port opens a little before). */
  static void awaitReady(KafkaTestBroker kafka) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        try {
          if (!admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).isEmpty()) {
            return;
          }
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError("Kafka at " + kafka.bootstrapServers() + " does not answer; see " + kafka.directory(), e);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
      }
    }
  }

  /** A Kafka topic name no other test uses. */
  static String newTopic() {
    return "sbtest-" + UUID.randomUUID();
  }

  /** A broker node on the shared Kafka, on {@code topic}, with test-friendly settings. */
  static KafkaBroker.Builder node(String topic) {
    return KafkaBroker.builder(bootstrap()).topic(topic).partitions(3).timeout(Duration.ofSeconds(10));
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }
}
