package dev.switchboard.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.switchboard.grpc.v1.Error;
import dev.switchboard.grpc.v1.PublishRequest;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import dev.switchboard.transport.Topics;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;

/** Conversions between Switchboard's types and the {@code switchboard.v1} protobuf messages. */
final class GrpcCodec {
  /** Trailer with the short error code of the JSON transports, e.g. {@code invalid_topic}. */
  static final Metadata.Key<String> ERROR_KEY =
      Metadata.Key.of("switchboard-error", Metadata.ASCII_STRING_MARSHALLER);
  /** Trailer with the HTTP status the other transports give the same error. */
  static final Metadata.Key<String> STATUS_KEY =
      Metadata.Key.of("switchboard-status", Metadata.ASCII_STRING_MARSHALLER);
  /** Trailer with a retry hint in seconds (like HTTP's Retry-After). */
  static final Metadata.Key<String> RETRY_AFTER_KEY =
      Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);

  /** Room for the protobuf envelope around a payload of the largest allowed size (both directions). */
  static final int ENVELOPE_BYTES = 64 * 1024;

  private GrpcCodec() {}

  static dev.switchboard.grpc.v1.Message toProto(Message m) {
    dev.switchboard.grpc.v1.Message.Builder b = dev.switchboard.grpc.v1.Message.newBuilder()
        .setTopic(m.topic())
        .setData(ByteString.copyFrom(m.payload()))
        .setContentType(m.contentType())
        .putAllHeaders(m.headers());
    if (m.id() != null) {
      b.setId(m.id());
    }
    if (m.event() != null) {
      b.setEvent(m.event());
    }
    if (m.time() != null) {
      b.setTime(timestamp(m.time()));
    }
    return b.build();
  }

  static Message fromProto(dev.switchboard.grpc.v1.Message p) {
    Message.Builder b = Message.builder(p.getTopic())
        .payload(p.getData().toByteArray(), contentType(p.getContentType()))
        .headers(p.getHeadersMap());
    if (!p.getId().isEmpty()) {
      b.id(p.getId());
    }
    if (!p.getEvent().isEmpty()) {
      b.event(p.getEvent());
    }
    if (p.hasTime()) {
      b.time(instant(p.getTime()));
    }
    return b.build();
  }

  /**
   * The draft a client asked to publish. Every field error is a SwitchboardException with a client
   * status (INVALID_ARGUMENT, or UNSUPPORTED_MEDIA_TYPE for the content type, which gRPC also
   * reports as INVALID_ARGUMENT), never an INTERNAL one; the rest of the rules (JSON that parses,
   * UTF-8 text, media-type syntax, header limits) are the hub's on publish.
   *
   * @throws SwitchboardException naming the missing or invalid field
   */
  static Message draft(PublishRequest r) {
    if (r.getTopic().isEmpty()) {
      throw SwitchboardException.of(Status.INVALID_ARGUMENT, "missing_field", "publish needs a topic");
    }
    Message.Builder b = Message.builder(Topics.requireValid(r.getTopic()))
        .payload(r.getData().toByteArray(), contentType(r.getContentType()))
        .headers(r.getHeadersMap());
    if (!r.getEvent().isEmpty()) {
      b.event(Topics.requireValidEvent(r.getEvent()));
    }
    return b.build();
  }

  static PublishRequest toRequest(Message m) {
    PublishRequest.Builder b = PublishRequest.newBuilder()
        .setTopic(m.topic())
        .setData(ByteString.copyFrom(m.payload()))
        .setContentType(m.contentType())
        .putAllHeaders(m.headers());
    if (m.event() != null) {
      b.setEvent(m.event());
    }
    return b.build();
  }

  private static String contentType(String s) {
    return s.isEmpty() ? Message.DEFAULT_CONTENT_TYPE : s;
  }

  static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  /**
   * The instant of a timestamp off the wire.
   *
   * @throws SwitchboardException INTERNAL for one outside {@link Instant}'s range (a malformed
   *     message: the client skips it)
   */
  static Instant instant(Timestamp t) {
    try {
      return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    } catch (java.time.DateTimeException | ArithmeticException e) {
      throw new SwitchboardException(Status.INTERNAL, "message time out of range: " + t.getSeconds() + " s, "
          + t.getNanos() + " ns");
    }
  }

  static Error error(SwitchboardException e) {
    Error.Builder b = Error.newBuilder()
        .setCode(e.status().grpcCode())
        .setError(e.errorCode())
        .setMessage(String.valueOf(e.getMessage()))
        .setStatus(e.status().httpStatus());
    e.retryAfter().ifPresent(d -> b.setRetryAfter(retryAfterSeconds(d)));
    return b.build();
  }

  private static long retryAfterSeconds(Duration d) {
    return Math.max(1, (d.toMillis() + 999) / 1000);
  }

  static SwitchboardException fromError(Error e) {
    Status status = e.getStatus() != 0 ? Status.fromHttpStatus(e.getStatus()) : Status.fromGrpcCode(e.getCode());
    return new SwitchboardException(status, e.getError().isEmpty() ? status.code() : e.getError(),
        e.getMessage(), e.getRetryAfter() > 0 ? Duration.ofSeconds(e.getRetryAfter()) : null, null);
  }

  /** The call status for a failure, with Switchboard's error code, HTTP status and retry hint as trailers. */
  static StatusRuntimeException toStatus(Throwable t) {
    SwitchboardException e = SwitchboardException.from(t);
    Metadata trailers = new Metadata();
    trailers.put(ERROR_KEY, e.errorCode());
    trailers.put(STATUS_KEY, Integer.toString(e.status().httpStatus()));
    e.retryAfter().ifPresent(d -> trailers.put(RETRY_AFTER_KEY, Long.toString(retryAfterSeconds(d))));
    return io.grpc.Status.fromCodeValue(e.status().grpcCode())
        .withDescription(e.errorCode() + ": " + e.getMessage())
        .asRuntimeException(trailers);
  }

  /** A call's failure as a SwitchboardException (using the trailers when the server is ours). */
  static SwitchboardException fromStatus(Throwable t) {
    io.grpc.Status s = io.grpc.Status.fromThrowable(t);
    Metadata trailers = io.grpc.Status.trailersFromThrowable(t);
    Status status = null;
    String code = null;
    Duration retryAfter = null;
    if (trailers != null) {
      String http = trailers.get(STATUS_KEY);
      if (http != null) {
        try {
          status = Status.fromHttpStatus(Integer.parseInt(http));
        } catch (NumberFormatException ignored) {
          // not ours; fall back to the gRPC code
        }
      }
      code = trailers.get(ERROR_KEY);
      String retry = trailers.get(RETRY_AFTER_KEY);
      if (retry != null) {
        try {
          retryAfter = Duration.ofSeconds(Long.parseLong(retry));
        } catch (NumberFormatException ignored) {
          // no hint
        }
      }
    }
    if (status == null) {
      status = Status.fromGrpcCode(s.getCode().value());
      if (s.getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED && s.getDescription() != null
          && s.getDescription().contains("exceeds maximum")) {
        status = Status.PAYLOAD_TOO_LARGE; // gRPC's own max inbound message size
      }
    }
    if ("slow_consumer".equals(code)) {
      status = Status.SLOW_CONSUMER;
    }
    String description = s.getDescription() != null ? s.getDescription() : s.getCode().name();
    return new SwitchboardException(status, code != null ? code : status.code(),
        description, retryAfter, s.getCause() != null ? s.getCause() : t);
  }
}
