import { recordFrame } from "../state/perf";

/** Work to redo at most once per animation frame (chart redraws), run together in one frame. */
const pending = new Set<() => void>();
let scheduled = false;

function run(): void {
  scheduled = false;
  const start = performance.now();
  const jobs = [...pending];
  pending.clear();
  for (const job of jobs) job();
  recordFrame(performance.now() - start);
}

export function onNextFrame(job: () => void): void {
  pending.add(job);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(run);
  }
}

export function cancelFrame(job: () => void): void {
  pending.delete(job);
}
