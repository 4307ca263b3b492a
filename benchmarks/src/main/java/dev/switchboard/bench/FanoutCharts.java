package dev.switchboard.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws the fan-out results as PNG charts with XChart: delivered messages/s against subscribers,
 * p50 and p99 latency against the offered delivery rate (publish rate × N; past saturation fewer
 * arrive, so the offered rate keeps each line monotonic) for each N, and heap and RSS per idle connection.
 * Returns the files it wrote.
 */
final class FanoutCharts {
  private static final int WIDTH = 1000;
  private static final int HEIGHT = 600;

  private FanoutCharts() {}

  static List<Path> write(List<FanoutBenchmark.Result> results, Path dir) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    Set<String> targets = new LinkedHashSet<>();
    TreeSet<Integer> ns = new TreeSet<>();
    for (FanoutBenchmark.Result r : results) {
      targets.add(r.target());
      ns.add(r.subscribers());
    }

    written.add(save(throughput(results, targets, FanoutBenchmark.Result::maxDeliveredPerSec,
        "Fan-out throughput (every message delivered)"), dir.resolve("fanout-throughput.png")));
    written.add(save(throughput(results, targets, FanoutBenchmark.Result::maxSustainedPerSec,
        "Fan-out throughput with p99 <= 100 ms"), dir.resolve("fanout-sustained.png")));
    for (int n : ns) {
      written.add(save(latency(results, targets, n, FanoutBenchmark.Step::p50, "p50"),
          dir.resolve("fanout-latency-p50-n" + n + ".png")));
      written.add(save(latency(results, targets, n, FanoutBenchmark.Step::p99, "p99"),
          dir.resolve("fanout-latency-p99-n" + n + ".png")));
    }
    written.add(save(memory(results, ns.last()), dir.resolve("fanout-memory-n" + ns.last() + ".png")));
    return written;
  }

  private static XYChart throughput(List<FanoutBenchmark.Result> results, Set<String> targets,
      ToDoubleFunction<FanoutBenchmark.Result> figure, String title) {
    XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
        .xAxisTitle("subscribers (N)").yAxisTitle("delivered messages/s").build();
    style(chart);
    chart.getStyler().setXAxisLogarithmic(true);
    for (String t : targets) {
      List<Double> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      for (FanoutBenchmark.Result r : results) {
        if (r.target().equals(t)) {
          x.add((double) r.subscribers());
          y.add(figure.applyAsDouble(r));
        }
      }
      line(chart.addSeries(t, x, y), t);
    }
    return chart;
  }

  private static XYChart latency(List<FanoutBenchmark.Result> results, Set<String> targets, int n,
      ToDoubleFunction<FanoutBenchmark.Step> micros, String percentile) {
    XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
        .title(percentile + " publish-to-receive latency, N=" + n)
        .xAxisTitle("offered deliveries/s (publish rate x N)").yAxisTitle(percentile + " latency (ms)").build();
    style(chart);
    chart.getStyler().setXAxisLogarithmic(true);
    chart.getStyler().setYAxisLogarithmic(true);
    for (String t : targets) {
      List<Double> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      for (FanoutBenchmark.Result r : results) {
        if (r.target().equals(t) && r.subscribers() == n) {
          for (FanoutBenchmark.Step s : r.steps()) {
            if (s.delivered() > 0) {
              x.add((double) s.rate() * n);
              y.add(Math.max(0.01, micros.applyAsDouble(s) / 1000.0)); // log axis: no zero
            }
          }
        }
      }
      if (!x.isEmpty()) {
        line(chart.addSeries(t, x, y), t);
      }
    }
    return chart;
  }

  private static CategoryChart memory(List<FanoutBenchmark.Result> results, int n) {
    CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
        .title("Memory per idle connection, N=" + n).xAxisTitle("").yAxisTitle("bytes per connection").build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setXAxisLabelRotation(30);
    chart.getStyler().setYAxisDecimalPattern("#,###");
    List<String> names = new ArrayList<>();
    List<Double> heap = new ArrayList<>();
    List<Double> rss = new ArrayList<>();
    for (FanoutBenchmark.Result r : results) {
      if (r.subscribers() == n) {
        names.add(r.target());
        heap.add(Math.max(0, r.heapPerConn()));
        rss.add(Math.max(0, r.rssPerConn()));
      }
    }
    chart.addSeries("heap after GC", names, heap);
    chart.addSeries("RSS", names, rss);
    return chart;
  }

  private static void style(XYChart chart) {
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    chart.getStyler().setYAxisDecimalPattern("#,###.##");
    chart.getStyler().setXAxisDecimalPattern("#,###");
  }

  /** Switchboard solid with round markers, raw baselines dashed, other peers dotted. */
  private static void line(XYSeries s, String target) {
    if (target.startsWith("switchboard-")) {
      s.setMarker(SeriesMarkers.CIRCLE);
    } else if (target.startsWith("raw-")) {
      s.setMarker(SeriesMarkers.DIAMOND);
      s.setLineStyle(new java.awt.BasicStroke(2f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER,
          10f, new float[] {8f, 4f}, 0f));
    } else {
      s.setMarker(SeriesMarkers.SQUARE);
      s.setLineStyle(new java.awt.BasicStroke(2f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER,
          10f, new float[] {2f, 3f}, 0f));
    }
  }

  private static Path save(org.knowm.xchart.internal.chartpart.Chart<?, ?> chart, Path file) throws IOException {
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    return file;
  }
}
