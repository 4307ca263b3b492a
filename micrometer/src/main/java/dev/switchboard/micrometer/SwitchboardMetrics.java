package dev.switchboard.micrometer;

import dev.switchboard.hub.Hub;
import dev.switchboard.hub.HubListener;
import dev.switchboard.transport.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Binds a {@link Hub} to a Micrometer {@link MeterRegistry} ({@link WebhookMetrics} does the same for
 * a webhook sender; they are two classes so that this one needs no webhook module):
 *
 * <pre>{@code
 * new SwitchboardMetrics(hub).bindTo(registry);
 * }</pre>
 *
 * <p>Meters (Micrometer names; Prometheus shows {@code switchboard_connections},
 * {@code switchboard_messages_published_total}, …):
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 *   <tr><td>switchboard.connections</td><td>gauge</td><td>transport (sse, ws, grpc, longpoll)</td>
 *       <td>open connections; for longpoll, waiting polls</td></tr>
 *   <tr><td>switchboard.subscriptions</td><td>gauge</td><td></td><td>topic subscriptions plus waiting polls</td></tr>
 *   <tr><td>switchboard.topics</td><td>gauge</td><td></td><td>topics with a local subscriber</td></tr>
 *   <tr><td>switchboard.messages.published</td><td>counter</td><td>transport (server, http, ws, grpc, unknown), outcome (success, error)</td>
 *       <td>publishes</td></tr>
 *   <tr><td>switchboard.publish.errors</td><td>counter</td><td>status ({@link Status#code()})</td><td>failed publishes</td></tr>
 *   <tr><td>switchboard.broker.publish</td><td>timer</td><td>outcome</td><td>how long the broker took to store a publish</td></tr>
 *   <tr><td>switchboard.deliveries</td><td>function counter</td><td></td><td>messages handed to a connection's writer</td></tr>
 *   <tr><td>switchboard.deliveries.payload</td><td>function counter (bytes)</td><td></td><td>their payload bytes</td></tr>
 *   <tr><td>switchboard.slow.consumer.disconnects</td><td>function counter</td><td></td><td>connections closed as slow consumers</td></tr>
 *   <tr><td>switchboard.delivery.failures</td><td>function counter</td><td></td><td>connections closed because delivering threw</td></tr>
 *   <tr><td>switchboard.resumes</td><td>counter</td><td>transport, outcome (recovered, history_gap)</td><td>subscriptions resumed after an id</td></tr>
 *   <tr><td>switchboard.refusals</td><td>counter</td><td>transport, status (unauthenticated, permission_denied, unavailable, too_many_requests)</td>
 *       <td>clients refused: authentication, authorisation, connection limit, shutdown, rate limits</td></tr>
 *   <tr><td colspan="4">and from {@link WebhookMetrics}:</td></tr>
 *   <tr><td>switchboard.webhook.attempts</td><td>timer</td><td>outcome (delivered, retry, dead_letter)</td><td>webhook attempts and their latency</td></tr>
 *   <tr><td>switchboard.webhook.pending</td><td>gauge</td><td></td><td>deliveries waiting for an attempt</td></tr>
 *   <tr><td>switchboard.webhook.dead.letters</td><td>gauge</td><td></td><td>dead letters held</td></tr>
 *   <tr><td>switchboard.webhook.endpoints.disabled</td><td>gauge</td><td></td><td>disabled endpoints</td></tr>
 * </table>
 *
 * <p>Cost: per-delivery figures are counters the hub keeps anyway, read when the registry is
 * scraped; publishes, refusals and resumes are counted through a {@link HubListener} with meters
 * registered ahead, so recording allocates nothing. The gauges walk the hub's connections when read.
 *
 * <p>Thread-safe. {@link #bindTo} may be called for several registries.
 */
public final class SwitchboardMetrics implements MeterBinder {
  /** The transports {@code switchboard.connections} reports, one gauge each. */
  static final List<String> TRANSPORTS = List.of("sse", "ws", "grpc");

  private final Hub hub;
  private final Tags tags;

  /** Metrics for a hub, with no common tags. */
  public SwitchboardMetrics(Hub hub) {
    this(hub, Tags.empty());
  }

  /** Metrics for a hub, with tags added to every meter (e.g. {@code hub=public}). */
  public SwitchboardMetrics(Hub hub, Iterable<Tag> tags) {
    this.hub = Objects.requireNonNull(hub, "hub");
    this.tags = Tags.of(tags);
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    for (String t : TRANSPORTS) {
      Gauge.builder("switchboard.connections", hub, h -> h.connectionCount(t))
          .description("Open connections").tags(tags).tag("transport", t).register(registry);
    }
    Gauge.builder("switchboard.connections", hub, Hub::waitingPollCount)
        .description("Open connections").tags(tags).tag("transport", "longpoll").register(registry);
    Gauge.builder("switchboard.subscriptions", hub, Hub::subscriberCount)
        .description("Topic subscriptions of connected clients plus waiting long polls").tags(tags).register(registry);
    Gauge.builder("switchboard.topics", hub, Hub::topicCount)
        .description("Topics with at least one local subscriber").tags(tags).register(registry);
    FunctionCounter.builder("switchboard.deliveries", hub, Hub::deliveries)
        .description("Messages handed to a connection's writer (one per subscriber reached)").tags(tags).register(registry);
    FunctionCounter.builder("switchboard.deliveries.payload", hub, Hub::deliveredBytes)
        .description("Payload bytes of the deliveries").baseUnit(BaseUnits.BYTES).tags(tags).register(registry);
    FunctionCounter.builder("switchboard.slow.consumer.disconnects", hub, Hub::slowConsumerDisconnects)
        .description("Connections closed because they could not keep up").tags(tags).register(registry);
    FunctionCounter.builder("switchboard.delivery.failures", hub, Hub::deliveryFailures)
        .description("Connections closed because delivering to them threw").tags(tags).register(registry);
    hub.addListener(new Recorder(registry));
  }

  /** The meters of one registry that the listeners record into. */
  private final class Recorder implements HubListener {
    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Counter[]> published = new ConcurrentHashMap<>();
    private final Timer brokerOk;
    private final Timer brokerError;
    private final Counter[] errorsByStatus = new Counter[Status.values().length];
    private final ConcurrentHashMap<String, Counter[]> refusals = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter[]> resumes = new ConcurrentHashMap<>();

    Recorder(MeterRegistry registry) {
      this.registry = registry;
      for (String t : List.of(HubListener.SERVER, "http", "ws", "grpc")) {
        publishedCounters(t);
      }
      brokerOk = brokerTimer(registry, "success");
      brokerError = brokerTimer(registry, "error");
      for (Status st : Status.values()) {
        errorsByStatus[st.ordinal()] = Counter.builder("switchboard.publish.errors")
            .description("Publishes that failed, by status").tags(tags).tag("status", st.code()).register(registry);
      }
    }

    /** {success, error} counters of a transport, registered on its first publish. */
    private Counter[] publishedCounters(String transport) {
      return published.computeIfAbsent(transport, t -> new Counter[] {
          publishedCounter(t, "success"), publishedCounter(t, "error")});
    }

    private Counter publishedCounter(String transport, String outcome) {
      return Counter.builder("switchboard.messages.published").description("Messages published, by transport and outcome")
          .tags(tags).tag("transport", transport).tag("outcome", outcome).register(registry);
    }

    private Timer brokerTimer(MeterRegistry registry, String outcome) {
      return Timer.builder("switchboard.broker.publish").description("Time the broker took to store a publish")
          .tags(tags).tag("outcome", outcome).register(registry);
    }

    @Override
    public void onPublished(String transport, Status error, long brokerNanos) {
      Counter[] outcomes = publishedCounters(transport);
      if (error == null) {
        outcomes[0].increment();
      } else {
        outcomes[1].increment();
        errorsByStatus[error.ordinal()].increment();
      }
      if (brokerNanos >= 0) {
        (error == null ? brokerOk : brokerError).record(brokerNanos, TimeUnit.NANOSECONDS);
      }
    }

    @Override
    public void onRefused(String transport, Status status) {
      Counter[] byStatus = refusals.computeIfAbsent(transport, t -> new Counter[Status.values().length]);
      Counter c = byStatus[status.ordinal()];
      if (c == null) {
        c = Counter.builder("switchboard.refusals").description("Clients refused, by transport and status")
            .tags(tags).tag("transport", transport).tag("status", status.code()).register(registry);
        byStatus[status.ordinal()] = c; // a race registers the same meter twice: the registry dedupes it
      }
      c.increment();
    }

    @Override
    public void onResumed(String transport, boolean recovered) {
      Counter[] pair = resumes.computeIfAbsent(transport, t -> new Counter[] {
          resumeCounter(t, "recovered"), resumeCounter(t, "history_gap")});
      pair[recovered ? 0 : 1].increment();
    }

    private Counter resumeCounter(String transport, String outcome) {
      return Counter.builder("switchboard.resumes").description("Subscriptions resumed after an id, by outcome")
          .tags(tags).tag("transport", transport).tag("outcome", outcome).register(registry);
    }

  }

}
