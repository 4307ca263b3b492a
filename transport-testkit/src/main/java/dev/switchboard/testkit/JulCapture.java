package dev.switchboard.testkit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Records what a {@code java.util.logging} logger and its children log while open, e.g. Tomcat
 * ({@code org.apache}) or Undertow ({@code io.undertow}, through JBoss Logging's JDK provider), so a
 * test can assert that a container logged no warning. Sets the logger to {@code INFO} while open and
 * restores it on {@link #close()}.
 *
 * <p>Thread-safe.
 */
public final class JulCapture implements AutoCloseable {
  private final Logger logger;
  private final Level oldLevel;
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Handler handler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      records.add(record);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  private JulCapture(String name) {
    this.logger = Logger.getLogger(name);
    this.oldLevel = logger.getLevel();
    logger.setLevel(Level.INFO);
    logger.addHandler(handler);
  }

  /** Starts recording {@code loggerName} and the loggers below it. */
  public static JulCapture start(String loggerName) {
    return new JulCapture(loggerName);
  }

  /** Whether anything at all was recorded (proves the capture hears the component). */
  public boolean heardAnything() {
    return !records.isEmpty();
  }

  /** Each record at WARNING or above, as "LEVEL logger: message (exception)". */
  public List<String> warnings() {
    return records.stream().filter(r -> r.getLevel().intValue() >= Level.WARNING.intValue())
        .map(r -> r.getLevel() + " " + r.getLoggerName() + ": " + r.getMessage()
            + (r.getThrown() == null ? "" : " (" + r.getThrown() + ")"))
        .collect(Collectors.toList());
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setLevel(oldLevel);
  }
}
