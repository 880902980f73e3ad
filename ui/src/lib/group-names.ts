/** How a group's label reads in the table, the legend and the tooltip. */

import { type GroupedRun, groupLabel, valueText } from "../../../src/contract/groups.js";
import type { JsonValue } from "../../../src/types.js";

/** `n` at `digits` significant digits, never fewer than its whole part has. */
function rounded(n: number, digits: number): string {
  const whole = Math.abs(n) >= 1 ? Math.floor(Math.log10(Math.abs(n))) + 1 : 0;
  return String(Number(n.toPrecision(Math.min(17, Math.max(digits, whole)))));
}

/**
 * Distinct names of groups as people read them, one per group (`runs` holds a run of each): the
 * group's label with its numbers at 6 significant digits, and more only in the names that would
 * otherwise read alike. A value computed in floating point (`lr=0.020000000000000004`) reads
 * "lr=0.02", while two groups whose values differ only in the 17th digit keep every digit, so no
 * two groups ever show under one name. Strings, lists and whole numbers read as in the label.
 */
export function groupNames(runs: readonly GroupedRun[], fields: readonly string[]): string[] {
  const digits = runs.map(() => 6);
  const name = (run: GroupedRun, d: number) =>
    groupLabel(run, fields, (v: JsonValue | undefined) =>
      typeof v === "number" && d < 17 ? rounded(v, d) : valueText(v),
    );
  for (;;) {
    const names = runs.map((run, i) => name(run, digits[i]));
    const uses = new Map<string, number>();
    for (const n of names) uses.set(n, (uses.get(n) ?? 0) + 1);
    let raised = false;
    for (let i = 0; i < names.length; i++) {
      if ((uses.get(names[i]) ?? 0) > 1 && digits[i] < 17) {
        digits[i]++;
        raised = true;
      }
    }
    if (!raised) return names;
  }
}
