/** Default run colors: distinct neighbours first, readable in both themes. */
export const PALETTE = [
  "#3b82f6",
  "#f97316",
  "#10b981",
  "#ef4444",
  "#8b5cf6",
  "#eab308",
  "#ec4899",
  "#06b6d4",
  "#84cc16",
  "#64748b",
  "#6366f1",
  "#b45309",
  "#14b8a6",
  "#e11d48",
  "#a855f7",
  "#22c55e",
  "#0ea5e9",
  "#d946ef",
  "#f59e0b",
  "#0f766e",
];

/**
 * Default colors by creation order within the experiment (the oldest run gets
 * the first color), so the runs of a sweep never share a color until the
 * palette wraps, and a run keeps its color as new runs arrive.
 */
const assigned = new Map<string, string>();

export function assignDefaultColors(runIdsOldestFirst: string[]): void {
  assigned.clear();
  for (let i = 0; i < runIdsOldestFirst.length; i++) assigned.set(runIdsOldestFirst[i], PALETTE[i % PALETTE.length]);
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function defaultColor(runId: string): string {
  return assigned.get(runId) ?? PALETTE[hash(runId) % PALETTE.length];
}

export function runColor(run: { id: string; color: string | null }): string {
  return run.color ?? defaultColor(run.id);
}

/** #rrggbb with an alpha, as an rgba() string. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
