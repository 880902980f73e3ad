/**
 * How the charts are grouped and labelled: a group per key prefix (the text before the first
 * "/"), training curves first, system metrics (sys/*, logged by hardware=True) last, on a
 * time axis of their own and with their units on the y axis.
 */

/** The x axes of state/view.ts, named here so this module stays free of the browser-only view state. */
type XAxis = "step" | "wall" | "rel" | `metric:${string}`;

export const SYSTEM_GROUP = "sys";
const UNGROUPED = "other";
/** Training curves first, then validation and test, then the rest by name. */
const FIRST_GROUPS = ["train", "training", "val", "valid", "validation", "eval", "test"];

/** The chart group of a metric key: the prefix before the first "/". */
export function groupOf(key: string): string {
  const slash = key.indexOf("/");
  return slash > 0 ? key.slice(0, slash) : UNGROUPED;
}

/** Known training groups, the rest, ungrouped keys, then system metrics. */
function groupRank(group: string): number {
  const i = FIRST_GROUPS.indexOf(group.toLowerCase());
  if (i >= 0) return i;
  if (group === SYSTEM_GROUP) return FIRST_GROUPS.length + 2;
  return group === UNGROUPED ? FIRST_GROUPS.length + 1 : FIRST_GROUPS.length;
}

export function compareGroups(a: string, b: string): number {
  return groupRank(a) - groupRank(b) || a.localeCompare(b);
}

export function isSystemMetric(key: string): boolean {
  return key.startsWith(`${SYSTEM_GROUP}/`);
}

/** Key endings of the system metrics and the unit their values are in. */
const SYSTEM_UNITS: [suffix: string, unit: string][] = [
  ["_percent", "%"],
  ["_util", "%"],
  ["_gb", "GB"],
  ["_mb", "MB"],
  ["_temp_c", "°C"],
  ["_power_w", "W"],
];

/** The unit a system metric is logged in (for its y axis); null for a key whose unit is not known. */
export function unitOf(key: string): string | null {
  if (!isSystemMetric(key)) return null;
  for (const [suffix, unit] of SYSTEM_UNITS) if (key.endsWith(suffix)) return unit;
  return null;
}

/**
 * The x axis a chart has when it sets none itself. System metrics are sampled at their own
 * steps (the sample count), which mean nothing beside training steps or a training metric
 * joined by step: they follow the toolbar only when it shows time.
 */
export function defaultXAxis(key: string, toolbar: XAxis): XAxis {
  return toolbar !== "wall" && toolbar !== "rel" && isSystemMetric(key) ? "wall" : toolbar;
}
