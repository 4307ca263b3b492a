package dev.switchboard.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The in-memory store's dead letters are bounded by count and bytes, oldest dropped and counted. */
@Timeout(60)
class DeadLettersTest {
  private static final URI URL = URI.create("https://hooks.example/in");
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");

  private static Delivery delivery(String id, int bodyBytes) {
    return new Delivery(id, "e", URL, new byte[bodyBytes], "application/json", NOW, 10, NOW, "HTTP 500");
  }

  private static List<String> ids(List<Delivery> ds) {
    return ds.stream().map(Delivery::id).toList();
  }

  @Test
  void boundedByCount_oldestDroppedAndCounted() {
    DeliveryStore.InMemory store = DeliveryStore.inMemory(3, Long.MAX_VALUE);
    for (int i = 0; i < 5; i++) {
      store.add(delivery("d" + i, 10));
      store.deadLetter(delivery("d" + i, 10));
    }
    assertEquals(List.of("d2", "d3", "d4"), ids(store.deadLetters()));
    assertEquals(2, store.deadLettersEvicted());
    assertEquals(0, store.pendingCount());
    assertEquals(3 * DeliveryStore.InMemory.bytes(delivery("d0", 10)), store.deadLetterBytes());
  }

  @Test
  void boundedByBytes_takingOneOutGivesItsBytesBack() {
    long one = DeliveryStore.InMemory.bytes(delivery("d0", 1000));
    DeliveryStore.InMemory store = DeliveryStore.inMemory(1000, 2 * one + one / 2);
    for (int i = 0; i < 4; i++) {
      store.deadLetter(delivery("d" + i, 1000));
    }
    assertEquals(List.of("d2", "d3"), ids(store.deadLetters()));
    assertEquals(2, store.deadLettersEvicted());
    assertEquals(2 * one, store.deadLetterBytes());

    store.deadLetter(delivery("d3", 1000)); // the same letter again is not counted twice
    assertEquals(2 * one, store.deadLetterBytes());
    assertEquals(List.of("d2", "d3"), ids(store.deadLetters()));

    assertEquals("d2", store.takeDeadLetter("d2").orElseThrow().id());
    assertEquals(one, store.deadLetterBytes());
    assertEquals(1, store.deadLetterCount());
    store.deadLetter(delivery("d4", 1000));
    assertEquals(List.of("d3", "d4"), ids(store.deadLetters()));
    assertEquals(2, store.deadLettersEvicted(), "room was made by the replay: nothing dropped");

    store.deadLetter(delivery("huge", 10_000)); // larger than the bound alone: it goes too
    assertEquals(List.of(), store.deadLetters());
    assertEquals(0, store.deadLetterBytes());
    assertEquals(5, store.deadLettersEvicted());
  }

  @Test
  void defaults_andBadBounds() {
    DeliveryStore.InMemory store = DeliveryStore.inMemory();
    for (int i = 0; i < DeliveryStore.InMemory.DEFAULT_MAX_DEAD_LETTERS + 5; i++) {
      store.deadLetter(delivery("d" + i, 1));
    }
    assertEquals(DeliveryStore.InMemory.DEFAULT_MAX_DEAD_LETTERS, store.deadLetterCount());
    assertEquals(5, store.deadLettersEvicted());
    assertEquals(Runtime.getRuntime().maxMemory() / 16, DeliveryStore.InMemory.defaultMaxDeadLetterBytes());
    assertThrows(IllegalArgumentException.class, () -> DeliveryStore.inMemory(0, 1));
    assertThrows(IllegalArgumentException.class, () -> DeliveryStore.inMemory(1, 0));
  }

  /** Through the sender: deliveries refused at once (a private target) become bounded dead letters. */
  @Test
  void theSenderReportsWhatItsStoreDropped() throws Exception {
    DeliveryStore.InMemory store = DeliveryStore.inMemory(2, Long.MAX_VALUE);
    try (WebhookSender sender = WebhookSender.builder().store(store).build()) {
      sender.register("local", URI.create("http://127.0.0.1:9/hook"), WebhookSigner.standardWebhooks(
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
      List<String> sent = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        sent.add(sender.send("local", "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8), "application/json"));
        sender.runDue().get(30, TimeUnit.SECONDS);
      }
      assertEquals(sent.subList(3, 5), ids(sender.deadLetters()));
      assertEquals(3, sender.deadLettersEvicted());
      assertTrue(sender.deadLetters().get(0).lastError().contains("loopback address"), sender.deadLetters().get(0).lastError());
    }
  }
}
