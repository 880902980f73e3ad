// The grouping, units and default x axis of the chart groups (ui/src/lib/metric-groups.ts).
import { describe, expect, it } from "vitest";
import { compareGroups, defaultXAxis, groupOf, unitOf } from "../../ui/src/lib/metric-groups.js";

describe("metric groups", () => {
  it("orders training groups first, then the rest, ungrouped keys, and system metrics last", () => {
    const groups = ["sys", "other", "zeta", "val", "alpha", "train"].sort(compareGroups);
    expect(groups).toEqual(["train", "val", "alpha", "zeta", "other", "sys"]);
    expect(groupOf("sys/gpu0_util")).toBe("sys");
    expect(groupOf("epoch")).toBe("other");
  });

  it("names the unit of every system metric the SDKs log, and of no other key", () => {
    expect(
      ["cpu_percent", "ram_used_gb", "disk_write_mb", "gpu1_util", "gpu1_temp_c", "gpu1_power_w", "proc_rss_gb"].map(
        (name) => unitOf(`sys/${name}`),
      ),
    ).toEqual(["%", "GB", "MB", "%", "°C", "W", "GB"]);
    expect(unitOf("train/mem_gb")).toBeNull();
    expect(unitOf("sys/tokens")).toBeNull();
  });

  it("puts system metrics on wall time while the toolbar shows steps, and follows a time toolbar", () => {
    expect(defaultXAxis("sys/cpu_percent", "step")).toBe("wall");
    expect(defaultXAxis("sys/cpu_percent", "rel")).toBe("rel");
    expect(defaultXAxis("train/loss", "step")).toBe("step");
  });

  it("keeps system metrics on wall time while the toolbar shows a metric (their steps are sample counts)", () => {
    expect(defaultXAxis("sys/cpu_percent", "metric:epoch")).toBe("wall");
    expect(defaultXAxis("train/loss", "metric:epoch")).toBe("metric:epoch");
  });
});
