// Appends given points through the TypeScript store layer (appendPoints), batch by batch,
// so a test can compare the rows it writes with the Python store's rows for the same points.
// stdin: {db, runs: [{series: [{key, batches: [{steps, values, times}]}]}]}
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(distDir, path)).href);
const { openDatabase, runImmediate } = await load("store/connection.js");
const { appendPoints, ensureSeries, insertRun } = await load("store/writes.js");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const spec = JSON.parse(input);
const db = openDatabase(spec.db);
const provenance = {
  host: null, pid: null, command: null, cwd: null, gitCommit: null, gitDirty: null,
  sdkLanguage: "typescript", sdkVersion: null,
};
const ids = [];
for (const runSpec of spec.runs) {
  const run = runImmediate(db, () =>
    insertRun(db, {
      experimentName: "rollups", name: null, config: {}, tags: [], group: null, jobType: null, notes: null,
      now: 1, provenance,
    }),
  );
  ids.push(run.id);
  for (const series of runSpec.series) {
    const seriesId = runImmediate(db, () => ensureSeries(db, run.seq, series.key));
    for (const batch of series.batches) {
      runImmediate(db, () =>
        appendPoints(db, seriesId, Float64Array.from(batch.steps), Float64Array.from(batch.values), Float64Array.from(batch.times)),
      );
    }
  }
}
db.close();
process.stdout.write(JSON.stringify({ ids }));
