import { useSyncExternalStore } from "react";
import { BAND_KINDS, type BandKind, isGroupField } from "../../../src/contract/groups";
import { type AxisBrush, isFieldId, parseBrush } from "../lib/sweep";

/**
 * Everything a link restores: the view lives in the URL's query string.
 * An x axis is the step, wall time, relative time, or the value of another metric at the same
 * step (`metric:epoch`), as it reads in links and saved workspaces.
 */
export type XAxis = "step" | "wall" | "rel" | `metric:${string}`;
export type Tab = "charts" | "compare" | "sweep";
export type SortOrder = "asc" | "desc";
export type Page = "experiment" | "run";

/** A chart's y range: uPlot's own fit, fixed bounds (either may stay open), or the pct..100-pct percentiles of what is drawn. */
export type YRange =
  | { mode: "auto" }
  | { mode: "manual"; min: number | null; max: number | null }
  | { mode: "pct"; pct: number };

/** What one chart overrides of the toolbar's settings, and where it sits. */
export interface ChartSettings {
  log?: boolean;
  x?: XAxis;
  smooth?: number;
  range?: YRange;
  /** Height in pixels. */
  height?: number;
  /** Columns of the grid it spans. */
  span?: number;
  hide?: boolean;
  pin?: boolean;
}

/** The Sweep tab's choices, by field id (`config:lr`, `metric:val/loss:min`); absent ones take the defaults. */
export interface SweepSettings {
  /** Parallel coordinates' config axes, in order. */
  axes?: string[];
  /** The metric summary of the last axis, which colours the lines; also the correlation table's. */
  metric?: string;
  /** Scatter plot axes. */
  sx?: string;
  sy?: string;
  /** Correlation table order. */
  corrSort?: "rho" | "n";
}

export const CHART_HEIGHTS = { min: 160, max: 640, default: 220 };

export interface ViewState {
  exp: string | null;
  /** The newest runs are charted (minus `hide`), besides the ones chosen in `runs`. */
  newest: boolean;
  /** Runs chosen one by one: charted in every mode. */
  runs: string[];
  /** Newest runs unticked while `newest` is on. */
  hide: string[];
  x: XAxis;
  smooth: number;
  log: boolean;
  zoom: [number, number] | null;
  tab: Tab;
  run: string | null;
  q: string;
  status: string;
  tag: string;
  sort: string;
  order: SortOrder;
  /** Extra table columns (config:KEY, metric:KEY:last|min|max); null means the default choice. */
  cols: string[] | null;
  /** Chart grid columns, 1 to 4; 0 fits as many as the width allows. */
  chartCols: number;
  /** Per-chart settings by metric key. */
  charts: Record<string, ChartSettings>;
  /** The metric filter above the charts. */
  metrics: string;
  /** Collapsed chart groups. */
  collapsed: string[];
  /** Compare configs: only the keys whose values differ. */
  diff: boolean;
  /** The saved workspace last applied or saved, by name. */
  ws: string | null;
  /** "run": the run page of `run`, instead of the experiment with the run's drawer. */
  page: Page;
  /** Group the charted runs (and the table's rows) by these fields (see src/contract/groups.ts); empty: no grouping. */
  groupBy: string[];
  /** What the band around each group's mean spans. */
  band: BandKind;
  /** Draw the group's runs faintly under its mean line. */
  groupRuns: boolean;
  /** Group rows of the table opened to show their runs, by label. */
  groupOpen: string[];
  /** Parallel coordinates' brushed axes: the runs outside them leave the table and the charts. */
  brush: Record<string, AxisBrush>;
  sweep: SweepSettings;
}

/** The part of the view a saved workspace holds: how the charts are arranged, not which runs or rows are shown. */
export const WORKSPACE_FIELDS = [
  "x",
  "smooth",
  "log",
  "chartCols",
  "charts",
  "metrics",
  "collapsed",
  "diff",
  "groupBy",
  "band",
  "groupRuns",
  "groupOpen",
] as const;
export type WorkspaceState = Pick<ViewState, (typeof WORKSPACE_FIELDS)[number]>;

const DEFAULT_VIEW: ViewState = {
  exp: null,
  newest: true,
  runs: [],
  hide: [],
  x: "step",
  smooth: 0,
  log: false,
  zoom: null,
  tab: "charts",
  run: null,
  q: "",
  status: "",
  tag: "",
  sort: "created",
  order: "desc",
  cols: null,
  chartCols: 0,
  charts: {},
  metrics: "",
  collapsed: [],
  diff: false,
  ws: null,
  page: "experiment",
  groupBy: [],
  band: "std",
  groupRuns: false,
  groupOpen: [],
  brush: {},
  sweep: {},
};

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function parseGroupBy(value: unknown): string[] {
  return [...new Set(stringList(value).filter(isGroupField))];
}

function parseBand(value: unknown): BandKind {
  return BAND_KINDS.includes(value as BandKind) ? (value as BandKind) : "std";
}

const X_AXES: readonly string[] = ["step", "wall", "rel"];
const X_METRIC_PREFIX = "metric:";

/** The metric whose values are the x axis, or null for step and time axes. */
export function xMetricOf(x: XAxis): string | null {
  return x.startsWith(X_METRIC_PREFIX) ? x.slice(X_METRIC_PREFIX.length) : null;
}

export function metricXAxis(key: string): XAxis {
  return `${X_METRIC_PREFIX}${key}`;
}

/** An x axis from untrusted input (a link, a saved workspace); null when it is none. */
export function parseXAxis(value: unknown): XAxis | null {
  if (typeof value !== "string") return null;
  if (X_AXES.includes(value)) return value as XAxis;
  return value.length > X_METRIC_PREFIX.length && value.startsWith(X_METRIC_PREFIX) ? (value as XAxis) : null;
}

function finiteOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function parseRange(value: unknown): YRange | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r.mode === "manual") return { mode: "manual", min: finiteOrNull(r.min), max: finiteOrNull(r.max) };
  if (r.mode === "pct") {
    const pct = finiteOrNull(r.pct);
    return pct !== null && pct > 0 && pct < 50 ? { mode: "pct", pct } : undefined;
  }
  return undefined;
}

/** One chart's settings from untrusted JSON (a URL or a saved workspace): what is not understood is dropped. */
function parseChartSettings(value: unknown): ChartSettings | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const c = value as Record<string, unknown>;
  const out: ChartSettings = {};
  if (typeof c.log === "boolean") out.log = c.log;
  const x = parseXAxis(c.x);
  if (x) out.x = x;
  const smooth = finiteOrNull(c.smooth);
  if (smooth !== null) out.smooth = Math.min(0.99, Math.max(0, smooth));
  const range = parseRange(c.range);
  if (range) out.range = range;
  const height = finiteOrNull(c.height);
  if (height !== null) out.height = Math.round(Math.min(CHART_HEIGHTS.max, Math.max(CHART_HEIGHTS.min, height)));
  const span = finiteOrNull(c.span);
  if (span !== null && span >= 1 && span <= 4) out.span = Math.round(span);
  if (c.hide === true) out.hide = true;
  if (c.pin === true) out.pin = true;
  return Object.keys(out).length > 0 ? out : null;
}

export function parseCharts(value: unknown): Record<string, ChartSettings> {
  const out: Record<string, ChartSettings> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  for (const [key, settings] of Object.entries(value)) {
    const parsed = parseChartSettings(settings);
    if (parsed) out[key] = parsed;
  }
  return out;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function clampCols(value: number): number {
  return Number.isInteger(value) && value >= 0 && value <= 4 ? value : 0;
}

/** A saved workspace's state as the view takes it; fields that do not parse keep their defaults. */
export function parseWorkspace(value: unknown): WorkspaceState {
  const w = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const smooth = finiteOrNull(w.smooth) ?? 0;
  return {
    x: parseXAxis(w.x) ?? "step",
    smooth: Math.min(0.99, Math.max(0, smooth)),
    log: w.log === true,
    chartCols: clampCols(Number(w.chartCols ?? 0)),
    charts: parseCharts(w.charts),
    metrics: typeof w.metrics === "string" ? w.metrics : "",
    collapsed: Array.isArray(w.collapsed) ? w.collapsed.filter((g): g is string => typeof g === "string") : [],
    diff: w.diff === true,
    groupBy: parseGroupBy(w.groupBy),
    band: parseBand(w.band),
    groupRuns: w.groupRuns === true,
    groupOpen: stringList(w.groupOpen),
  };
}

export function workspaceOf(view: ViewState): WorkspaceState {
  return {
    x: view.x,
    smooth: view.smooth,
    log: view.log,
    chartCols: view.chartCols,
    charts: view.charts,
    metrics: view.metrics,
    collapsed: view.collapsed,
    diff: view.diff,
    groupBy: view.groupBy,
    band: view.band,
    groupRuns: view.groupRuns,
    groupOpen: view.groupOpen,
  };
}

export function parseSweep(value: unknown): SweepSettings {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const w = value as Record<string, unknown>;
  const out: SweepSettings = {};
  if (Array.isArray(w.axes)) out.axes = w.axes.filter((a): a is string => typeof a === "string" && isFieldId(a));
  for (const key of ["metric", "sx", "sy"] as const) {
    const id = w[key];
    if (typeof id === "string" && isFieldId(id)) out[key] = id;
  }
  if (w.corrSort === "rho" || w.corrSort === "n") out.corrSort = w.corrSort;
  return out;
}

function parseList(value: string | null): string[] | null {
  if (value === null) return null;
  return value === "" ? [] : value.split(",");
}

function parseView(search: string): ViewState {
  const p = new URLSearchParams(search);
  const x = p.get("x");
  const smooth = Number(p.get("smooth") ?? 0);
  const zoomParts = (p.get("zoom") ?? "").split(",").map(Number);
  const zoom: [number, number] | null =
    zoomParts.length === 2 && zoomParts.every(Number.isFinite) && zoomParts[0] < zoomParts[1]
      ? [zoomParts[0], zoomParts[1]]
      : null;
  const runs = parseList(p.get("runs"));
  // Links from before the newest mode: a runs list alone was the whole selection.
  const newest = p.has("newest") ? p.get("newest") !== "0" : runs === null;
  return {
    exp: p.get("exp"),
    newest,
    runs: runs ?? [],
    hide: parseList(p.get("hide")) ?? [],
    x: parseXAxis(x) ?? "step",
    smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    log: p.get("log") === "1",
    zoom,
    tab: p.get("tab") === "compare" || p.get("tab") === "sweep" ? (p.get("tab") as Tab) : "charts",
    run: p.get("run"),
    q: p.get("q") ?? "",
    status: p.get("status") ?? "",
    tag: p.get("tag") ?? "",
    sort: p.get("sort") ?? DEFAULT_VIEW.sort,
    order: p.get("order") === "asc" ? "asc" : "desc",
    cols: parseList(p.get("cols")),
    chartCols: clampCols(Number(p.get("ccols") ?? 0)),
    charts: parseCharts(parseJson(p.get("charts"))),
    metrics: p.get("metrics") ?? "",
    collapsed: parseList(p.get("collapsed")) ?? [],
    diff: p.get("diff") === "1",
    ws: p.get("ws"),
    page: p.get("page") === "run" && p.get("run") ? "run" : "experiment",
    groupBy: parseGroupBy(parseJson(p.get("gby"))),
    band: parseBand(p.get("band")),
    groupRuns: p.get("gruns") === "1",
    groupOpen: stringList(parseJson(p.get("gopen"))),
    brush: parseBrush(parseJson(p.get("brush"))),
    sweep: parseSweep(parseJson(p.get("sweep"))),
  };
}

function serializeView(view: ViewState, keep: URLSearchParams): string {
  const p = new URLSearchParams();
  const token = keep.get("token");
  if (token) p.set("token", token);
  if (view.exp) p.set("exp", view.exp);
  if (!view.newest) p.set("newest", "0");
  else if (view.runs.length > 0) p.set("newest", "1");
  if (view.runs.length > 0 || !view.newest) p.set("runs", view.runs.join(","));
  if (view.newest && view.hide.length > 0) p.set("hide", view.hide.join(","));
  if (view.x !== "step") p.set("x", view.x);
  if (view.smooth > 0) p.set("smooth", String(view.smooth));
  if (view.log) p.set("log", "1");
  if (view.zoom) p.set("zoom", `${view.zoom[0]},${view.zoom[1]}`);
  if (view.tab !== "charts") p.set("tab", view.tab);
  if (view.run) p.set("run", view.run);
  if (view.q) p.set("q", view.q);
  if (view.status) p.set("status", view.status);
  if (view.tag) p.set("tag", view.tag);
  if (view.sort !== DEFAULT_VIEW.sort) p.set("sort", view.sort);
  if (view.order !== DEFAULT_VIEW.order) p.set("order", view.order);
  if (view.cols !== null) p.set("cols", view.cols.join(","));
  if (view.chartCols > 0) p.set("ccols", String(view.chartCols));
  if (Object.keys(view.charts).length > 0) p.set("charts", JSON.stringify(view.charts));
  if (view.metrics) p.set("metrics", view.metrics);
  if (view.collapsed.length > 0) p.set("collapsed", view.collapsed.join(","));
  if (view.diff) p.set("diff", "1");
  if (view.ws) p.set("ws", view.ws);
  if (view.page === "run" && view.run) p.set("page", "run");
  // Config keys and group labels may hold commas: JSON lists.
  if (view.groupBy.length > 0) p.set("gby", JSON.stringify(view.groupBy));
  if (view.band !== DEFAULT_VIEW.band) p.set("band", view.band);
  if (view.groupRuns) p.set("gruns", "1");
  if (view.groupOpen.length > 0) p.set("gopen", JSON.stringify(view.groupOpen));
  if (Object.keys(view.brush).length > 0) p.set("brush", JSON.stringify(view.brush));
  if (Object.keys(view.sweep).length > 0) p.set("sweep", JSON.stringify(view.sweep));
  const text = p.toString().replace(/%2C/g, ",").replace(/%2F/g, "/").replace(/%3A/g, ":");
  return text ? `?${text}` : "";
}

let current = parseView(window.location.search);
const listeners = new Set<() => void>();

window.addEventListener("popstate", () => {
  current = parseView(window.location.search);
  for (const l of listeners) l();
});

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getView(): ViewState {
  return current;
}

/** Equal view values: the same primitive, or lists and records with the same JSON. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Changes the view; push adds a history entry (for moves a person expects Back to undo). */
export function updateView(patch: Partial<ViewState> | ((view: ViewState) => Partial<ViewState>), push = false): void {
  const changes = typeof patch === "function" ? patch(current) : patch;
  // A patch that changes nothing (every synced chart reports the same zoom) renders nothing again.
  if (Object.entries(changes).every(([key, value]) => sameValue(current[key as keyof ViewState], value))) return;
  const next = { ...current, ...changes };
  current = next;
  const url = `${window.location.pathname}${serializeView(next, new URLSearchParams(window.location.search))}`;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  for (const l of listeners) l();
}

export function useView(): ViewState {
  return useSyncExternalStore(subscribe, getView);
}
