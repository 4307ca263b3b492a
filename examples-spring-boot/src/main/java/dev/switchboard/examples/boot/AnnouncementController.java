package dev.switchboard.examples.boot;

import dev.switchboard.transport.Message;
import dev.switchboard.transport.Publisher;
import java.util.concurrent.CompletionStage;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** An ordinary Spring MVC endpoint that publishes to subscribers through the injected hub. */
@RestController
public class AnnouncementController {
  private final Publisher publisher;

  AnnouncementController(Publisher publisher) {
    this.publisher = publisher;
  }

  /** {@code POST /announce} with a text body: every subscriber of {@code announcements} gets it. */
  @PostMapping("/announce")
  public CompletionStage<String> announce(@RequestBody String text) {
    return publisher.publish(Message.builder("announcements").text(text).build()).thenApply(Message::id);
  }
}
