// No work at import for readers: the writer thread boots only for scripts that may write.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startRun } from "../dist/index.js";
import { ROOT, tempDb } from "./support/helpers.js";

const run = promisify(execFile);
const ENTRY = JSON.stringify(join(ROOT, "dist", "index.js"));

/**
 * Runs `body` in a fresh ES module after `import * as stonks`, then lets the
 * event loop turn for a while and prints how many worker threads the process
 * has (Node's diagnostic report lists every live worker).
 */
async function workersAfter(body: string): Promise<number> {
  const script = `import * as stonks from ${ENTRY};
${body}
await new Promise((resolve) => setTimeout(resolve, 300));
console.log("workers", process.report.getReport().workers.length);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, STONKS_LOG_LEVEL: "warn" },
  });
  const line = stdout.split("\n").find((l) => l.startsWith("workers "));
  if (line === undefined) throw new Error(`no worker count in: ${stdout}`);
  return Number(line.split(" ")[1]);
}

async function fileWithOneRun(): Promise<string> {
  const db = tempDb();
  await startRun("lazy", { db }, (r) => r.log({ loss: 1 }));
  return db;
}

describe("writer thread start", () => {
  it("a script that imports, opens and reads starts no writer thread", async () => {
    const db = JSON.stringify(await fileWithOneRun());
    const workers = await workersAfter(`const db = stonks.open(${db});
const [experiment] = db.listExperiments();
const runs = db.listRuns(experiment.id);
if (db.getMetrics(runs[0].id, "loss").values.length !== 1) throw new Error("read failed");
db.close();`);
    expect(workers).toBe(0);
  });

  it("a script that starts a run has its writer thread (the count above can see one)", async () => {
    const db = JSON.stringify(tempDb());
    const workers = await workersAfter(`const run = stonks.startRun("lazy", { db: ${db} }).start();
run.log({ loss: 1 });
await run.flush();`);
    expect(workers).toBe(1);
  });

  it("a script that neither reads nor writes before its first await gets the writer booted early", async () => {
    expect(await workersAfter("")).toBe(1);
  });

  it("a reader that creates a run boots the writer before the run's start()", async () => {
    const db = JSON.stringify(await fileWithOneRun());
    const workers = await workersAfter(`stonks.open(${db}).close();
stonks.startRun("lazy", { db: ${db} });`);
    expect(workers).toBe(1);
  });

  it("a reader that starts a run later still writes it", async () => {
    const db = JSON.stringify(await fileWithOneRun());
    const workers = await workersAfter(`const db = stonks.open(${db});
const before = db.listRuns().length;
await new Promise((resolve) => setTimeout(resolve, 50));
await stonks.startRun("lazy", { db: ${db} }, (r) => r.log({ loss: 2 }));
if (db.listRuns().length !== before + 1) throw new Error("run not written");
db.close();`);
    expect(workers).toBe(1);
  });
});
