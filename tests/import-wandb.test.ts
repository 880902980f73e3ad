// `stonks import wandb`: the transaction logs the real wandb client (0.31.0, offline) wrote, from
// tests/fixtures/interop/wandb/generate.py, whose formulas the expectations below recompute.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { wandbLogRecords } from "../src/interop/wandb/log.js";
import { decodeWandbRecord } from "../src/interop/wandb/records.js";
import { readWandb } from "../src/interop/wandb.js";
import { open } from "../src/query/database.js";
import { foreignRunId } from "../src/query/import-foreign.js";
import { FIXTURES, stonks, tempDb, tempDir } from "./support/helpers.js";

const WANDB_DIR = join(FIXTURES, "interop", "wandb", "wandb");
const runDir = (id: string) => {
  const name = readdirSync(WANDB_DIR).find((dir) => dir.endsWith(`-${id}`));
  if (name === undefined) throw new Error(`no fixture run ${id}`);
  return join(WANDB_DIR, name);
};
const BASELINE = "base0001";
const DIVERGES = "div00002";

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** A copy of one fixture run directory, for a test that changes its log. */
function copyRun(id: string): { dir: string; log: string } {
  const parent = join(tempDir("stonks-wandb-"), "wandb");
  mkdirSync(parent);
  const dir = join(parent, `offline-run-20261201_000000-${id}`);
  cpSync(runDir(id), dir, { recursive: true });
  return { dir, log: join(dir, `run-${id}.wandb`) };
}

function exitRecordOffset(log: string): number {
  for (const { offset, data } of wandbLogRecords(log, () => {})) {
    if (decodeWandbRecord(data).exit !== undefined) return offset;
  }
  throw new Error("no exit record");
}

function historyRecordOffset(log: string, step: number): number {
  for (const { offset, data } of wandbLogRecords(log, () => {})) {
    const items = decodeWandbRecord(data).history?.item ?? [];
    if (items.some((item) => item.nestedKey?.[0] === "_step" && item.valueJson === String(step))) return offset;
  }
  throw new Error(`no history record of step ${step}`);
}

async function onlyRun(dir: string) {
  const source = await readWandb(dir);
  const runs = [];
  for await (const run of source.runs()) runs.push(run);
  expect(runs).toHaveLength(1);
  return runs[0] as (typeof runs)[number];
}

describe("stonks import wandb", () => {
  it("brings both runs of a wandb/ directory across with their metadata, metrics and statuses, once", async () => {
    const target = tempDb();
    const first = await stonks(["import", "wandb", WANDB_DIR, "--db", target]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    // baseline: 20 points of train/loss, train/acc and train/lr, 4 of epoch and val/loss; diverges: 10.
    // Skipped: "phase" (a string) at 4 steps and the NaN train/grad_norm.
    expect(first.stdout.trim()).toBe(
      `Imported 1 experiment, 2 runs, 78 points from wandb ${WANDB_DIR} into ${target}; skipped 0 runs already there and 5 points that cannot be stored.`,
    );
    const db = open(target);
    try {
      const [experiment] = db.listExperiments();
      expect(experiment?.name).toBe("stonks-interop");
      const baseline = db.getRun(foreignRunId("wandb", BASELINE));
      expect(baseline).toMatchObject({
        name: "baseline",
        status: "completed",
        tags: ["baseline", "fp16"],
        group: "sweep-a",
        jobType: "train",
        notes: "first try",
        config: { lr: 0.1, batch_size: 32, model: { depth: 4, act: "relu" }, epochs: 4, summary: { best_acc: 0.95 } },
      });
      expect(baseline?.config).not.toHaveProperty("_wandb");
      expect(baseline?.provenance).toMatchObject({ sdkLanguage: "wandb", host: "vm" });
      expect(db.getMetricKeys(foreignRunId("wandb", BASELINE)).sort()).toEqual([
        "epoch",
        "train/acc",
        "train/loss",
        "train/lr",
        "val/loss",
      ]);
      const id = foreignRunId("wandb", BASELINE);
      const loss = db.getMetrics(id, "train/loss");
      expect([...loss.steps]).toEqual(range(20));
      expect([...loss.values]).toEqual(range(20).map((i) => 1 / (i + 1)));
      expect([...db.getMetrics(id, "train/acc").values]).toEqual(range(20).map((i) => i / 20));
      const lr = db.getMetrics(id, "train/lr").values;
      for (const i of range(20)) expect(lr[i]).toBeCloseTo(0.1 * 0.9 ** i, 12);
      const epoch = db.getMetrics(id, "epoch");
      expect([...epoch.steps]).toEqual([0, 5, 10, 15]);
      expect([...epoch.values]).toEqual([0, 1, 2, 3]);
      expect([...db.getMetrics(id, "val/loss").values]).toEqual([0, 5, 10, 15].map((i) => 2 / (i + 1)));
      // Wall times are wandb's _timestamp of each row: in order, within the run's life.
      const times = [...loss.timestamps];
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times[0]).toBeGreaterThanOrEqual(baseline?.createdAt ?? Number.POSITIVE_INFINITY);
      expect(times.at(-1)).toBeLessThanOrEqual(baseline?.endedAt ?? 0);

      const diverges = db.getRun(foreignRunId("wandb", DIVERGES));
      expect(diverges).toMatchObject({ name: "diverges", status: "failed", tags: ["unstable"], config: { lr: 1 } });
      const divLoss = db.getMetrics(foreignRunId("wandb", DIVERGES), "train/loss");
      expect([...divLoss.steps]).toEqual(range(10).map((i) => 10 * i));
      expect([...divLoss.values]).toEqual(range(10).map((i) => 1 / (i + 1) + 1));
    } finally {
      db.close();
    }
    const second = await stonks(["import", "wandb", WANDB_DIR, "--db", target]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Imported 0 experiments, 0 runs, 0 points");
    expect(second.stdout).toContain("skipped 2 runs already there and 5 points that cannot be stored");
  });

  it("takes one run directory, and a dry run writes nothing", async () => {
    const target = tempDb();
    const dry = await stonks(["import", "wandb", runDir(DIVERGES), "--db", target, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("Would import 1 experiment, 1 run, 10 points");
    expect(existsSync(target)).toBe(false);
    const real = await stonks(["import", "wandb", runDir(DIVERGES), "--db", target]);
    expect(real.stdout).toContain("Imported 1 experiment, 1 run, 10 points");
  });

  it("says in one line what to pass when the source is missing or holds no wandb runs", async () => {
    const missing = await stonks(["import", "wandb", join(tempDir(), "nowhere"), "--db", tempDb()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("does not exist; pass a wandb run directory");
    const empty = tempDir();
    writeFileSync(join(empty, "run-fake.wandb"), "not a wandb log");
    const notWandb = await stonks(["import", "wandb", empty, "--db", tempDb()]);
    expect(notWandb.code).toBe(1);
    expect(notWandb.stderr.trim().split("\n")).toHaveLength(1);
    expect(notWandb.stderr).toContain("No wandb run files under");
  });

  it("warns about a record that fails its checksum and keeps the others", async () => {
    const { dir, log } = copyRun(DIVERGES);
    const bytes = readFileSync(log);
    // A byte inside the data of the history record of step 30 (7 bytes of chunk header before it).
    const at = historyRecordOffset(log, 30);
    bytes[at + 7 + 5] = (bytes[at + 7 + 5] ?? 0) ^ 0xff;
    writeFileSync(log, bytes);
    const target = tempDb();
    const result = await stonks(["import", "wandb", dir, "--db", target]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/does not match its checksum; skipped it\./);
    const db = open(target);
    try {
      const loss = db.getMetrics(foreignRunId("wandb", DIVERGES), "train/loss");
      expect([...loss.steps]).toEqual([0, 10, 20, 40, 50, 60, 70, 80, 90]);
    } finally {
      db.close();
    }
  });

  it("reads a log without an exit record as running while it is being written, then as interrupted", async () => {
    const { dir, log } = copyRun(BASELINE);
    // Cut a few bytes into the exit record: what a run still writing (or killed while writing) leaves.
    truncateSync(log, exitRecordOffset(log) + 3);
    const live = await onlyRun(dir);
    expect(live).toMatchObject({ status: "running", endedAt: null });
    expect(live.metrics["train/loss"]?.values).toHaveLength(20);
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(log, longAgo, longAgo);
    const killed = await onlyRun(dir);
    expect(killed.status).toBe("interrupted");
    const times = killed.metrics["train/loss"]?.times ?? new Float64Array(0);
    expect(killed.endedAt).toBe(times.at(-1));
  });

  it("makes one run of the directories a resumed run wrote, in the order they were written", async () => {
    const { dir } = copyRun(DIVERGES);
    const later = join(dir, "..", `offline-run-20261202_000000-${DIVERGES}`);
    cpSync(dir, later, { recursive: true });
    const run = await onlyRun(join(dir, ".."));
    expect(run.sourceKey).toBe(DIVERGES);
    expect(run.metrics["train/loss"]?.values).toHaveLength(20);
  });
});
