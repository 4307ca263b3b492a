package dev.switchboard.bench;

import org.HdrHistogram.Recorder;

/** The subscriber side of the fan-out benchmark. Thread-safe. */
interface FanoutClient extends AutoCloseable {
  /** Opens {@code n} more subscribers. */
  void connect(int n);

  long delivered();

  int failed();

  /** Publish-to-receive latency in microseconds. */
  Recorder recorder();
}
