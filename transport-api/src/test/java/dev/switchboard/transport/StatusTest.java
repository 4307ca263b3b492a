package dev.switchboard.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StatusTest {
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

  @Test
  void onlyServerSideConditionsAreRetryable() {
    assertEquals(false, Status.PAYLOAD_TOO_LARGE.isRetryable());
    assertEquals(true, Status.SLOW_CONSUMER.isRetryable());
  }
}
