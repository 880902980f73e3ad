// `stonks import mlflow` through the real CLI, on an mlruns file store and a SQLite tracking
// database that the real MLflow client wrote (tests/fixtures/interop/mlflow/generate.py, whose
// formula this test repeats: run i logs loss = 1 / (step + 1) + i at steps 0..4, at T0 + 10 i + step).
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileLines, parseMetaYaml } from "../src/interop/mlflow.js";
import { mlflowStatus, paramValue, splitMlflowTags } from "../src/interop/mlflow-values.js";
import { foreignRunId } from "../src/query/import-foreign.js";
import { openService } from "../src/query/service.js";
import { FIXTURES, stonks, tempDb, tempDir } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

const HERE = join(FIXTURES, "interop", "mlflow");
const MLRUNS = join(HERE, "mlruns");
const DATABASE = join(HERE, "mlflow.db");
const T0 = 1_700_000_000;

interface Expected {
  name: string;
  experiment: string;
  status: string;
  config: Record<string, string | number>;
  tags: string[];
  notes: string | null;
  group: string | null;
}

const RUNS: Expected[] = [
  {
    name: "resnet-a",
    experiment: "vision",
    status: "completed",
    config: { lr: 0.001, batch_size: 32, optimizer: "adam", seed: "0042" },
    tags: ["stage=baseline", "team=vision"],
    notes: "first try",
    group: null,
  },
  {
    name: "resnet-b",
    experiment: "vision",
    status: "failed",
    config: { lr: 1e-5, batch_size: 64, optimizer: "sgd", seed: 7 },
    tags: ["team=vision"],
    notes: null,
    group: null,
  },
  {
    name: "sweep",
    experiment: "nlp",
    status: "completed",
    config: { search: "grid" },
    tags: [],
    notes: null,
    group: null,
  },
  {
    name: "trial-0",
    experiment: "nlp",
    status: "interrupted",
    config: { lr: 0.1, dropout: 0.5 },
    tags: ["team=nlp"],
    notes: null,
    group: "sweep",
  },
  {
    name: "trial-1",
    experiment: "nlp",
    status: "running",
    config: { lr: 0.2, dropout: 0.25 },
    tags: [],
    notes: null,
    group: "sweep",
  },
];

function summary(verb: "Imported" | "Would import", what: string, source: string, target: string, tail: string) {
  return `${verb} ${what} from mlflow ${source} into ${target}; skipped ${tail}.`;
}

function checkImported(path: string, experimentOverride?: string): void {
  const db = openService(path);
  try {
    const experiments = db.listExperiments().map((e) => e.name);
    expect(experiments.sort()).toEqual(experimentOverride ? [experimentOverride] : ["nlp", "vision"]);
    for (const [index, expected] of RUNS.entries()) {
      const experiment = db.getExperiment(experimentOverride ?? expected.experiment);
      const run = db.listRuns(experiment?.id).find((r) => r.name === expected.name);
      expect(run, expected.name).toBeDefined();
      const view = db.runView(run?.id ?? "");
      expect(view).toMatchObject({
        status: expected.status,
        config: expected.config,
        tags: expected.tags,
        notes: expected.notes,
        group: expected.group,
        jobType: null,
        createdAt: T0 + 10 * index,
        endedAt: expected.status === "running" ? null : T0 + 10 * index + 60,
      });
      expect(Object.keys(view?.config ?? {}).sort()).toEqual(Object.keys(expected.config).sort());
      expect(view?.provenance).toMatchObject({
        command: "train.py",
        gitCommit: index.toString(16).repeat(40),
        sdkLanguage: "mlflow",
      });
      const loss = db.getMetrics(run?.id ?? "", "loss");
      expect(Array.from(loss.steps)).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(loss.values)).toEqual([0, 1, 2, 3, 4].map((step) => 1 / (step + 1) + index));
      expect(Array.from(loss.timestamps)).toEqual([0, 1, 2, 3, 4].map((step) => T0 + 10 * index + step));
      // The NaN point is skipped; the point logged for step 1 after step 3 is kept with its own time.
      const acc = db.getMetrics(run?.id ?? "", "val/acc");
      expect(Array.from(acc.steps)).toEqual([1, 3]);
      expect(Array.from(acc.values)).toEqual([0.25 + index, 0.5 + index]);
      expect(Array.from(acc.timestamps)).toEqual([T0 + 10 * index + 4, T0 + 10 * index + 3]);
    }
  } finally {
    db.close();
  }
}

describe("stonks import mlflow", () => {
  const ALL = "2 experiments, 5 runs, 35 points";
  const NONE_SKIPPED = "0 runs already there and 5 points that cannot be stored";

  it.each([
    ["an mlruns folder", MLRUNS],
    ["a SQLite database by path", DATABASE],
    ["a sqlite:/// URI", `sqlite:///${DATABASE}`],
  ])(
    "imports %s: runs, params as config, tags, notes, statuses, steps, values and times; a second import adds nothing",
    async (_, source) => {
      const target = tempDb();
      const first = await stonks(["import", "mlflow", source, "--db", target]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout.trim()).toBe(summary("Imported", ALL, source, target, NONE_SKIPPED));
      checkImported(target);

      const again = await stonks(["import", "mlflow", source, "--db", target]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).toBe(
        summary(
          "Imported",
          "0 experiments, 0 runs, 0 points",
          source,
          target,
          "5 runs already there and 5 points that cannot be stored",
        ),
      );
    },
  );

  it("reads a metric file of several blocks point by point: lines across blocks, CRLF, no last newline", async () => {
    const store = join(tempDir(), "mlruns");
    cpSync(MLRUNS, store, { recursive: true });
    const runDir = join(store, "704178456576054021", "68f5201837d0420497a842332cb02eb2");
    // 80,000 points, about 2.5 MB: the reader's 1 MiB blocks end inside lines.
    const count = 80_000;
    const lines = Array.from({ length: count }, (_, i) => `${(T0 + i) * 1000} ${i / 8} ${i}`);
    writeFileSync(join(runDir, "metrics", "loss"), lines.join("\r\n"));
    const target = tempDb();
    expect((await stonks(["import", "mlflow", store, "--db", target])).code).toBe(0);
    const db = openService(target);
    try {
      const loss = db.getMetrics(foreignRunId("mlflow", "68f5201837d0420497a842332cb02eb2"), "loss");
      expect(loss.steps.length).toBe(count);
      expect(Array.from(loss.steps.subarray(count - 3))).toEqual([count - 3, count - 2, count - 1]);
      expect(Array.from(loss.values.subarray(count - 3))).toEqual([count - 3, count - 2, count - 1].map((i) => i / 8));
      expect(loss.steps.every((step, i) => step === i)).toBe(true);
    } finally {
      db.close();
    }
  });

  it("splits a file into its lines whatever the block size: characters of several bytes cut by a block", () => {
    const file = join(tempDir(), "lines.txt");
    const text = "a\n\nλx → y\r\n€€€\n\nlast";
    writeFileSync(file, text);
    for (const block of [1, 2, 3, 5, 7, 64])
      expect([...fileLines(file, block)], `block ${block}`).toEqual(text.split("\n"));
    writeFileSync(file, "ends\n");
    expect([...fileLines(file, 2)]).toEqual(["ends"]);
    writeFileSync(file, "");
    expect([...fileLines(file, 4)]).toEqual([]);
  });

  it("gives each run the id derived from its MLflow run id", async () => {
    const target = tempDb();
    expect((await stonks(["import", "mlflow", MLRUNS, "--db", target])).code).toBe(0);
    const mlflowIds = readdirSync(MLRUNS)
      .filter((dir) => existsSync(join(MLRUNS, dir, "meta.yaml")))
      .flatMap((dir) =>
        readdirSync(join(MLRUNS, dir)).filter((run) => existsSync(join(MLRUNS, dir, run, "meta.yaml"))),
      );
    expect(mlflowIds).toHaveLength(5);
    const db = openService(target);
    try {
      for (const id of mlflowIds) expect(db.hasRun(foreignRunId("mlflow", id)), id).toBe(true);
    } finally {
      db.close();
    }
  });

  it("puts every run in the --experiment given", async () => {
    const target = tempDb();
    const result = await stonks(["import", "mlflow", DATABASE, "--db", target, "--experiment", "from-mlflow"]);
    expect(result.code, result.stderr).toBe(0);
    checkImported(target, "from-mlflow");
  });

  it("writes nothing with --dry-run, not even the target file", async () => {
    const target = tempDb();
    const result = await stonks(["import", "mlflow", MLRUNS, "--db", target, "--dry-run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(
      `${summary("Would import", ALL, MLRUNS, target, NONE_SKIPPED).slice(0, -1)}. Nothing was written (--dry-run).`,
    );
    expect(existsSync(target)).toBe(false);
  });

  it("finds the mlruns folder inside the project folder given", async () => {
    const project = tempDir();
    const store = join(project, "mlruns");
    mkdirSync(join(store, "1", "abc"), { recursive: true });
    writeFileSync(join(store, "1", "meta.yaml"), "experiment_id: '1'\nlifecycle_stage: active\nname: 'it''s'\n");
    writeFileSync(
      join(store, "1", "abc", "meta.yaml"),
      "run_id: abc\nstatus: 3\nstart_time: 1700000000000\nend_time: 1700000001000\nlifecycle_stage: active\n",
    );
    mkdirSync(join(store, "1", "abc", "metrics"));
    writeFileSync(join(store, "1", "abc", "metrics", "loss"), "1700000000000 1.5 0\n1700000000500 inf 1\n");
    const target = tempDb();
    const result = await stonks(["import", "mlflow", project, "--db", target]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("1 experiment, 1 run, 1 point");
    expect(result.stdout).toContain("1 point that cannot be stored");
    const db = openService(target);
    try {
      expect(db.listExperiments().map((e) => e.name)).toEqual(["it's"]);
      expect(db.runView(foreignRunId("mlflow", "abc"))).toMatchObject({ status: "completed", endedAt: T0 + 1 });
    } finally {
      db.close();
    }
  });

  it("refuses what is not an MLflow store with one line and exit status 1", async () => {
    const stonksFile = tempDb();
    populateRuns(stonksFile, [{ experiment: "e", name: "r", metrics: { loss: [1] } }]);
    const notSqlite = join(tempDir(), "notes.db");
    writeFileSync(notSqlite, "not a database, just text that is long enough to have a header of sorts\n");
    const emptyFolder = tempDir();
    const cases: [string, RegExp][] = [
      [join(tempDir(), "missing"), /^stonks: No MLflow store at .*missing; pass an mlruns folder/],
      [stonksFile, /is a SQLite file without MLflow's tables/],
      [notSqlite, /is not an MLflow SQLite database \(/],
      [emptyFolder, /holds no MLflow experiments \(folders with a meta\.yaml\); pass the mlruns folder/],
      ["postgresql://db.example/mlflow", /not postgresql:\/\/ ones/],
      [`sqlite:///${emptyFolder}`, /is a folder, not an MLflow SQLite database/],
    ];
    for (const [source, message] of cases) {
      const target = tempDb();
      const result = await stonks(["import", "mlflow", source, "--db", target]);
      expect(result.code, source).toBe(1);
      expect(result.stdout, source).toBe("");
      expect(result.stderr.trim().split("\n"), source).toHaveLength(1);
      expect(result.stderr, source).toMatch(message);
      expect(existsSync(target), source).toBe(false);
    }
  });

  it("leaves the database as it was: no journal files beside it", async () => {
    const copy = join(tempDir(), "mlflow.db");
    copyFileSync(DATABASE, copy);
    const target = tempDb();
    const result = await stonks(["import", "mlflow", copy, "--db", target, "--dry-run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(copy, ".."))).toEqual(["mlflow.db"]);
  });
});

describe("MLflow values in stonks terms", () => {
  it("keeps a param a number only when the whole text is one a double holds", () => {
    expect(paramValue("0.001")).toBe(0.001);
    expect(paramValue("1e-05")).toBe(1e-5);
    expect(paramValue("32")).toBe(32);
    expect(paramValue("-2.5E3")).toBe(-2500);
    for (const text of [
      "0042",
      "adam",
      "nan",
      "inf",
      "1.",
      ".5",
      "+1",
      "1 ",
      "",
      "True",
      "12345678901234567890",
      "1e999",
    ]) {
      expect(paramValue(text), text).toBe(text);
    }
  });

  it("maps MLflow statuses, by name and by the file store's numbers", () => {
    expect(["FINISHED", "FAILED", "KILLED", "RUNNING", "SCHEDULED"].map(mlflowStatus)).toEqual([
      "completed",
      "failed",
      "interrupted",
      "running",
      "running",
    ]);
    expect(["3", "4", "5", "1", "2"].map(mlflowStatus)).toEqual([
      "completed",
      "failed",
      "interrupted",
      "running",
      "running",
    ]);
  });

  it("keeps user tags as key=value and puts the system tags stonks has a place for there", () => {
    expect(
      splitMlflowTags([
        ["team", "nlp"],
        ["flag", ""],
        ["mlflow.runName", "r"],
        ["mlflow.note.content", "notes"],
        ["mlflow.source.name", "train.py"],
        ["mlflow.source.git.commit", "abc"],
        ["mlflow.parentRunId", "p"],
        ["mlflow.user", "alice"],
        ["mlflow.source.type", "LOCAL"],
      ]),
    ).toEqual({
      name: "r",
      notes: "notes",
      parentRunId: "p",
      provenance: { command: "train.py", gitCommit: "abc" },
      tags: ["team=nlp", "flag"],
    });
  });

  it("reads the meta.yaml MLflow writes: quoted, folded and null scalars", () => {
    expect(
      parseMetaYaml(
        [
          "artifact_uri: file:///tmp/x",
          "experiment_id: '12'",
          "name: 'it''s a long name",
          "  that goes on'",
          'run_name: "tab\\there"',
          "end_time: null",
          "tags: []",
        ].join("\n"),
      ),
    ).toEqual({
      artifact_uri: "file:///tmp/x",
      experiment_id: "12",
      name: "it's a long name that goes on",
      run_name: "tab\there",
      end_time: null,
      tags: "[]",
    });
  });
});
