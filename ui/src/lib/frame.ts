import { recordFrame } from "../state/perf";

/**
 * Work to redo at most once per animation frame (chart redraws), run together
 * in one frame up to a budget: what does not fit waits for the next frame, first
 * in line, so one interaction that touches every chart (smoothing, zoom,
 * selection) never holds the main thread for a whole frame or more.
 */
const pending = new Set<() => void>();
let scheduled = false;
/**
 * Script milliseconds per frame for these jobs after the first. Low on purpose: a
 * chart's canvas is rasterised when the frame commits, after the script, at several
 * times the script's cost without a GPU (a 3 ms redraw rasterises in 10 ms and more),
 * so one chart redraws per frame and only jobs that drew next to nothing share it.
 */
const FRAME_BUDGET_MS = 1;

function run(): void {
  scheduled = false;
  const start = performance.now();
  const jobs = [...pending];
  for (let i = 0; i < jobs.length; i++) {
    if (i > 0 && performance.now() - start > FRAME_BUDGET_MS) break;
    pending.delete(jobs[i]);
    jobs[i]();
  }
  recordFrame(performance.now() - start);
  if (pending.size > 0) schedule();
}

function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(run);
  }
}

export function onNextFrame(job: () => void): void {
  pending.add(job);
  schedule();
}

export function cancelFrame(job: () => void): void {
  pending.delete(job);
}
