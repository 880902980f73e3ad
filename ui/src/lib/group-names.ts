/** How group labels and config values read in the table, the legend and the tooltip. */

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
  return distinctTexts(runs, (run, d) =>
    groupLabel(run, fields, (v: JsonValue | undefined) => (typeof v === "number" ? numberText(v, d) : valueText(v))),
  );
}

/**
 * How each of a column's numbers reads (the rule of groupNames, value by value): at 6
 * significant digits, more only for numbers that would otherwise read like another number of the
 * column, so two different values never show alike. Whole numbers read as they are.
 */
export function readableNumbers(numbers: Iterable<number>): Map<number, string> {
  const distinct = [...new Set(numbers)].filter(Number.isFinite);
  const texts = distinctTexts(distinct, numberText);
  return new Map(distinct.map((n, i) => [n, texts[i]]));
}

/** `n` at `digits` significant digits (rounded), or exactly from 17 on. */
function numberText(n: number, digits: number): string {
  return digits < 17 ? rounded(n, digits) : String(n);
}

/**
 * Each item written at 6 significant digits, and at one more for the items whose texts are alike,
 * until no two texts are (at 17 a number is written exactly, so distinct items end distinct).
 */
function distinctTexts<T>(items: readonly T[], write: (item: T, digits: number) => string): string[] {
  const digits = items.map(() => 6);
  for (;;) {
    const texts = items.map((item, i) => write(item, digits[i]));
    const uses = new Map<string, number>();
    for (const t of texts) uses.set(t, (uses.get(t) ?? 0) + 1);
    let raised = false;
    for (let i = 0; i < texts.length; i++) {
      if ((uses.get(texts[i]) ?? 0) > 1 && digits[i] < 17) {
        digits[i]++;
        raised = true;
      }
    }
    if (!raised) return texts;
  }
}
