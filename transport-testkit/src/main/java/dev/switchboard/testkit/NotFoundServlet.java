package dev.switchboard.testkit;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * The servlet behind the filters in {@link EmbeddedTomcat}: answers what no filter took with 404.
 * Tomcat runs filters only for requests mapped to a servlet, and a filter can start async only if
 * every filter and the servlet of its chain support it.
 */
final class NotFoundServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
    res.sendError(404);
  }
}
