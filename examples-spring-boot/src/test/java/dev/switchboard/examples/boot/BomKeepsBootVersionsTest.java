package dev.switchboard.examples.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.junit.jupiter.api.Test;

/**
 * This application imports switchboard-bom under Boot's parent: the versions on its class path must
 * be Boot's (the BOM lists only Switchboard's own artifacts), so jackson-core matches Boot's
 * jackson-databind (Jackson 2, on Boot 3 and 4). The expected version comes from Boot's dependency management, via the pom.
 */
class BomKeepsBootVersionsTest {
  @Test
  void jacksonOnTheClassPath_isBootsManagedVersion() {
    String expected = System.getProperty("expected.jackson.version");
    assertNotNull(expected, "run by Maven: the pom passes Boot's jackson-bom.version");
    assertEquals(expected, com.fasterxml.jackson.core.json.PackageVersion.VERSION.toString(), "jackson-core");
    if (onClassPath("com.fasterxml.jackson.databind.cfg.PackageVersion")) { // Boot 4 apps may have Jackson 3 only
      assertEquals(expected, com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION.toString(), "jackson-databind");
    }
  }

  private static boolean onClassPath(String className) {
    try {
      Class.forName(className, false, BomKeepsBootVersionsTest.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }
}
