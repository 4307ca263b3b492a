package dev.switchboard.examples;

import dev.switchboard.transport.Status;
import dev.switchboard.transport.internal.MessageJson;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Locale;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error responses as Switchboard's JSON error body, {@code {"status":N,"error":"code",
 * "message":"text"}}, never an HTML page: requests the HTTP parser refuses (400 ambiguous URI, 414,
 * 431), paths no endpoint serves (404), unsupported methods, and exceptions a servlet or filter lets
 * escape (500). The message is the status's reason phrase only: what Jetty would print (exception
 * class names, messages, stack traces, the request URI) never reaches a client. Also refuses
 * {@code TRACE} and {@code TRACK} everywhere with 405 (a TRACE echo would show a page's
 * {@code Authorization} and {@code Cookie} headers to any script that can send one).
 *
 * <p>{@link #install} sets it up on a server and its servlet context (Jetty has one error handler
 * for requests outside any servlet, this class, and one for a servlet context, which must be a
 * servlet {@code ErrorHandler}); it is what the demo hub uses. Thread-safe (stateless).
 */
public class JsonErrorHandler extends ErrorHandler {
  private static final String ALLOW = "GET, HEAD, POST, DELETE, OPTIONS";

  /**
   * Answers every container error of {@code server} and {@code context} with the JSON error body,
   * and refuses TRACE/TRACK in front of {@code context}; call before {@link Server#setHandler}'s
   * server is started, with the context about to become (or already) the server's handler.
   *
   * @return the handler to give to {@link Server#setHandler}: {@code context} behind the TRACE refusal
   */
  public static Handler install(Server server, ServletContextHandler context) {
    server.setErrorHandler(new JsonErrorHandler());
    context.setErrorHandler(new ServletErrors());
    return new RefuseTrace(context);
  }

  /** The JSON error body for an HTTP status: the code of our {@link Status} table, else the reason phrase. */
  static byte[] body(int status) {
    String reason = HttpStatus.getMessage(status);
    String code = Status.fromHttpStatus(status).httpStatus() == status ? Status.fromHttpStatus(status).code()
        : reason.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_|_$", "");
    return MessageJson.error(status, code, reason);
  }

  // Jetty writes no body for methods outside GET/POST/HEAD by default; ours is small, so always.
  @Override
  public boolean errorPageForMethod(String method) {
    return true;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) {
    writeJson(response, code, callback);
  }

  @Override
  protected boolean generateAcceptableResponse(Request request, Response response, Callback callback,
      String contentType, List<Charset> charsets, int code, String message, Throwable cause) {
    writeJson(response, code, callback);
    return true;
  }

  /** The body of a response to a request the HTTP parser refused (400, 414, 431, …). */
  @Override
  public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
    fields.put(HttpHeader.CONTENT_TYPE, "application/json");
    return ByteBuffer.wrap(body(status));
  }

  private static void writeJson(Response response, int code, Callback callback) {
    byte[] body = body(code);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    if (code == HttpStatus.METHOD_NOT_ALLOWED_405 && !response.getHeaders().contains(HttpHeader.ALLOW)) {
      response.getHeaders().put(HttpHeader.ALLOW, ALLOW);
    }
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  /** The same answers for errors inside the servlet context (sendError, exceptions from servlets and filters). */
  private static final class ServletErrors extends org.eclipse.jetty.ee10.servlet.ErrorHandler {
    @Override
    public boolean errorPageForMethod(String method) {
      return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
        Callback callback) {
      writeJson(response, code, callback);
    }

    @Override
    protected boolean generateAcceptableResponse(Request request, Response response, Callback callback,
        String contentType, List<Charset> charsets, int code, String message, Throwable cause) {
      writeJson(response, code, callback);
      return true;
    }
  }

  /** 405 for TRACE and TRACK before any servlet or filter sees them. */
  private static final class RefuseTrace extends Handler.Wrapper {
    RefuseTrace(Handler next) {
      super(next);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      String method = request.getMethod();
      if (method.equals("TRACE") || method.equals("TRACK")) {
        response.getHeaders().put(HttpHeader.ALLOW, ALLOW);
        Response.writeError(request, response, callback, HttpStatus.METHOD_NOT_ALLOWED_405);
        return true;
      }
      return super.handle(request, response, callback);
    }
  }
}
