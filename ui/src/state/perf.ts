/**
 * Optional timing of the live path (?perf in the URL): the benchmarks read
 * window.__stonksPerf to get main-thread time per event and per redraw.
 */
export const perfEnabled = new URLSearchParams(window.location.search).has("perf");

interface PerfLog {
  handler: number[];
  frame: number[];
  render: number[];
  events: number;
  points: number;
  marks: Record<string, number>;
  /** How many times each counted component rendered (see countRender). */
  renders: Record<string, number>;
}

const log: PerfLog = { handler: [], frame: [], render: [], events: 0, points: 0, marks: {}, renders: {} };
if (perfEnabled) (window as unknown as { __stonksPerf: PerfLog }).__stonksPerf = log;

export function recordHandler(ms: number, points: number): void {
  if (!perfEnabled) return;
  log.handler.push(ms);
  log.events++;
  log.points += points;
}

export function recordFrame(ms: number): void {
  if (perfEnabled) log.frame.push(ms);
}

/** A React render and commit of the page (the table after live summary updates, say). */
export function recordRender(ms: number): void {
  if (perfEnabled) log.render.push(ms);
}

/** Remembers the first time something happened (for example the first chart painted). */
export function markOnce(name: string): void {
  if (perfEnabled && log.marks[name] === undefined) log.marks[name] = performance.now();
}

/** Counts a render of a component that should render only when its own inputs change. */
export function countRender(name: string): void {
  if (perfEnabled) log.renders[name] = (log.renders[name] ?? 0) + 1;
}
