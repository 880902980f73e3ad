// stonks import neptune: an export written by tests/fixtures/interop/neptune/generate.py with
// neptune-exporter's own Parquet writer and schema (Neptune's service is gone, so its download step
// cannot run), read through the built CLI into a real stonks file. Expected values follow the
// generator's formulas.
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { foreignRunId } from "../src/query/import-foreign.js";
import { openService } from "../src/query/service.js";
import { FIXTURES, stonks, tempDb, tempDir } from "./support/helpers.js";

const EXPORT = join(FIXTURES, "interop", "neptune", "export");
const T0 = 1_765_000_000;
const RUNS = [
  { project: "stonks-lab/vision", run: "RES-1" },
  { project: "stonks-lab/vision", run: "RES-2" },
  { project: "stonks-lab/nlp", run: "NLP-7" },
];
const STEPS = Array.from({ length: 10 }, (_, s) => s);
const EVEN = STEPS.filter((s) => s % 2 === 0);
const loss = (i: number, s: number) => 1 / (s + 1) + i;
const time = (i: number, s: number) => T0 + 100 * i + s;

describe("stonks import neptune", () => {
  it("imports every exported run with its parameters, sys fields, metrics, steps and times; a second import adds nothing", async () => {
    const db = tempDb();
    const first = await stonks(["import", "neptune", EXPORT, "--db", db]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    // RES-2's NaN loss at step 3 is the one point a stonks series cannot hold.
    expect(first.stdout.trim()).toBe(
      `Imported 2 experiments, 3 runs, 54 points from neptune ${EXPORT} into ${db}; skipped 0 runs already there and 1 point that cannot be stored.`,
    );
    const service = openService(db);
    try {
      expect(
        service
          .listExperiments()
          .map((e) => e.name)
          .sort(),
      ).toEqual(["stonks-lab/nlp", "stonks-lab/vision"]);
      for (const [i, { project, run }] of RUNS.entries()) {
        const id = foreignRunId("neptune", `${project}/${run}`);
        const view = service.runView(id);
        expect(view).toMatchObject({
          name: run,
          status: i === 1 ? "failed" : "completed",
          createdAt: time(i, 0) - 1,
          endedAt: time(i, 10),
        });
        expect(view?.provenance).toMatchObject({ sdkLanguage: "neptune", host: i === 2 ? "gpu-7" : null });
        const parameters: Record<string, unknown> = {
          lr: 0.001 * (i + 1),
          batch_size: 32 * (i + 1),
          optimizer: i < 2 ? "adam" : "adamw",
          augment: i === 0,
        };
        if (project === "stonks-lab/vision") {
          parameters.data = { classes: ["dog", "cat"], started: new Date(T0 * 1000).toISOString() };
          expect(view).toMatchObject({
            group: "resnet",
            notes: `resnet try ${i}`,
            tags: i === 0 ? ["baseline", "gpu", "sweep-a"] : ["gpu", "sweep-a"],
          });
        } else {
          expect(view).toMatchObject({ group: "bert-base", notes: null, tags: [] });
        }
        expect(view?.config).toEqual({ parameters });
        expect(service.getMetricKeys(id).sort()).toEqual(["metrics/train/loss", "metrics/val/acc"]);
        const acc = service.getMetrics(id, "metrics/val/acc");
        expect(Array.from(acc.steps)).toEqual(EVEN);
        expect(Array.from(acc.values)).toEqual(EVEN.map((s) => i + s / 10));
        expect(Array.from(acc.timestamps)).toEqual(EVEN.map((s) => time(i, s)));
        const lossSeries = service.getMetrics(id, "metrics/train/loss");
        if (i !== 1) {
          expect(Array.from(lossSeries.steps)).toEqual(STEPS);
          expect(Array.from(lossSeries.values)).toEqual(STEPS.map((s) => loss(i, s)));
          expect(Array.from(lossSeries.timestamps)).toEqual(STEPS.map((s) => time(i, s)));
        } else {
          // Whole and half steps in step order, the NaN at step 3 left out.
          const steps = STEPS.flatMap((s) => [s, s + 0.5]).filter((s) => s !== 3);
          expect(Array.from(lossSeries.steps)).toEqual(steps);
          expect(Array.from(lossSeries.values)).toEqual(
            steps.map((s) => (Number.isInteger(s) ? loss(i, s) : loss(i, s - 0.5) + 0.25)),
          );
          expect(Array.from(lossSeries.timestamps)).toEqual(steps.map((s) => time(i, s)));
        }
      }
    } finally {
      service.close();
    }
    const second = await stonks(["import", "neptune", EXPORT, "--db", db]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Imported 0 experiments, 0 runs, 0 points .* skipped 3 runs already there/);
  });

  it("--dry-run writes nothing; a project folder alone imports its runs; --experiment renames", async () => {
    const db = tempDb();
    const dry = await stonks(["import", "neptune", EXPORT, "--db", db, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Would import 2 experiments, 3 runs, 54 points .* Nothing was written/);
    expect(existsSync(db)).toBe(false);
    const project = readdirSync(EXPORT).find((name) => name.startsWith("stonks-lab_vision"));
    const only = await stonks(["import", "neptune", join(EXPORT, project ?? ""), "--db", db, "--experiment", "moved"]);
    expect(only.stdout).toMatch(/^Imported 1 experiment, 2 runs, 39 points/);
    const service = openService(db);
    try {
      expect(service.listExperiments().map((e) => e.name)).toEqual(["moved"]);
    } finally {
      service.close();
    }
  });

  it("a missing folder, one without an export, or other Parquet files are one line and exit 1", async () => {
    const missing = await stonks(["import", "neptune", join(tempDir(), "nope"), "--db", tempDb()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/is not a directory; pass the data folder of a neptune-exporter export/);
    const empty = tempDir();
    writeFileSync(join(empty, "readme.txt"), "nothing");
    const none = await stonks(["import", "neptune", empty, "--db", tempDb()]);
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toMatch(/No Neptune export under .* \(files named <run>_part_0\.parquet\)/);
    const other = tempDir();
    mkdirSync(join(other, "p"));
    // A Parquet file of another program (the tensorboard fixture is no Parquet at all).
    copyFileSync(join(FIXTURES, "interop", "tensorboard", "generate.py"), join(other, "p", "x_part_0.parquet"));
    const wrong = await stonks(["import", "neptune", other, "--db", tempDb()]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrong.stderr).toMatch(/is not a neptune-exporter Parquet file/);
  });
});
