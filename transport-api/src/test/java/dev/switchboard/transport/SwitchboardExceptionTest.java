package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class SwitchboardExceptionTest {
  @Test
  void from_unwrapsCompletionAndExecutionExceptions() {
    SwitchboardException original = new SwitchboardException(Status.NOT_FOUND, "no message 7");
    assertSame(original, SwitchboardException.from(original));
    assertSame(original, SwitchboardException.from(new CompletionException(new ExecutionException(original))));
    CompletableFuture<Void> failed = CompletableFuture.failedFuture(original);
    CompletionException joined = assertThrows(CompletionException.class, failed::join);
    assertSame(original, SwitchboardException.from(joined));
  }

  @Test
  void from_wrapsAnythingElseAsInternal_keepingTheRootCause() {
    IOException io = new IOException("connection reset");
    SwitchboardException e = SwitchboardException.from(new CompletionException(io));
    assertEquals(Status.INTERNAL, e.status());
    assertEquals("internal", e.errorCode());
    assertSame(io, e.getCause());
    assertEquals("java.io.IOException: connection reset", e.getMessage());
    // A cause that is not a wrapper stops the search: a SwitchboardException below it is not taken.
    IllegalStateException outer = new IllegalStateException(new SwitchboardException(Status.NOT_FOUND, "x"));
    assertSame(outer, SwitchboardException.from(outer).getCause());
  }

  @Test
  void shortForms_useTheStatusCode_fullFormCarriesRetryAfter() {
    SwitchboardException shortForm = new SwitchboardException(Status.TOO_MANY_REQUESTS, "slow down");
    assertEquals("too_many_requests", shortForm.errorCode());
    assertTrue(shortForm.retryAfter().isEmpty());
    SwitchboardException full = new SwitchboardException(Status.TOO_MANY_REQUESTS, "rate_limited", "slow down",
        Duration.ofMillis(1500), null);
    assertEquals(Duration.ofMillis(1500), full.retryAfter().orElseThrow());
    assertEquals("SwitchboardException[TOO_MANY_REQUESTS/rate_limited]: slow down", full.toString());
    assertThrows(NullPointerException.class, () -> new SwitchboardException(null, "x"));
  }
}
