// The writer of bench/remote_many.mjs and bench/pg_ingest_servers.mjs: one training process, TypeScript (this file
// in --child-ts mode) or Python (the script below), that starts a run on `db` (a file or a server's URL), says
// "ready <run id>", waits for "go" on stdin, logs METRICS × STEPS points as fast as it can, finishes (remote: every
// point acknowledged by the server) and exits. STEPS from the environment (default 5000).
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const KEYS = ["train/loss", "train/acc", "val/loss", "lr"];
export const STEPS = Number(process.env.STEPS ?? 5000);

// Child mode: a TypeScript training script. Starts its run, says "ready <run id>", waits for "go" on stdin, logs
// every point as fast as it can, finishes (remote: every point acknowledged by the server) and exits.
if (process.argv[2] === "--child-ts") {
  const { startRun } = await import("../dist/index.js");
  const run = startRun("bench-many", { db: process.argv[3], name: `ts-${process.pid}` }).start();
  process.stdout.write(`ready ${run.id}\n`);
  await new Promise((done) => process.stdin.once("data", done));
  for (let step = 0; step < STEPS; step++) {
    const x = step * 1e-6;
    run.log({ "train/loss": x, "train/acc": 1 - x, "val/loss": x * 2, lr: 0.001 });
  }
  await run.finish();
  process.exit(0);
}

const PYTHON_CHILD = `
import os, sys
import stonks
run = stonks.start_run("bench-many", db=sys.argv[1], run_name=f"py-{os.getpid()}").start()
print("ready", run.id, flush=True)
sys.stdin.readline()
for step in range(${STEPS}):
    x = step * 1e-6
    run.log({"train/loss": x, "train/acc": 1 - x, "val/loss": x * 2, "lr": 0.001})
run.finish()
`;

/** Spawns one training process; resolves `ready` with its run id, `exited` with the time it exited. */
export function spawnChild(language, db, env) {
  const child =
    language === "ts"
      ? spawn(process.execPath, [fileURLToPath(import.meta.url), "--child-ts", db], { env, cwd: REPO })
      : spawn("python3", ["-c", PYTHON_CHILD, db], { env: { ...env, PYTHONPATH: join(REPO, "python") }, cwd: REPO });
  let out = "";
  let err = "";
  child.stderr.on("data", (chunk) => {
    err += chunk;
  });
  const ready = new Promise((done, fail) => {
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /ready (\S+)\n/.exec(out);
      if (match) done(match[1]);
    });
    child.once("exit", () => fail(new Error(`${language} child exited before starting: ${err}`)));
  });
  const exited = new Promise((done, fail) => {
    child.once("exit", (code) => {
      if (code === 0) done(performance.now());
      else fail(new Error(`${language} child exited with ${code}: ${err}`));
    });
  });
  ready.catch(() => {});
  return { child, ready, exited, stderr: () => err };
}
