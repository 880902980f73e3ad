import { useSyncExternalStore } from "react";

/** Everything a link restores: the view lives in the URL's query string. */
export type XAxis = "step" | "wall" | "rel";
export type Tab = "charts" | "compare";
export type SortOrder = "asc" | "desc";

export interface ViewState {
  exp: string | null;
  /** Selected run ids; null means "the newest runs" (nothing chosen yet). */
  runs: string[] | null;
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
}

const DEFAULT_VIEW: ViewState = {
  exp: null,
  runs: null,
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
};

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
  return {
    exp: p.get("exp"),
    runs: parseList(p.get("runs")),
    x: x === "wall" || x === "rel" ? x : "step",
    smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    log: p.get("log") === "1",
    zoom,
    tab: p.get("tab") === "compare" ? "compare" : "charts",
    run: p.get("run"),
    q: p.get("q") ?? "",
    status: p.get("status") ?? "",
    tag: p.get("tag") ?? "",
    sort: p.get("sort") ?? DEFAULT_VIEW.sort,
    order: p.get("order") === "asc" ? "asc" : "desc",
    cols: parseList(p.get("cols")),
  };
}

function serializeView(view: ViewState, keep: URLSearchParams): string {
  const p = new URLSearchParams();
  const token = keep.get("token");
  if (token) p.set("token", token);
  if (view.exp) p.set("exp", view.exp);
  if (view.runs !== null) p.set("runs", view.runs.join(","));
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

/** Changes the view; push adds a history entry (for moves a person expects Back to undo). */
export function updateView(patch: Partial<ViewState> | ((view: ViewState) => Partial<ViewState>), push = false): void {
  const next = { ...current, ...(typeof patch === "function" ? patch(current) : patch) };
  current = next;
  const url = `${window.location.pathname}${serializeView(next, new URLSearchParams(window.location.search))}`;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  for (const l of listeners) l();
}

export function useView(): ViewState {
  return useSyncExternalStore(subscribe, getView);
}
