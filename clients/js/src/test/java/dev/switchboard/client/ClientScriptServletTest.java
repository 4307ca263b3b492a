package dev.switchboard.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The servlet serves the committed files (the Node suite checks the same with Node, where present). */
class ClientScriptServletTest {
  private static HttpURLConnection get(String url, String etag) throws Exception {
    HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
    if (etag != null) {
      c.setRequestProperty("If-None-Match", etag);
    }
    return c;
  }

  private static byte[] body(HttpURLConnection c) throws Exception {
    try (InputStream in = c.getInputStream()) {
      return in.readAllBytes();
    }
  }

  @Test
  void servesTheModuleAndItsDeclarations_withAnEtagThatRevalidates() throws Exception {
    TestHubs.TestHub hub = new TestHubs.TestHub(true, 10, null, false);
    hub.start();
    try {
      HttpURLConnection js = get(hub.url() + "/v1/client.js", null);
      assertEquals(200, js.getResponseCode());
      assertEquals("text/javascript;charset=utf-8", js.getContentType().replace(" ", ""));
      byte[] script = body(js);
      assertArrayEquals(Files.readAllBytes(Path.of("client.js")), script);
      assertArrayEquals(script, ClientScriptServlet.script());
      String etag = js.getHeaderField("ETag");
      assertTrue(etag.startsWith("\"") && etag.endsWith("\""), etag);

      assertEquals(304, get(hub.url() + "/v1/client.js", etag).getResponseCode());

      HttpURLConnection dts = get(hub.url() + "/v1/client.d.ts", null);
      assertEquals(200, dts.getResponseCode());
      assertTrue(dts.getContentType().startsWith("application/typescript"), dts.getContentType());
      byte[] declarations = body(dts);
      assertArrayEquals(Files.readAllBytes(Path.of("client.d.ts")), declarations);
      assertArrayEquals(declarations, ClientScriptServlet.declarations());
    } finally {
      hub.close();
    }
  }
}
