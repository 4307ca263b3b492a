/** The JavaScript client of Switchboard ({@code client.js}, {@code client.d.ts}) and the servlet that serves it. */
module dev.switchboard.client {
  requires static jakarta.servlet;

  exports dev.switchboard.client;
}
