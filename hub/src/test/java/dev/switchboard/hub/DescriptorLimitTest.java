package dev.switchboard.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

class DescriptorLimitTest {

  @Test
  void defaultMaxConnections_leavesAQuarterOfTheLimitAtLeast64_belowTheFreeDescriptors() {
    assertEquals(256 - 40 - 64, DescriptorLimit.defaultMaxConnections(256, 40));
    assertEquals(1024 - 40 - 256, DescriptorLimit.defaultMaxConnections(1024, 40));
    assertEquals(2048 - 30 - 512, DescriptorLimit.defaultMaxConnections(2048, 30));
    assertEquals(65_536 - 100 - 16_384, DescriptorLimit.defaultMaxConnections(65_536, 100));
    // An unknown open count counts as none.
    assertEquals(1024 - 256, DescriptorLimit.defaultMaxConnections(1024, -1));
  }

  @Test
  void defaultMaxConnections_isAtMost100000_andAtLeast1() {
    assertEquals(100_000, DescriptorLimit.defaultMaxConnections(1 << 20, 50));
    assertEquals(100_000, DescriptorLimit.defaultMaxConnections(Long.MAX_VALUE, 50));
    assertEquals(1, DescriptorLimit.defaultMaxConnections(64, 10));
    assertEquals(1, DescriptorLimit.defaultMaxConnections(256, 250));
  }

  @Test
  void unknownLimit_givesTheFixedDefaults() {
    assertEquals(100_000, DescriptorLimit.defaultMaxConnections(-1, -1));
    assertEquals(100_000, DescriptorLimit.defaultMaxConnections(0, 12));
    assertEquals(Integer.MAX_VALUE, DescriptorLimit.containerMaxConnections(-1, -1));
  }

  @Test
  void containerMaxConnections_liesBetweenTheHubsLimitAndTheFreeDescriptors() {
    assertEquals(256 - 40 - 32, DescriptorLimit.containerMaxConnections(256, 40));
    assertEquals(1024 - 40 - 128, DescriptorLimit.containerMaxConnections(1024, 40));
    assertEquals(Integer.MAX_VALUE, DescriptorLimit.containerMaxConnections(Long.MAX_VALUE, 40));
    for (long limit : new long[] {128, 256, 1024, 2048, 4096, 65_536, 1 << 20}) {
      for (long open : new long[] {0, 20, 60, 100}) {
        int hub = DescriptorLimit.defaultMaxConnections(limit, open);
        int container = DescriptorLimit.containerMaxConnections(limit, open);
        if (hub > 1) {
          assertTrue(container > hub, limit + "/" + open + ": container " + container + " <= hub " + hub);
        }
        assertTrue(container < limit - open || container == 1,
            limit + "/" + open + ": container " + container + " leaves no descriptor free");
      }
    }
  }

  @Test
  void hubDefault_followsTheProcessLimitAndOpenDescriptors() {
    long limit = DescriptorLimit.processLimit();
    long open = DescriptorLimit.openDescriptors();
    assumeTrue(limit > 0, "the platform reports no descriptor limit");
    assertTrue(open > 0 && open < limit, "open descriptors " + open + " of " + limit);
    int expected = DescriptorLimit.defaultMaxConnections(limit, open);
    Hub hub = Hub.builder().build();
    try {
      // Other threads may open or close a few descriptors in between.
      assertTrue(Math.abs(hub.maxConnections() - expected) <= 16,
          "hub default " + hub.maxConnections() + ", expected about " + expected);
    } finally {
      hub.shutdown();
    }
  }
}
