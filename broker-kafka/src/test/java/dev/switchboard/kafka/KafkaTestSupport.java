package dev.switchboard.kafka;

import dev.switchboard.kafka.testbroker.KafkaTestBroker;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The module's tests share one real Kafka broker (started on first use, in its own JVM, stopped when
 * the test JVM exits), each test on Kafka topics of its own; only the failure test starts another,
 * because it stops it.
 */
final class KafkaTestSupport {
  private KafkaTestSupport() {}

  static String bootstrap() {
    return KafkaTestBroker.shared().bootstrapServers();
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
