// The file the grouped charts benchmarks read (bench/ui_groups.mjs, bench/api_group_read.mjs): 200 finished
// runs of one 100,000-point loss curve each, in 10 groups. Needs dist/ (npm run build).

export const RUNS = 200;
export const GROUPS = 10;
export const POINTS = 100_000;
export const KEY = "train/loss";

/**
 * Writes the runs into the file at `path` and returns their ids in the order written; run r is in
 * group g{r % 10}. dist/ (and ui_common.mjs, which imports it) is imported here, not at the top, so that
 * bench/api_group_read.mjs's measuring children, which import another build's dist/, never load this one.
 */
export async function seedGroupedRuns(path) {
  const { openDatabase, runImmediate } = await import("../dist/store/connection.js");
  const { appendPoints, ensureSeries, finishRun, insertRun } = await import("../dist/store/writes.js");
  const { PROVENANCE } = await import("./ui_common.mjs");
  const db = openDatabase(path);
  const ids = [];
  const now = Date.now() / 1000;
  const steps = Float64Array.from({ length: POINTS }, (_, i) => i);
  for (let r = 0; r < RUNS; r++) {
    runImmediate(db, () => {
      const created = now - 86_400 + r * 60;
      const run = insertRun(db, {
        experimentName: "grouped",
        name: `run-${String(r).padStart(3, "0")}`,
        config: { lr: 10 ** -(1 + (r % GROUPS)), seed: r },
        tags: [],
        group: `g${r % GROUPS}`,
        jobType: "train",
        notes: null,
        now: created,
        provenance: PROVENANCE,
      });
      const g = r % GROUPS;
      const values = Float64Array.from(steps, (s) => g * 0.2 + Math.exp(-s / 20_000) + 0.05 * Math.sin(s / 700 + r));
      const times = Float64Array.from(steps, (s) => created + s * 0.01);
      appendPoints(db, ensureSeries(db, run.seq, KEY), steps, values, times);
      finishRun(db, run.seq, "completed", created + POINTS * 0.01);
      ids.push(run.id);
    });
  }
  db.close();
  return ids;
}
