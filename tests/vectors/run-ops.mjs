// Runs a vector's operations with the TypeScript SDK in this process, in the current directory.
// argv: distDir vectorPath dbPath. Prints {"pid", "ids": {label: run id}} as one JSON line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir, vectorPath, db] = process.argv.slice(2);
const { startRun } = await import(pathToFileURL(join(distDir, "index.js")).href);
const vector = JSON.parse(readFileSync(vectorPath, "utf8"));
const runs = new Map();
const ids = {};

function startOptions(op) {
  const options = { db, strict: true };
  const names = {
    run_name: "runName",
    tags: "tags",
    group: "group",
    job_type: "jobType",
    notes: "notes",
    config: "config",
    project: "project",
  };
  for (const [field, option] of Object.entries(names)) if (field in op) options[option] = op[field];
  if ("resume" in op) options.resume = ids[op.resume] ?? op.resume;
  return options;
}

for (const op of vector.operations) {
  const run = runs.get(op.run);
  switch (op.op) {
    case "start_run": {
      const started = startRun(op.experiment, startOptions(op)).start();
      runs.set(op.run, started);
      ids[op.run] ??= started.id;
      break;
    }
    case "log":
      run.log(op.metrics, "step" in op ? { step: op.step } : undefined);
      break;
    case "log_series":
      for (let i = 0; i < op.count; i++)
        run.log({ [op.key]: op.first_value + i * op.value_step }, { step: op.first_step + i });
      break;
    case "log_config":
      run.logConfig(op.config);
      break;
    case "set_notes":
      await run.setNotes(op.notes);
      break;
    case "set_tags":
      await run.setTags(op.tags);
      break;
    case "flush":
      await run.flush();
      break;
    case "finish":
      await run.finish(op.status);
      break;
    default:
      throw new Error(`unknown operation ${op.op}`);
  }
}
console.log(JSON.stringify({ pid: process.pid, ids }));
