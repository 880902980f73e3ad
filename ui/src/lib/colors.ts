/**
 * Default run colors, readable on both themes' backgrounds and at least 20
 * CIEDE2000 apart from each other (tests/unit/ui-lib.test.ts measures both).
 */
export const PALETTE = [
  "#399aef",
  "#ed621d",
  "#1a9353",
  "#970da0",
  "#edb51d",
  "#0fb1bd",
  "#ef395d",
  "#3951ef",
  "#a4d912",
  "#864727",
  "#ef39cb",
  "#277386",
  "#931a42",
  "#867327",
];

/** What a run's colour is chosen from (the REST API's run JSON has these fields). */
export interface ColoredRun {
  seq: number;
  color: string | null;
  color_index: number | null;
}

/**
 * A run's default color is the palette index stored with it (runs.color_index,
 * chosen once when the run is created: one the experiment's 13 newest runs do
 * not use), so it never changes when other runs are created or deleted, and an
 * experiment's newest runs all differ. Runs from before that column follow
 * their database number (runs.seq: given at creation, never reused).
 */
export function paletteIndex(run: Pick<ColoredRun, "seq" | "color_index">): number {
  const n = PALETTE.length;
  const index = run.color_index ?? run.seq;
  return ((index % n) + n) % n;
}

export function defaultColor(run: Pick<ColoredRun, "seq" | "color_index">): string {
  return PALETTE[paletteIndex(run)];
}

/** A color the user picked (runs.color) wins over the default. */
export function runColor(run: ColoredRun): string {
  return run.color ?? defaultColor(run);
}

/** #rrggbb with an alpha, as an rgba() string. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** CIELAB (D65) of a #rrggbb color. */
export function toLab(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const x = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 0.95047;
  const y = r * 0.2126 + g * 0.7152 + b * 0.0722;
  const z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

/** CIEDE2000 color difference (Sharma, Wu and Dalal's formulation). */
export function deltaE2000(hexA: string, hexB: string): number {
  const [l1, a1, b1] = toLab(hexA);
  const [l2, a2, b2] = toLab(hexB);
  const rad = Math.PI / 180;
  const cBar = (Math.hypot(a1, b1) + Math.hypot(a2, b2)) / 2;
  const g = 0.5 * (1 - Math.sqrt(cBar ** 7 / (cBar ** 7 + 25 ** 7)));
  const a1p = (1 + g) * a1;
  const a2p = (1 + g) * a2;
  const c1p = Math.hypot(a1p, b1);
  const c2p = Math.hypot(a2p, b2);
  const hue = (b: number, a: number) => {
    if (a === 0 && b === 0) return 0;
    const h = Math.atan2(b, a) / rad;
    return h < 0 ? h + 360 : h;
  };
  const h1 = hue(b1, a1p);
  const h2 = hue(b2, a2p);
  let dh = 0;
  if (c1p * c2p !== 0) {
    dh = h2 - h1;
    if (dh > 180) dh -= 360;
    else if (dh < -180) dh += 360;
  }
  const dL = l2 - l1;
  const dC = c2p - c1p;
  const dH = 2 * Math.sqrt(c1p * c2p) * Math.sin((dh * rad) / 2);
  const lBar = (l1 + l2) / 2;
  const cBarP = (c1p + c2p) / 2;
  let hBar = h1 + h2;
  if (c1p * c2p !== 0) {
    if (Math.abs(h1 - h2) > 180) hBar = h1 + h2 < 360 ? (h1 + h2 + 360) / 2 : (h1 + h2 - 360) / 2;
    else hBar = (h1 + h2) / 2;
  }
  const t =
    1 -
    0.17 * Math.cos((hBar - 30) * rad) +
    0.24 * Math.cos(2 * hBar * rad) +
    0.32 * Math.cos((3 * hBar + 6) * rad) -
    0.2 * Math.cos((4 * hBar - 63) * rad);
  const dTheta = 30 * Math.exp(-(((hBar - 275) / 25) ** 2));
  const rC = 2 * Math.sqrt(cBarP ** 7 / (cBarP ** 7 + 25 ** 7));
  const sL = 1 + (0.015 * (lBar - 50) ** 2) / Math.sqrt(20 + (lBar - 50) ** 2);
  const sC = 1 + 0.045 * cBarP;
  const sH = 1 + 0.015 * cBarP * t;
  const rT = -Math.sin(2 * dTheta * rad) * rC;
  return Math.sqrt((dL / sL) ** 2 + (dC / sC) ** 2 + (dH / sH) ** 2 + rT * (dC / sC) * (dH / sH));
}
