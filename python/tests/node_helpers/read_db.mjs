// Reads a stonks file through the TypeScript query API and prints it as JSON.
// usage: node read_db.mjs <dist dir> <db path>
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir, dbPath] = process.argv.slice(2);
const { open } = await import(pathToFileURL(join(distDir, "index.js")).href);

const db = open(dbPath);
const out = { experiments: db.listExperiments(), runs: [] };
for (const run of db.listRuns()) {
  const metrics = {};
  for (const key of db.getMetricKeys(run.id)) {
    const series = db.getMetrics(run.id, key);
    metrics[key] = {
      steps: Array.from(series.steps),
      values: Array.from(series.values),
      timestamps: Array.from(series.timestamps),
    };
  }
  out.runs.push({ ...run, metrics, summaries: db.getSummaries(run.id) });
}
db.close();
process.stdout.write(JSON.stringify(out));
