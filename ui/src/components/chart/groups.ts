/** Grouped charts: which runs form which group, each group's colour, and the aggregates fetched per metric key. */
import { type GroupedRun, groupRuns, type RunGroup } from "../../../../src/contract/groups";
import type { Run } from "../../api/types";
import { runColor } from "../../lib/colors";

export function groupedRun(run: Run): GroupedRun {
  return { group: run.group, jobType: run.job_type, tags: run.tags, config: run.config };
}

export interface ColoredGroup extends RunGroup<Run> {
  color: string;
}

/**
 * Groups of the runs, each coloured like its oldest run (smallest seq), so a
 * group keeps its colour as newer runs join it and in the table and the charts alike.
 */
export function coloredGroups(runs: readonly Run[], fields: readonly string[]): ColoredGroup[] {
  return groupRuns(runs, fields, groupedRun).map((g) => {
    const oldest = g.runs.reduce((a, b) => (b.seq < a.seq ? b : a));
    return { ...g, color: runColor(oldest) };
  });
}
