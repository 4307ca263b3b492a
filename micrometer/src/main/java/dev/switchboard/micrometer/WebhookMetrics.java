package dev.switchboard.micrometer;

import dev.switchboard.webhook.WebhookSender;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Binds a {@link WebhookSender} to a Micrometer {@link MeterRegistry}: attempts by outcome with their
 * latency ({@code switchboard.webhook.attempts}, a timer tagged {@code outcome} = delivered, retry or
 * dead_letter), and the gauges {@code switchboard.webhook.pending}, {@code switchboard.webhook.dead.letters}
 * and {@code switchboard.webhook.endpoints.disabled}. Attempts are seen through the sender's listener,
 * so give {@link #listener()} to the builder:
 *
 * <pre>{@code
 * WebhookMetrics metrics = new WebhookMetrics();
 * WebhookSender sender = WebhookSender.builder().listener(metrics.listener()).build();
 * metrics.sender(sender).bindTo(registry);
 * }</pre>
 *
 * <p>The gauges ask the sender's store when read (a query for a durable store). Thread-safe;
 * {@link #bindTo} may be called for several registries. Needs {@code switchboard-webhook}.
 */
public final class WebhookMetrics implements MeterBinder {
  private final Tags tags;
  private final List<Timer[]> attempts = new CopyOnWriteArrayList<>();
  private final WebhookSender.Listener listener = new WebhookSender.Listener() {
    @Override
    public void onAttempt(WebhookSender.Attempt attempt) {
      int i = attempt.outcome().ordinal();
      Duration latency = attempt.latency() == null ? Duration.ZERO : attempt.latency();
      for (Timer[] byOutcome : attempts) {
        byOutcome[i].record(latency);
      }
    }
  };
  private volatile WebhookSender sender;

  /** Webhook metrics with no common tags. */
  public WebhookMetrics() {
    this(Tags.empty());
  }

  /** Webhook metrics with tags added to every meter. */
  public WebhookMetrics(Iterable<Tag> tags) {
    this.tags = Tags.of(tags);
  }

  /** The listener to give {@link WebhookSender.Builder#listener}; attempts before {@link #bindTo} are not counted. */
  public WebhookSender.Listener listener() {
    return listener;
  }

  /**
   * The sender whose pending deliveries, dead letters and disabled endpoints the gauges report (NaN
   * until it is set).
   *
   * @return this
   */
  public WebhookMetrics sender(WebhookSender sender) {
    this.sender = Objects.requireNonNull(sender, "sender");
    return this;
  }

  private double read(java.util.function.ToIntFunction<WebhookSender> f) {
    WebhookSender s = sender;
    return s == null ? Double.NaN : f.applyAsInt(s);
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    // Read through this object, so binding before the sender is set (as a framework may) still works.
    Gauge.builder("switchboard.webhook.pending", this, m -> m.read(WebhookSender::pendingCount))
        .description("Webhook deliveries waiting for an attempt").tags(tags).register(registry);
    Gauge.builder("switchboard.webhook.dead.letters", this, m -> m.read(x -> x.deadLetters().size()))
        .description("Webhook dead letters held").tags(tags).register(registry);
    Gauge.builder("switchboard.webhook.endpoints.disabled", this, m -> m.read(WebhookSender::disabledEndpointCount))
        .description("Disabled webhook endpoints").tags(tags).register(registry);
    WebhookSender.Outcome[] outcomes = WebhookSender.Outcome.values();
    Timer[] byOutcome = new Timer[outcomes.length];
    for (WebhookSender.Outcome o : outcomes) {
      byOutcome[o.ordinal()] = Timer.builder("switchboard.webhook.attempts")
          .description("Webhook delivery attempts and their latency").tags(tags)
          .tag("outcome", o.name().toLowerCase(Locale.ROOT)).register(registry);
    }
    attempts.add(byOutcome);
  }
}
