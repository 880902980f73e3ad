import { useEffect, useState } from "react";
import { recordFrame } from "../state/perf";

/**
 * Work to redo at most once per animation frame (chart redraws), run together in one frame
 * up to a budget: what does not fit waits for the next frame, first in line, so one
 * interaction that touches every chart (smoothing, zoom, selection) never holds the main
 * thread for a whole frame or more.
 *
 * A job says whether it painted a canvas. Without a GPU a canvas is rasterised when the frame
 * commits, after the script, at several times the script's cost (a smoothed-line layer drawn
 * in 1 ms rasterises in about 5, a whole chart in 10 and more), so the script clock cannot
 * tell what a frame still has room for: one painting job per frame, and jobs that painted
 * nothing share the frame up to a small script budget.
 */
export type FrameJob = () => boolean | undefined;

const pending = new Set<FrameJob>();
let scheduled = false;
/** Script milliseconds per frame for jobs after the first. */
const FRAME_BUDGET_MS = 2;

function run(): void {
  scheduled = false;
  const start = performance.now();
  const jobs = [...pending];
  for (let i = 0; i < jobs.length; i++) {
    if (i > 0 && performance.now() - start > FRAME_BUDGET_MS) break;
    pending.delete(jobs[i]);
    if (jobs[i]() === true) break;
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

export function onNextFrame(job: FrameJob): void {
  pending.add(job);
  schedule();
}

/**
 * Queues a job ahead of those waiting: the second half of a paint split over two frames (the
 * smoothed lines after their chart's plot) follows in the very next frame.
 */
export function onNextFrameFirst(job: FrameJob): void {
  const waiting = [...pending];
  pending.clear();
  pending.add(job);
  for (const other of waiting) pending.add(other);
  schedule();
}

export function cancelFrame(job: FrameJob): void {
  pending.delete(job);
}

/**
 * `value` as it was at the last animation frame: a part of the page that follows an interaction
 * renders in the frame after it, so the interaction's own frame holds only what answers it (a
 * ticked checkbox, not six charts re-rendered with their effects).
 */
export function useNextFrameValue<T>(value: T): T {
  const [shown, setShown] = useState(value);
  useEffect(() => {
    if (Object.is(shown, value)) return;
    const id = requestAnimationFrame(() => setShown(() => value));
    return () => cancelAnimationFrame(id);
  }, [value, shown]);
  return shown;
}
