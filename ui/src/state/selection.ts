/**
 * Which runs are charted: the newest NEWEST_COUNT runs while the "newest" mode
 * is on (minus the ones unticked), plus every run chosen one by one. Choosing
 * a run adds it; it never swaps the newest runs out.
 */
export const NEWEST_COUNT = 10;

/** The selection fields of the view (state/view.ts). */
export interface Selection {
  newest: boolean;
  runs: string[];
  hide: string[];
}

/** The charted run ids, in the order of `runIdsNewestFirst`. */
export function selectedRunIds(selection: Selection, runIdsNewestFirst: string[]): string[] {
  const chosen = new Set(selection.runs);
  const hidden = new Set(selection.hide);
  return runIdsNewestFirst.filter(
    (id, index) => chosen.has(id) || (selection.newest && index < NEWEST_COUNT && !hidden.has(id)),
  );
}

/** The change that ticks (on) or unticks each of `ids`. */
export function setSelected(
  selection: Selection,
  ids: string[],
  on: boolean,
  runIdsNewestFirst: string[],
): Pick<Selection, "runs" | "hide"> {
  const runs = new Set(selection.runs);
  const hide = new Set(selection.hide);
  const newest = new Set(runIdsNewestFirst.slice(0, NEWEST_COUNT));
  for (const id of ids) {
    if (on) {
      hide.delete(id);
      if (!(selection.newest && newest.has(id))) runs.add(id);
    } else {
      runs.delete(id);
      if (selection.newest && newest.has(id)) hide.add(id);
    }
  }
  return { runs: [...runs], hide: [...hide] };
}
