// One Node process of the many-writers test: logs `points` steps of two keys, then finishes.
// usage: node concurrent_writer.mjs <dist dir> <db> <run name> <points>
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir, db, runName, points] = process.argv.slice(2);
const { startRun } = await import(pathToFileURL(join(distDir, "index.js")).href);

const run = startRun("many-writers", { db, runName, strict: true });
run.start();
const n = Number(points);
for (let step = 0; step < n; step++) {
  run.log({ "train/loss": step * 0.5, "train/acc": step % 7 }, { step });
  if (step % 5000 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await run.finish("completed");
process.stdout.write(JSON.stringify({ id: run.id }));
