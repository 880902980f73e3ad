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
/** When each job queued with onFrameAfterThis was first queued (see there). */
const queuedAt = new Map<FrameJob, number>();
let scheduled = false;
/** Script milliseconds per frame for jobs after the first. */
const FRAME_BUDGET_MS = 2;

function run(frameTime: number): void {
  scheduled = false;
  const start = performance.now();
  const jobs = [...pending];
  let ran = 0;
  for (const job of jobs) {
    if (ran > 0 && performance.now() - start > FRAME_BUDGET_MS) break;
    const queued = queuedAt.get(job);
    // Queued by input handled in this very frame (after it began): its frame is the next one.
    if (queued !== undefined && queued >= frameTime) continue;
    queuedAt.delete(job);
    pending.delete(job);
    ran++;
    if (job() === true) break;
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

/**
 * Queues a job for the frame after the one being made. Chromium hands a frame's pointer moves to
 * the page at the start of that frame, before its animation callbacks: a job a move queues with
 * onNextFrame runs in the move's own frame. This one waits for the next (the first time it was
 * queued counts, so moves in every frame do not hold it back for good).
 */
export function onFrameAfterThis(job: FrameJob, first = false): void {
  if (!pending.has(job)) queuedAt.set(job, performance.now());
  if (first) onNextFrameFirst(job);
  else onNextFrame(job);
}

/** Runs `job` when the page is idle (after a frame's work, with time to spare); returns its cancel. */
export function onIdle(job: () => void): () => void {
  if (typeof requestIdleCallback === "function") {
    const id = requestIdleCallback(() => job());
    return () => cancelIdleCallback(id);
  }
  const id = setTimeout(job, 50);
  return () => clearTimeout(id);
}

export function cancelFrame(job: FrameJob): void {
  pending.delete(job);
  queuedAt.delete(job);
}

/**
 * `on` once it has held for `delayMs`, false at once when it drops: a loading spinner shown only
 * for reads that take a while (a zoom's refetch usually lands within a few frames, and putting a
 * spinner in every chart and taking it out again added layout and relayering to those frames).
 */
export function useDelayedFlag(on: boolean, delayMs: number): boolean {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    if (!on) {
      setShown(false);
      return;
    }
    const id = setTimeout(() => setShown(true), delayMs);
    return () => clearTimeout(id);
  }, [on, delayMs]);
  return on && shown;
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
