package dev.switchboard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.config.annotation.EnableWebMvc;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.config.annotation.EnableWebSocket;
import org.springframework.web.socket.config.annotation.WebSocketConfigurer;
import org.springframework.web.socket.config.annotation.WebSocketHandlerRegistry;
import org.springframework.web.socket.handler.ConcurrentWebSocketSessionDecorator;
import org.springframework.web.socket.handler.TextWebSocketHandler;
import org.springframework.web.socket.server.support.DefaultHandshakeHandler;
import org.springframework.web.socket.server.standard.StandardWebSocketUpgradeStrategy;

/**
 * The Spring peer: what a Spring MVC application would write for the same job, without Boot, on the
 * same Jetty. SSE is an {@link SseEmitter} per subscriber ({@code GET /spring/events}) and the
 * broadcast loops over them calling {@code send}, as Spring's reference documentation shows;
 * WebSocket is a {@link TextWebSocketHandler} at {@code /spring/ws} whose sessions are wrapped in
 * {@link ConcurrentWebSocketSessionDecorator} (Spring's answer to sending to one session from several
 * threads, with a send-time and buffer limit) and receive the same frame bytes as the raw baseline.
 */
final class SpringPeer {
  private SpringPeer() {}

  /** The application's one broadcaster, shared by the controller and the WebSocket handler. */
  static final class Broadcaster {
    private final Set<SseEmitter> emitters = ConcurrentHashMap.newKeySet();
    private final Map<String, WebSocketSession> sessions = new ConcurrentHashMap<>();
    private final AtomicLong seq = new AtomicLong();

    int count() {
      return emitters.size() + sessions.size();
    }

    void broadcast(byte[] payload) {
      long id = seq.incrementAndGet();
      if (!emitters.isEmpty()) {
        String data = new String(payload, StandardCharsets.US_ASCII);
        for (SseEmitter e : emitters) {
          try {
            e.send(SseEmitter.event().id(Long.toString(id)).data(data, MediaType.TEXT_PLAIN));
          } catch (IOException | RuntimeException ex) {
            emitters.remove(e);
          }
        }
      }
      if (!sessions.isEmpty()) {
        TextMessage frame = new TextMessage(BenchServer.wsFrame(payload, "spring-" + id));
        for (WebSocketSession s : sessions.values()) {
          try {
            s.sendMessage(frame);
          } catch (IOException | RuntimeException ex) { // the decorator's limits throw SessionLimitExceededException
            sessions.remove(s.getId());
          }
        }
      }
    }
  }

  @RestController
  static class EventsController {
    private final Broadcaster broadcaster;

    EventsController(Broadcaster broadcaster) {
      this.broadcaster = broadcaster;
    }

    @GetMapping(path = "/spring/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    SseEmitter events() {
      SseEmitter emitter = new SseEmitter(0L); // no timeout: a live feed
      emitter.onCompletion(() -> broadcaster.emitters.remove(emitter));
      emitter.onError(t -> broadcaster.emitters.remove(emitter));
      emitter.onTimeout(() -> broadcaster.emitters.remove(emitter));
      broadcaster.emitters.add(emitter);
      return emitter;
    }
  }

  static class BroadcastHandler extends TextWebSocketHandler {
    private final Broadcaster broadcaster;

    BroadcastHandler(Broadcaster broadcaster) {
      this.broadcaster = broadcaster;
    }

    @Override
    public void afterConnectionEstablished(WebSocketSession session) {
      // 10 s send-time limit and 512 KiB buffered, then the session is closed: Spring's slow-consumer policy.
      broadcaster.sessions.put(session.getId(), new ConcurrentWebSocketSessionDecorator(session, 10_000, 512 * 1024));
    }

    @Override
    public void afterConnectionClosed(WebSocketSession session, CloseStatus status) {
      broadcaster.sessions.remove(session.getId());
    }
  }

  @Configuration
  @EnableWebMvc
  @EnableWebSocket
  static class Config implements WebSocketConfigurer {
    private final Broadcaster broadcaster = new Broadcaster();

    @Bean
    Broadcaster broadcaster() {
      return broadcaster;
    }

    @Bean
    EventsController eventsController() {
      return new EventsController(broadcaster);
    }

    @Override
    public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
      // The Jakarta (JSR 356) upgrade strategy: the same Jetty WebSocket container the other peers use.
      registry.addHandler(new BroadcastHandler(broadcaster), "/spring/ws")
          .setHandshakeHandler(new DefaultHandshakeHandler(new StandardWebSocketUpgradeStrategy()));
    }
  }
}
