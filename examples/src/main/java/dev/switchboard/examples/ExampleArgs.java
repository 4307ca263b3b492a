package dev.switchboard.examples;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Tiny {@code --name value} parsing for the examples; unknown options are refused by name. */
final class ExampleArgs {
  private final Map<String, String> values = new HashMap<>();

  ExampleArgs(String[] args, List<String> known, Map<String, String> defaults) {
    values.putAll(defaults);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || !known.contains(a.substring(2))) {
        throw new IllegalArgumentException("unknown option '" + a + "'; known: --" + String.join(", --", known));
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      values.put(a.substring(2), args[++i]);
    }
  }

  String get(String name) {
    String v = values.get(name);
    if (v == null) {
      throw new IllegalArgumentException("--" + name + " is required");
    }
    return v;
  }

  int getInt(String name) {
    try {
      return Integer.parseInt(get(name));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a number: " + get(name), e);
    }
  }

  /** Runs {@code body}, printing usage and exiting 2 on a bad command line. */
  static void main(String usage, ThrowingRunnable body) throws Exception {
    try {
      body.run();
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.err.println(usage);
      System.exit(2);
    }
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }
}
