/**
 * Axis labels for the charts. uPlot picks where ticks go; these decide what
 * they read, so that neighbouring labels never read alike however far one
 * zooms in, and a log axis never reads "0" (uPlot hands hidden splits over as
 * null, which a plain number formatter turns into 0).
 */

const MAX_EXTRA_DECIMALS = 6;

/** Decimal places that resolve a spacing of `step`: 0.5 needs 1, 0.02 needs 2, 5 needs 0. */
function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

function stripZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

function fixed(value: number, decimals: number): string {
  const text = stripZeros(value.toFixed(decimals));
  return text === "-0" ? "0" : text;
}

function exponential(value: number, decimals: number): string {
  if (value === 0) return "0";
  const [mantissa, exp] = value.toExponential(decimals).split("e");
  return `${stripZeros(mantissa)}e${exp.replace("+", "")}`;
}

/** Formats every value with `extra` more decimals than the spacing strictly needs. */
function linearLabels(values: number[], step: number, extra: number): string[] {
  const maxAbs = Math.max(...values.map(Math.abs));
  if (maxAbs >= 1e9 || (maxAbs > 0 && maxAbs < 1e-3)) {
    const exp = Math.floor(Math.log10(maxAbs));
    const decimals = Math.max(0, exp - Math.floor(Math.log10(step) + 1e-9)) + extra;
    return values.map((v) => exponential(v, decimals));
  }
  for (const [scale, suffix, from] of [
    [1e6, "M", 1e6],
    [1e3, "k", 1e4],
  ] as const) {
    if (maxAbs >= from && step >= scale / 10) {
      const decimals = decimalsFor(step / scale) + extra;
      return values.map((v) => (v === 0 ? "0" : `${fixed(v / scale, decimals)}${suffix}`));
    }
  }
  const decimals = decimalsFor(step) + extra;
  return values.map((v) => fixed(v, decimals));
}

/**
 * Labels for the splits of a linear axis, as precise as their spacing needs
 * ("404.5k", "4.12e-4"); a null split (one uPlot hides) gets no label.
 */
export function linearTickLabels(splits: readonly (number | null)[]): string[] {
  const values = splits.filter((v): v is number => v !== null && Number.isFinite(v));
  if (values.length === 0) return splits.map(() => "");
  let step = Number.POSITIVE_INFINITY;
  for (let i = 1; i < values.length; i++) {
    const d = Math.abs(values[i] - values[i - 1]);
    if (d > 0 && d < step) step = d;
  }
  if (!Number.isFinite(step)) step = Math.abs(values[0]) || 1;
  let labels = linearLabels(values, step, 0);
  for (let extra = 1; extra <= MAX_EXTRA_DECIMALS && !readsTrue(labels, values, step); extra++) {
    labels = linearLabels(values, step, extra);
  }
  let k = 0;
  return splits.map((v) => (v !== null && Number.isFinite(v) ? labels[k++] : ""));
}

function labelValue(label: string): number {
  const scale = label.endsWith("k") ? 1e3 : label.endsWith("M") ? 1e6 : 1;
  return Number(scale === 1 ? label : label.slice(0, -1)) * scale;
}

/** Labels all different, each reading its split's value (0.25 must not read "0.3"). */
function readsTrue(labels: string[], values: number[], step: number): boolean {
  if (new Set(labels).size !== labels.length) return false;
  return labels.every((label, i) => Math.abs(labelValue(label) - values[i]) <= step * 1e-6);
}

function isDecade(value: number): boolean {
  const e = Math.log10(value);
  return Math.abs(e - Math.round(e)) < 1e-9;
}

function leadingDigit(value: number): number {
  return Number(value.toExponential(0)[0]);
}

/** One log-axis value: plain between 0.001 and 1000, else "1e-5", "2e6". */
export function formatLogValue(value: number): string {
  const exp = Math.floor(Math.log10(value) + 1e-9);
  if (exp >= -3 && exp <= 3) return String(Number(value.toPrecision(2)));
  return exponential(value, 1);
}

/** At most this many labelled decades on one axis; more are thinned to every second, third... */
const MAX_DECADE_LABELS = 6;

/**
 * Labels for the splits of a log axis (uPlot puts a split at each 1..9 × 10^k):
 * the decades are labelled and the minor ticks left blank; an axis holding
 * fewer than two decades labels 1, 2 and 5 (or every split when even those are
 * too few). Never "0", whatever the splits hold.
 */
export function logTickLabels(splits: readonly (number | null)[]): string[] {
  const positive = splits.map((v) => (v !== null && Number.isFinite(v) && v > 0 ? v : null));
  const decades = positive.filter((v): v is number => v !== null && isDecade(v));
  let keep: (v: number) => boolean;
  if (decades.length >= 2) {
    const every = Math.ceil(decades.length / MAX_DECADE_LABELS);
    const kept = new Set(decades.filter((_, i) => i % every === 0));
    keep = (v) => kept.has(v);
  } else {
    const main = positive.filter((v): v is number => v !== null && [1, 2, 5].includes(leadingDigit(v)));
    keep = main.length >= 2 ? (v) => [1, 2, 5].includes(leadingDigit(v)) : () => true;
  }
  return positive.map((v) => (v !== null && keep(v) ? formatLogValue(v) : ""));
}

/** Tick spacings for a step axis: whole steps only (a step is an integer). */
export const STEP_INCRS = (() => {
  const out: number[] = [];
  for (let mag = 1; mag <= 1e15; mag *= 10) out.push(mag, 2 * mag, 5 * mag);
  return out;
})();

/** Width in CSS pixels a y axis needs for its longest label (11px system font, about 6.5 px a character). */
export function axisWidth(labels: readonly string[] | null | undefined): number {
  const longest = Math.max(1, ...(labels ?? []).map((l) => l.length));
  return Math.max(36, Math.ceil(longest * 6.5) + 16);
}
