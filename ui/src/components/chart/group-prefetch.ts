/**
 * The first grouped charts' aggregates, asked for the moment the run list arrives: the same
 * requests the charts make once rendered (fetchGroupLines remembers them), sent before the page
 * renders its table and charts, so the server aggregates while the page draws.
 */

import { defaultXAxis } from "../../lib/metric-groups";
import { brushedRuns, chartedRuns, chartSections, metricKeysOf } from "../../state/charted";
import type { RunsSnapshot } from "../../state/run-store";
import type { ViewState } from "../../state/view";
import { coloredGroups, fetchGroupLines } from "./groups";

/** At most this many charts, the first in the page's order: about a row of the grid, the ones near the top. */
export const GROUP_PREFETCH_CHARTS = 4;

/** The metric keys whose grouped aggregates were asked for (none when the view shows no grouped charts). */
export function prefetchGroupCharts(view: ViewState, snapshot: RunsSnapshot): string[] {
  if (snapshot.status !== "ready" || snapshot.experimentKey !== view.exp) return [];
  if (view.groupBy.length === 0 || view.tab !== "charts" || (view.page === "run" && view.run)) return [];
  const runs = brushedRuns(snapshot.runs, snapshot.summaries, view.brush);
  const { selectedRuns } = chartedRuns(view, runs);
  const groups = coloredGroups(selectedRuns, view.groupBy);
  if (groups.length === 0) return [];
  const { pinned, groups: sections } = chartSections(metricKeysOf(selectedRuns, snapshot.metricKeys), view);
  const open = sections.filter(([group]) => !view.collapsed.includes(group)).flatMap(([, keys]) => keys);
  const keys = [...pinned, ...open].slice(0, GROUP_PREFETCH_CHARTS);
  for (const key of keys) {
    const x = view.charts[key]?.x ?? defaultXAxis(key, view.x);
    // A failure is the chart's to show when it asks again: the cache forgets a failed request.
    fetchGroupLines(key, groups, x === "step" ? view.zoom : null).catch(() => {});
  }
  return keys;
}
