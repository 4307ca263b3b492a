package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one table from status to HTTP, WebSocket close code and gRPC code, and the way back from HTTP. */
class StatusTest {
  @Test
  void fromHttpStatus_invertsTheTable_exceptSlowConsumerWhichSharesUnavailable503() {
    for (Status s : Status.values()) {
      Status back = Status.fromHttpStatus(s.httpStatus());
      assertEquals(s == Status.SLOW_CONSUMER ? Status.UNAVAILABLE : s, back, s.name());
    }
  }

  @Test
  void fromHttpStatus_mapsUnknownCodesToTheNearestCategory() {
    assertEquals(Status.INVALID_ARGUMENT, Status.fromHttpStatus(418));
    assertEquals(Status.INVALID_ARGUMENT, Status.fromHttpStatus(431));
    assertEquals(Status.UNAVAILABLE, Status.fromHttpStatus(502));
    assertEquals(Status.UNAVAILABLE, Status.fromHttpStatus(504));
    assertEquals(Status.INTERNAL, Status.fromHttpStatus(500));
  }

  @Test
  void retryable_areExactlyTheServerSideAndCapacityStatuses() {
    Set<Status> retryable = EnumSet.noneOf(Status.class);
    for (Status s : Status.values()) {
      if (s.isRetryable()) {
        retryable.add(s);
      }
    }
    assertEquals(EnumSet.of(Status.UNAVAILABLE, Status.TOO_MANY_REQUESTS, Status.SLOW_CONSUMER, Status.INTERNAL),
        retryable);
  }

  @Test
  void everyCode_isOneAnEndpointMaySend() {
    Set<String> codes = new HashSet<>();
    for (Status s : Status.values()) {
      int close = s.webSocketCloseCode();
      // RFC 6455 §7.4 and the IANA registry: 1004-1006 and 1015 are never sent; 1012-1014 were
      // registered later (1013 Try Again Later); 3000-4999 are for libraries and applications.
      boolean sendable = (close >= 1000 && close <= 1003) || (close >= 1007 && close <= 1014)
          || (close >= 3000 && close <= 4999);
      assertTrue(sendable, s + " closes with " + close);
      assertTrue(s.grpcCode() >= 1 && s.grpcCode() <= 16, s + " has gRPC code " + s.grpcCode());
      assertTrue(s.httpStatus() >= 400 && s.httpStatus() <= 599, s + " has HTTP " + s.httpStatus());
      assertTrue(s.code().matches("[a-z]+(_[a-z]+)*"), s.code());
      assertTrue(codes.add(s.code()), "code " + s.code() + " is used twice");
    }
  }

  @Test
  void fromWebSocketClose_readsEveryCodeTheTableGivesOneStatus_backAsThatStatus() {
    for (Status s : Status.values()) {
      if (s.webSocketCloseCode() != 1008) {
        assertEquals(s, Status.fromWebSocketClose(s.webSocketCloseCode()), s.name());
      }
    }
  }

  @Test
  void fromWebSocketClose_authCodesArePrivate_andOldServersRefusalsStillRead() {
    assertEquals(Status.UNAUTHENTICATED, Status.fromWebSocketClose(4401));
    assertEquals(Status.PERMISSION_DENIED, Status.fromWebSocketClose(4403));
    assertEquals(Status.PERMISSION_DENIED, Status.fromWebSocketClose(1008), "an older hub's refusal");
    assertEquals(Status.TOO_MANY_REQUESTS, Status.fromWebSocketClose(1012));
    assertEquals(Status.UNAVAILABLE, Status.fromWebSocketClose(1000));
    assertEquals(Status.UNAVAILABLE, Status.fromWebSocketClose(1006));
    assertEquals(Status.UNAVAILABLE, Status.fromWebSocketClose(4999));
  }

  @Test
  void fromGrpcCode_keepsTheCode_forEveryStatus() {
    for (Status s : Status.values()) {
      assertEquals(s.grpcCode(), Status.fromGrpcCode(s.grpcCode()).grpcCode(), s.name());
    }
    assertEquals(Status.TOO_MANY_REQUESTS, Status.fromGrpcCode(8), "RESOURCE_EXHAUSTED without a trailer");
    assertEquals(Status.UNAVAILABLE, Status.fromGrpcCode(4), "DEADLINE_EXCEEDED");
    assertEquals(Status.INTERNAL, Status.fromGrpcCode(2), "UNKNOWN");
  }
}
