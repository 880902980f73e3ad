// The run-row scenario of test_cross_language.py with the TypeScript SDK: start, log, logConfig,
// finish, resume; prints the run as the query API reads it after each step (JSON list).
// argv: distDir dbPath
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir, db] = process.argv.slice(2);
const { open, startRun } = await import(pathToFileURL(join(distDir, "index.js")).href);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const snapshots = [];
function snapshot(step, id) {
  const q = open(db, { readonly: true });
  const run = q.getRun(id);
  q.close();
  snapshots.push({
    step,
    revision: run.revision,
    status: run.status,
    name: run.name,
    config: run.config,
    tags: run.tags,
    group: run.group,
    jobType: run.jobType,
    notes: run.notes,
    provenance: run.provenance,
  });
}

const run = startRun("rows", {
  db,
  strict: true,
  runName: "first",
  tags: ["a", "b"],
  group: "g",
  jobType: "train",
  notes: "n",
  config: { lr: 0.1, nested: { layers: [64, 32], act: "relu" }, flag: true, none: null },
}).start();
await run.flush();
snapshot("start", run.id);
run.log({ loss: 1 });
// Both SDKs look up git off the start path; give it time, then write.
await sleep(1000);
await run.flush();
snapshot("log", run.id);
run.logConfig({ lr: 0.2, extra: "x", nested: { act: "gelu" } });
await run.flush();
snapshot("log_config", run.id);
await run.finish("completed");
snapshot("finish", run.id);
const resumed = startRun("rows", { db, strict: true, resume: run.id, tags: ["c"], config: { resumed: true } }).start();
await resumed.flush();
snapshot("resume", run.id);
resumed.log({ loss: 2 });
await sleep(1000);
await resumed.flush();
snapshot("resume_log", run.id);
await resumed.finish("failed");
snapshot("resume_finish", run.id);
process.stdout.write(JSON.stringify(snapshots));
