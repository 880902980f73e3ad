import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NotAStonksFileError } from "../src/errors.js";
import { open } from "../src/query/database.js";
import { type Db, openDatabase } from "../src/store/connection.js";
import { openConnection } from "../src/store/driver.js";
import { backends } from "./support/backends.js";
import { CLI, type CliResult, FIXTURES, stonks, tempDir } from "./support/helpers.js";

const CURRENT = "stonks-4fd6e94.db";
const FIRST = "stonks-aee933e.db";

const rawConnections = new Map<string, Db>();
/** A connection of the test's own for SQL the query API does not offer; closed after each test. */
function rawDb(path: string): Db {
  let db = rawConnections.get(path);
  if (db === undefined) {
    db = openDatabase(path, { create: false });
    rawConnections.set(path, db);
  }
  return db;
}
afterEach(() => {
  for (const db of rawConnections.values()) db.close();
  rawConnections.clear();
});

/** A copy of a fixture in a fresh folder: opening the original read-write could change it. */
function fixtureCopy(name: string): string {
  const path = join(tempDir("stonks-import-"), name);
  writeFileSync(path, gunzipSync(readFileSync(join(FIXTURES, "original-stonks", `${name}.gz`))));
  return path;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function folderListing(path: string): string[] {
  return readdirSync(dirname(path)).sort();
}

interface SourcePoint {
  step: number;
  value: number | null;
}

/** Every point of one run's key in the original file, in logging order. */
function sourcePoints(file: string, runId: string, key: string): SourcePoint[] {
  const db = openConnection(file, { readonly: true });
  try {
    return db
      .prepare("SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY id")
      .all(runId, key) as SourcePoint[];
  } finally {
    db.close();
  }
}

function sourceRunIds(file: string): string[] {
  const db = openConnection(file, { readonly: true });
  try {
    return (db.prepare("SELECT id FROM runs ORDER BY id").all() as { id: string }[]).map((row) => row.id);
  } finally {
    db.close();
  }
}

function sourceKeys(file: string, runId: string): string[] {
  const db = openConnection(file, { readonly: true });
  try {
    return (
      db.prepare("SELECT DISTINCT key FROM metrics WHERE run_id = ? ORDER BY key").all(runId) as { key: string }[]
    ).map((row) => row.key);
  } finally {
    db.close();
  }
}

async function importInto(source: string, target: string, extra: string[] = []): Promise<CliResult> {
  expect(existsSync(CLI), "npm run build first").toBe(true);
  return stonks(["import", source, "--db", target, ...extra]);
}

describe.each(backends())("stonks import on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("stonks import of the original's current schema (4fd6e94)", () => {
    it("brings every project, experiment, run and non-NaN point, with their values, and says so in one line", async () => {
      const source = fixtureCopy(CURRENT);
      const target = backend.newTarget();
      const result = await importInto(source, target);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe(
        `Imported 2 projects, 3 experiments, 9 runs, 22,855 points from ${source} into ${target}; skipped 15 NaN points and 0 runs already there.\n`,
      );

      const db = open(target);
      try {
        const experiments = db.listExperiments();
        expect(experiments.map((e) => [e.name, e.runCount]).sort()).toEqual([
          ["bert-sst2", 3],
          ["default", 1],
          ["resnet-cifar10", 5],
        ]);
        const projectOf = (experiment: string) =>
          (
            rawDb(target)
              .prepare(
                "SELECT p.name AS name FROM experiments e LEFT JOIN projects p ON p.id = e.project_id WHERE e.name = ?",
              )
              .get(experiment) as { name: string | null }
          ).name;
        expect(projectOf("resnet-cifar10")).toBe("vision");
        expect(projectOf("bert-sst2")).toBe("nlp");
        expect(projectOf("default")).toBeNull();
        expect(rawDb(target).prepare("SELECT COUNT(*) AS n FROM projects").get()).toEqual({ n: 2 });
        const total = rawDb(target).prepare("SELECT SUM(count) AS n FROM series").get() as { n: number };
        expect(total.n).toBe(22_855);

        const baseline = db.getRun("5b3a0c2e-d56c-4d73-8cb4-45e8a744c66c");
        expect(baseline).toMatchObject({
          name: "baseline-lr0.1",
          status: "completed",
          tags: ["baseline", "sweep"],
          group: "lr-sweep",
          jobType: "train",
          notes: "ResNet-18 baseline, SGD with momentum.",
        });
        expect(baseline?.config).toEqual({
          lr: 0.1,
          batch_size: 128,
          epochs: 90,
          optimizer: { name: "sgd", momentum: 0.9, nesterov: true, betas: [0.9, 0.999] },
          schedule: [30, 60, 80],
          augment: true,
          mixed_precision: false,
          dropout: 0.0,
          weight_decay: 0.0005,
          arch: "resnet18",
          checkpoint: null,
        });
        expect(baseline?.createdAt).toBe(1796160840.4941134);
        expect(baseline?.endedAt).toBe(1796160840.5047581);
        expect(baseline?.lastHeartbeat).toBe(1796160840.5047176);
        const loss = db.getMetrics(baseline?.id ?? "", "train/loss");
        expect([loss.steps[0], loss.values[0], loss.steps[199], loss.values[199]]).toEqual([0, 2.35, 199, 0.084159]);
        expect(db.getMetricKeys(baseline?.id ?? "").sort()).toEqual([
          "sys/cpu_percent",
          "sys/gpu0_util",
          "sys/ram_used_gb",
          "train/accuracy",
          "train/loss",
          "val/loss",
        ]);

        expect(db.getRun("c813b79b-0d8d-4e7c-b397-f52f925b0bec")?.status).toBe("failed");
        expect(db.getMetrics("c813b79b-0d8d-4e7c-b397-f52f925b0bec", "train/loss").steps.length).toBe(110);
        expect(db.getRun("ecc71415-be0d-4aaf-ab4e-a26d842326b0")?.status).toBe("interrupted");
        const crashed = db.getRun("e8c87119-a04c-4438-aa9f-5fd74f2a33c3");
        expect(crashed).toMatchObject({ status: "running", stale: true, endedAt: null, tags: ["live"] });

        // Resumed in the original: steps 100-119 were logged twice, and both are kept.
        const resumed = db.getRun("sst2-resume-1");
        expect(resumed).toMatchObject({ name: "resume-demo", status: "completed", tags: ["resume"] });
        expect(resumed?.config).toMatchObject({ fp16: false, resumed_from_step: 100 });
        const resumedLoss = db.getMetrics("sst2-resume-1", "train/loss");
        expect(resumedLoss.steps.length).toBe(220);
        const at100 = [...resumedLoss.steps.keys()].filter((i) => resumedLoss.steps[i] === 100);
        expect(at100.map((i) => resumedLoss.values[i])).toEqual([0.175572, 0.171959]);

        const prefixed = db.getRun("9fbc2659-3fbc-48a1-b1a2-7d1391545217");
        expect(prefixed).toMatchObject({ tags: [], group: "eval-sweep", jobType: "eval", notes: null });
        const evalLoss = db.getMetrics("9fbc2659-3fbc-48a1-b1a2-7d1391545217", "eval/loss");
        expect(evalLoss.steps.length).toBe(196);
        expect([...evalLoss.steps].filter((step) => step % 50 === 0)).toEqual([]);

        const unnamed = db.getRun("c516540c-44e0-4bd9-bd3a-c0020453ec41");
        expect(unnamed).toMatchObject({ name: null, config: {}, tags: [], group: null, jobType: null });

        const quick = db.getRun("ae9997bc-e904-49c4-8eb0-8dc8b7e2c3c1");
        expect(quick).toMatchObject({
          name: "quick-check ✓",
          tags: ["smoke", "ünïcode"],
          notes: "notes set after start\nsecond line",
          config: { epochs: 1, lr: 0.0003, tiny: true },
        });
        const quickLoss = db.getMetrics("ae9997bc-e904-49c4-8eb0-8dc8b7e2c3c1", "val/loss");
        expect(quickLoss.steps.length).toBe(199);
        expect([quickLoss.steps[198], quickLoss.values[198]]).toEqual([198, 0.101708]);

        // Every point of every run, compared with the original file (stable order by step).
        for (const runId of sourceRunIds(source)) {
          expect(db.getMetricKeys(runId).sort()).toEqual(sourceKeys(source, runId));
          for (const key of sourceKeys(source, runId)) {
            const expected = sourcePoints(source, runId, key)
              .filter((point) => point.value !== null)
              .map((point, index) => ({ ...point, index }))
              .sort((a, b) => a.step - b.step || a.index - b.index)
              .map((point) => [point.step, point.value]);
            const series = db.getMetrics(runId, key);
            expect(
              [...series.steps].map((step, i) => [step, series.values[i]]),
              `${runId} ${key}`,
            ).toEqual(expected);
          }
        }

        // Downsampled reads use the rollups the import wrote.
        const [long] = db.getSeries([{ runId: "bce6c78c-bd8d-4698-a582-a497ceda6c6b", key: "train/loss" }], {
          maxPoints: 200,
        });
        expect(long.totalPoints).toBe(20_000);
        expect(long.downsampled).toBe(true);
        expect(long.steps.length).toBeLessThanOrEqual(200);
        const full = db.getMetrics("bce6c78c-bd8d-4698-a582-a497ceda6c6b", "train/loss");
        expect(Math.min(...long.values)).toBe(Math.min(...full.values));
        expect(Math.max(...long.values)).toBe(Math.max(...full.values));
      } finally {
        db.close();
      }
    });

    it("--dry-run says what it would import, counting what the target holds, and writes nothing", async () => {
      const source = fixtureCopy(CURRENT);
      const target = backend.newTarget();
      const runsIn = () => {
        const db = open(target);
        try {
          return db.listRuns().length;
        } finally {
          db.close();
        }
      };
      const dry = await importInto(source, target, ["--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toBe(
        `Would import 2 projects, 3 experiments, 9 runs, 22,855 points from ${source} into ${target}; skipped 15 NaN points and 0 runs already there. Nothing was written (--dry-run).\n`,
      );
      expect((await importInto(source, target)).code).toBe(0);
      const again = await importInto(source, target, ["--dry-run"]);
      expect(again.stdout).toMatch(
        /^Would import 0 projects, 0 experiments, 0 runs, 0 points .* 9 runs already there\./,
      );
      expect(runsIn()).toBe(9);
    });

    it("adds nothing when run again, and the original file is only read", async () => {
      const source = fixtureCopy(CURRENT);
      const before = sha256(source);
      const target = backend.newTarget();
      expect((await importInto(source, target)).code).toBe(0);
      const counts = () => {
        const db = openDatabase(target);
        try {
          return db
            .prepare(
              "SELECT (SELECT COUNT(*) FROM projects) AS p, (SELECT COUNT(*) FROM experiments) AS e, (SELECT COUNT(*) FROM runs) AS r, (SELECT SUM(count) FROM series) AS n, (SELECT MAX(revision) FROM runs) AS rev",
            )
            .get();
        } finally {
          db.close();
        }
      };
      const first = counts();
      const again = await importInto(source, target);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe(
        `Imported 0 projects, 0 experiments, 0 runs, 0 points from ${source} into ${target}; skipped 0 NaN points and 9 runs already there.\n`,
      );
      expect(counts()).toEqual(first);
      expect(sha256(source)).toBe(before);
      expect(folderListing(source)).toEqual([CURRENT]);
    });
  });

  describe("stonks import of another tracker's data", () => {
    it("--dry-run counts the runs the target already has", async () => {
      const mlruns = join(FIXTURES, "interop", "mlflow", "mlruns");
      const target = backend.newTarget();
      expect((await stonks(["import", "mlflow", mlruns, "--db", target])).code).toBe(0);
      const dry = await stonks(["import", "mlflow", mlruns, "--db", target, "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/^Would import 0 experiments, 0 runs, 0 points .*; skipped 5 runs already there/);
    });
  });

  describe("stonks import of the original's first schema (aee933e)", () => {
    it("brings its 3 experiments, 8 runs and 22,399 points; configs NULL become {}, tags []", async () => {
      const source = fixtureCopy(FIRST);
      const target = backend.newTarget();
      const result = await importInto(source, target);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(
        `Imported 0 projects, 3 experiments, 8 runs, 22,399 points from ${source} into ${target}; skipped 11 NaN points and 0 runs already there.\n`,
      );
      const db = open(target);
      try {
        expect(
          db
            .listExperiments()
            .map((e) => [e.name, e.runCount])
            .sort(),
        ).toEqual([
          ["bert-sst2", 2],
          ["mnist-mlp", 1],
          ["resnet-cifar10", 5],
        ]);
        const runs = db.listRuns();
        expect(runs.map((r) => r.status).sort()).toEqual([
          "completed",
          "completed",
          "completed",
          "completed",
          "completed",
          "failed",
          "interrupted",
          "running",
        ]);
        const finetune = runs.find((r) => r.name === "finetune");
        expect(finetune?.config).toEqual({
          lr: 2e-5,
          model: "bert-base-uncased",
          layers_frozen: [0, 1, 2],
          fp16: false,
          max_len: 128,
        });
        expect(finetune).toMatchObject({ tags: [], notes: null, group: null, jobType: null });
        const unnamed = runs.find((r) => r.name === null);
        expect(unnamed?.config).toEqual({});
        expect(db.getMetrics(unnamed?.id ?? "", "train/loss").steps.length).toBe(200);
        const quick = runs.find((r) => r.name === "quick-check ✓");
        expect(db.getMetrics(quick?.id ?? "", "val/loss").steps.length).toBe(199);
        const diverged = runs.find((r) => r.name === "lr0.01-diverged");
        expect(db.getMetrics(diverged?.id ?? "", "train/loss").steps.length).toBe(110);
        expect((rawDb(target).prepare("SELECT SUM(count) AS n FROM series").get() as { n: number }).n).toBe(22_399);
      } finally {
        db.close();
      }
      const again = await importInto(source, target);
      expect(again.stdout).toMatch(
        /^Imported 0 projects, 0 experiments, 0 runs, 0 points .* 8 runs already there\.\n$/,
      );
    });

    it("merges into experiments of the same name already in the target, keeping both files' runs", async () => {
      const target = backend.newTarget();
      expect((await importInto(fixtureCopy(CURRENT), target)).code).toBe(0);
      const result = await importInto(fixtureCopy(FIRST), target);
      expect(result.stdout).toMatch(/^Imported 0 projects, 1 experiment, 8 runs, 22,399 points /);
      const db = open(target);
      try {
        expect(db.getExperiment("resnet-cifar10")?.runCount).toBe(10);
        expect(db.getExperiment("mnist-mlp")?.runCount).toBe(1);
      } finally {
        db.close();
      }
    });
  });
});

describe("stonks import into a SQLite file", () => {
  it("--dry-run says what it would import and writes nothing, not even a new target file", async () => {
    const source = fixtureCopy(CURRENT);
    const folder = tempDir();
    const target = join(folder, "stonks.db");
    const result = await importInto(source, target, ["--dry-run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      `Would import 2 projects, 3 experiments, 9 runs, 22,855 points from ${source} into ${target}; skipped 15 NaN points and 0 runs already there. Nothing was written (--dry-run).\n`,
    );
    expect(readdirSync(folder)).toEqual([]);

    expect((await importInto(source, target)).code).toBe(0);
    const before = sha256(target);
    const again = await importInto(source, target, ["--dry-run"]);
    expect(again.stdout).toMatch(/^Would import 0 projects, 0 experiments, 0 runs, 0 points .* 9 runs already there\./);
    expect(sha256(target)).toBe(before);
  });
});

describe("a file written by the original, opened as a stonks file", () => {
  const hint = (path: string) =>
    `${path} was written by the original stonks package (pjhartout/stonks), whose layout this stonks does not open; stonks left it untouched. Import it with: stonks import ${path} --db NEW.db`;

  for (const name of [CURRENT, FIRST]) {
    it(`makes open() and openDatabase() say how to import it (${name}), leaving it untouched`, () => {
      const path = fixtureCopy(name);
      const before = sha256(path);
      expect(() => open(path)).toThrow(NotAStonksFileError);
      expect(() => open(path)).toThrow(hint(path));
      expect(() => openDatabase(path)).toThrow(hint(path));
      expect(sha256(path)).toBe(before);
      expect(folderListing(path)).toEqual([name]);
    });
  }

  for (const args of [["ls"], ["serve", "--port", "0"], ["info"]]) {
    it(`makes \`stonks ${args.join(" ")}\` print that one line and exit 1`, async () => {
      expect(existsSync(CLI), "npm run build first").toBe(true);
      const path = fixtureCopy(CURRENT);
      const before = sha256(path);
      const result = await stonks([...args, "--db", path]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toBe(`stonks: ${hint(path)}\n`);
      expect(sha256(path)).toBe(before);
      expect(folderListing(path)).toEqual([CURRENT]);
    });
  }

  it("is refused as a source when it is not the original's (a stonks file), in one line", async () => {
    const target = join(tempDir(), "stonks.db");
    openDatabase(target).close();
    const other = join(tempDir(), "other.db");
    openDatabase(other).close();
    const result = await importInto(other, target);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `stonks: ${other} was not written by the original stonks package (it lacks its experiments, runs and metrics tables); nothing was imported.\n`,
    );
    const missing = await importInto(join(tempDir(), "nothing.db"), target);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^stonks: No file at .*nothing\.db\. Pass the path of a database the original stonks wrote\.\n$/,
    );
  });
});
