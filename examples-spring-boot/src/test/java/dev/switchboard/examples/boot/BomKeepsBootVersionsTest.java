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
    // Read reflectively: a Boot 4 app may have Jackson 3's databind only.
    String databind = versionOf("com.fasterxml.jackson.databind.cfg.PackageVersion");
    if (databind != null) {
      assertEquals(expected, databind, "jackson-databind");
    }
  }

  private static String versionOf(String packageVersionClass) {
    try {
      Class<?> c = Class.forName(packageVersionClass, true, BomKeepsBootVersionsTest.class.getClassLoader());
      return String.valueOf(c.getField("VERSION").get(null));
    } catch (ClassNotFoundException e) {
      return null;
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }
}
