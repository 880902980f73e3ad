/** How a group's label reads in the table, the legend and the tooltip. */

/** A number written as a whole value of a label's field (`lr=0.020000000000000004`), with a fraction or an exponent. */
const FIELD_NUMBER = /=(-?\d+(?:\.\d+(?:e[+-]?\d+)?|e[+-]?\d+))(?= · |$)/g;

/** `text` (a number) at `digits` significant digits, never fewer than its whole part has. */
function rounded(text: string, digits: number): string {
  const n = Number(text);
  const whole = Math.abs(n) >= 1 ? Math.floor(Math.log10(Math.abs(n))) + 1 : 0;
  return String(Number(n.toPrecision(Math.min(17, Math.max(digits, whole)))));
}

/**
 * Distinct labels as people read them: their numbers at 6 significant digits, and more only in
 * the labels that would otherwise read alike. A value computed in floating point
 * (`lr=0.020000000000000004`) reads "lr=0.02", while two groups whose values differ only in the
 * 17th digit keep every digit, so no two groups ever show under one name.
 */
export function groupNames(labels: readonly string[]): string[] {
  const digits = labels.map(() => 6);
  for (;;) {
    const names = labels.map((label, i) =>
      digits[i] >= 17 ? label : label.replace(FIELD_NUMBER, (_, n: string) => `=${rounded(n, digits[i])}`),
    );
    const uses = new Map<string, number>();
    for (const name of names) uses.set(name, (uses.get(name) ?? 0) + 1);
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
