package dev.switchboard.examples.boot;

import dev.switchboard.hub.Authenticator;
import dev.switchboard.transport.Status;
import dev.switchboard.transport.SwitchboardException;
import java.security.Principal;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * A Spring Boot application with Switchboard mounted by the starter: every transport under
 * {@code /realtime/v1}, clients authenticated by a bearer token, messages published by
 * {@link AnnouncementController} through the injected {@code Publisher}.
 */
@SpringBootApplication
public class ExampleApplication {
  public static void main(String[] args) {
    SpringApplication.run(ExampleApplication.class, args);
  }

  /** Used by the hub instead of its default (everyone anonymous) for every transport. */
  @Bean
  Authenticator tokenAuthenticator(@Value("${example.token}") String token) {
    return handshake -> {
      if (!token.equals(handshake.bearerToken())) {
        throw new SwitchboardException(Status.UNAUTHENTICATED, "send Authorization: Bearer <token>");
      }
      Principal user = () -> "example-user";
      return user;
    };
  }
}
