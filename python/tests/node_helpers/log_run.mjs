// Logs a run with the TypeScript SDK from a JSON spec on stdin and prints {id}.
// spec: {experiment, db, config, runName, tags, group, jobType, notes, logConfig,
//        calls: [{metrics, step?}], status}
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [distDir] = process.argv.slice(2);
const { startRun } = await import(pathToFileURL(join(distDir, "index.js")).href);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const spec = JSON.parse(input);
const run = startRun(spec.experiment, {
  db: spec.db,
  config: spec.config,
  runName: spec.runName,
  tags: spec.tags,
  group: spec.group,
  jobType: spec.jobType,
  notes: spec.notes,
  strict: true,
});
run.start();
for (const call of spec.calls) {
  run.log(call.metrics, call.step === undefined ? undefined : { step: call.step });
}
if (spec.logConfig) run.logConfig(spec.logConfig);
await run.flush();
await run.finish(spec.status ?? "completed");
process.stdout.write(JSON.stringify({ id: run.id }));
