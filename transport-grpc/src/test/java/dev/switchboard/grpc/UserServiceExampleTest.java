package dev.switchboard.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.switchboard.grpc.example.v1.CreateUsersResponse;
import dev.switchboard.grpc.example.v1.GetUserRequest;
import dev.switchboard.grpc.example.v1.ListUsersRequest;
import dev.switchboard.grpc.example.v1.User;
import dev.switchboard.grpc.example.v1.UserServiceGrpc;
import dev.switchboard.hub.Hub;
import dev.switchboard.hub.InMemoryBroker;
import dev.switchboard.transport.Channel;
import dev.switchboard.transport.Message;
import dev.switchboard.transport.MessageListener;
import dev.switchboard.transport.Publisher;
import dev.switchboard.transport.TransportConfig;
import dev.switchboard.transport.Transports;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How Switchboard sits beside an application's own gRPC services: a typed {@code UserService}
 * (unary, server streaming, client streaming) on the same server as {@code switchboard.v1.Hub}, whose
 * {@code CreateUsers} announces each new user on topic {@code users} through the hub.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UserServiceExampleTest {

  /** The application's service: plain grpc-java, plus a {@link Publisher} to announce changes. */
  static final class UserService extends UserServiceGrpc.UserServiceImplBase {
    private final Map<String, User> users = new ConcurrentSkipListMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    private final Publisher events;

    UserService(Publisher events) {
      this.events = events;
    }

    @Override
    public void getUser(GetUserRequest request, StreamObserver<User> responses) {
      User u = users.get(request.getId());
      if (u == null) {
        responses.onError(Status.NOT_FOUND.withDescription("no user " + request.getId()).asRuntimeException());
        return;
      }
      responses.onNext(u);
      responses.onCompleted();
    }

    @Override
    public void listUsers(ListUsersRequest request, StreamObserver<User> responses) {
      users.values().stream().filter(u -> u.getName().startsWith(request.getNamePrefix())).forEach(responses::onNext);
      responses.onCompleted();
    }

    @Override
    public StreamObserver<User> createUsers(StreamObserver<CreateUsersResponse> responses) {
      List<String> created = new ArrayList<>();
      return new StreamObserver<>() {
        @Override
        public void onNext(User u) {
          User stored = u.toBuilder().setId("u" + ids.incrementAndGet()).build();
          users.put(stored.getId(), stored);
          created.add(stored.getId());
          events.publish(Message.builder("users").event("user.created")
              .json("{\"id\":\"" + stored.getId() + "\"}").build());
        }

        @Override
        public void onError(Throwable t) {
          // the client gave up; what was created stays
        }

        @Override
        public void onCompleted() {
          responses.onNext(CreateUsersResponse.newBuilder().setCreated(created.size()).addAllIds(created).build());
          responses.onCompleted();
        }
      };
    }
  }

  @Test
  void userServiceAndHub_shareOneServer() throws Exception {
    Hub hub = Hub.builder().broker(new InMemoryBroker(1000)).build();
    try (GrpcHubServer server = GrpcHubServer.builder(hub).port(0).addService(new UserService(hub)).start();
        Channel events = Transports.open(TransportConfig.builder().transport("grpc")
            .url("grpc://127.0.0.1:" + server.port()).build())) {
      LinkedBlockingQueue<Message> announced = new LinkedBlockingQueue<>();
      Message marker = hub.publish("users", "marker").toCompletableFuture().get();
      events.subscribe("users", marker.id(), (MessageListener) announced::add);

      ManagedChannel ch = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(),
          InsecureChannelCredentials.create()).build();
      try {
        UserServiceGrpc.UserServiceStub async = UserServiceGrpc.newStub(ch);
        CompletableFuture<CreateUsersResponse> result = new CompletableFuture<>();
        StreamObserver<User> upload = async.createUsers(GrpcWireTest.firstValue(result));
        for (String name : List.of("ada", "alan", "grace")) {
          upload.onNext(User.newBuilder().setName(name).setEmail(name + "@example.org").build());
        }
        upload.onCompleted();
        CreateUsersResponse created = result.get(30, TimeUnit.SECONDS);
        assertEquals(3, created.getCreated());

        UserServiceGrpc.UserServiceBlockingStub users = UserServiceGrpc.newBlockingStub(ch);
        assertEquals("ada", users.getUser(GetUserRequest.newBuilder().setId(created.getIds(0)).build()).getName());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
            () -> users.getUser(GetUserRequest.newBuilder().setId("nobody").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        List<String> aNames = new ArrayList<>();
        users.listUsers(ListUsersRequest.newBuilder().setNamePrefix("a").build()).forEachRemaining(u -> aNames.add(u.getName()));
        assertEquals(List.of("ada", "alan"), aNames);

        // Each creation was announced through the hub, and reached the Switchboard channel in order.
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
          Message m = announced.poll(30, TimeUnit.SECONDS);
          assertEquals("user.created", m.event());
          seen.add(m.text());
        }
        assertEquals(created.getIdsList().stream().map(id -> "{\"id\":\"" + id + "\"}").collect(Collectors.toList()), seen);
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      hub.shutdown();
    }
  }
}
