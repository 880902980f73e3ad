// Every CLI command as a subprocess of the built CLI (npm run build first):
// output, exit status, and what it did to the database file.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open } from "../src/query/database.js";
import { openDatabase, runImmediate, SCHEMA_VERSION } from "../src/store/connection.js";
import { pgSchemaVersion } from "../src/store/pg/schema.js";
import { appendPoints, ensureSeries, insertRun } from "../src/store/writes.js";
import { backends } from "./support/backends.js";
import { CLI, type CliResult, stonks, tempDb, tempDir } from "./support/helpers.js";
import { PROVENANCE, populateRuns } from "./support/server-support.js";

/** A failure prints exactly one line on stderr and exits non-zero. */
function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(/^stonks: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`) and types `answer` at its prompt. */
function onTerminal(args: string[], answer: string): CliResult {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const result = spawnSync("script", ["-qec", command, "/dev/null"], { input: `${answer}\n`, encoding: "utf8" });
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

const NOW = Date.now() / 1000;
const DAY = 86400;

function populateLab(dbPath: string): string[] {
  return populateRuns(dbPath, [
    {
      experiment: "vision",
      name: "old-failed",
      tags: ["sweep"],
      createdAt: NOW - 40 * DAY,
      status: "failed",
      metrics: { "train/loss": [3, 2], "val,acc": [0.5] },
    },
    { experiment: "vision", name: "good", tags: ["sweep", "best"], createdAt: NOW - 2 * DAY, status: "completed" },
    { experiment: "vision", name: "crashed", createdAt: NOW - DAY, heartbeat: NOW - DAY + 60 },
    { experiment: "vision", name: "live", createdAt: NOW - 60, heartbeat: NOW },
    {
      experiment: "nlp",
      name: "bert",
      createdAt: NOW - 10 * DAY,
      status: "completed",
      metrics: { loss: [1, 0.5, 0.25] },
    },
  ]);
}

describe.each(backends())("CLI commands on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("reading commands", () => {
    let dbPath: string;
    let ids: string[];

    beforeAll(() => {
      dbPath = backend.newTarget();
      ids = populateLab(dbPath);
    });

    it("ls lists experiments with run counts as an aligned table, or JSON", async () => {
      const table = await stonks(["ls", "--db", dbPath]);
      expect(table.code).toBe(0);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^EXPERIMENT\s+RUNS\s+CREATED\s+ID$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
        ["nlp", "1"],
        ["vision", "4"],
      ]);
      // Columns line up: every row has its run count ending where the RUNS header ends.
      const runsEnd = lines[0].indexOf("RUNS") + 4;
      for (const line of lines.slice(1)) expect(line[runsEnd - 1]).toMatch(/\d/);

      const json = JSON.parse((await stonks(["ls", "--db", dbPath, "--json"])).stdout);
      expect(json.map((e: { name: string; run_count: number }) => [e.name, e.run_count])).toEqual([
        ["nlp", 1],
        ["vision", 4],
      ]);
    });

    it("runs lists an experiment's runs newest first, filtered by status and tag", async () => {
      const all = await stonks(["runs", "vision", "--db", dbPath]);
      expect(all.code).toBe(0);
      const rows = all.stdout.trimEnd().split("\n");
      expect(rows[0]).toMatch(/^ID\s+NAME\s+STATUS\s+CREATED\s+DURATION\s+POINTS\s+TAGS$/);
      expect(rows.slice(1).map((r) => r.split(/\s+/).slice(1, 3))).toEqual([
        ["live", "running"],
        ["crashed", "stale"],
        ["good", "completed"],
        ["old-failed", "failed"],
      ]);
      expect(rows[4]).toContain(ids[0].slice(0, 8));

      const names = async (...args: string[]) =>
        JSON.parse((await stonks(["runs", "vision", "--db", dbPath, "--json", ...args])).stdout).map(
          (r: { name: string }) => r.name,
        );
      expect(await names("--status", "stale")).toEqual(["crashed"]);
      expect(await names("--status", "failed,completed")).toEqual(["good", "old-failed"]);
      expect(await names("--tag", "sweep")).toEqual(["good", "old-failed"]);
      expect(await names("--tag", "sweep", "--tag", "best")).toEqual(["good"]);
      const json = JSON.parse((await stonks(["runs", "nlp", "--db", dbPath, "--json"])).stdout);
      expect(json[0].summary.loss).toEqual({ last: 0.25, min: 0.25, max: 1, count: 3, last_step: 2 });

      expectOneLineError(await stonks(["runs", "audio", "--db", dbPath]), 1, /No experiment "audio"/);
      expectOneLineError(await stonks(["runs", "vision", "--db", dbPath, "--status", "done"]), 1, /--status must be/);
    });

    it("info reports counts, size and schema version", async () => {
      const schemaVersion = backend.name === "sqlite" ? SCHEMA_VERSION : pgSchemaVersion();
      const text = await stonks(["info", "--db", dbPath]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(new RegExp(`^schema version\\s+${schemaVersion}$`, "m"));
      expect(text.stdout).toMatch(/^experiments\s+2$/m);
      expect(text.stdout).toMatch(/^runs\s+5 \(2 running, 2 completed, 1 failed\)$/m);
      expect(text.stdout).toMatch(/^points\s+6$/m);
      const json = JSON.parse((await stonks(["info", "--db", dbPath, "--json"])).stdout);
      expect(json).toMatchObject({ schema_version: schemaVersion, experiments: 2, runs: 5, points: 6, series: 3 });
      expect(json.file_bytes).toBeGreaterThan(0);
    });

    it("export writes every point of a run as CSV or JSON, to stdout or a file", async () => {
      const csv = await stonks(["export", ids[0], "--db", dbPath]);
      expect(csv.code).toBe(0);
      expect(csv.stdout).toBe(
        [
          "key,step,value,timestamp",
          `train/loss,0,3,${NOW - 40 * DAY}`,
          `train/loss,1,2,${NOW - 40 * DAY + 1}`,
          `"val,acc",0,0.5,${NOW - 40 * DAY}`,
          "",
        ].join("\n"),
      );
      // A unique prefix of the id is enough.
      const json = JSON.parse((await stonks(["export", ids[4].slice(0, 8), "-f", "json", "--db", dbPath])).stdout);
      expect(json.run).toMatchObject({ id: ids[4], name: "bert", status: "completed" });
      expect(json.metrics.loss).toMatchObject({ steps: [0, 1, 2], values: [1, 0.5, 0.25] });

      const file = join(tempDir(), "out.csv");
      const written = await stonks(["export", ids[4], "-o", file, "--db", dbPath]);
      expect(written.code).toBe(0);
      expect(readFileSync(file, "utf8").split("\n")).toHaveLength(5);
      const jsonFile = join(tempDir(), "out.json");
      expect((await stonks(["export", ids[4], "-f", "json", "-o", jsonFile, "--db", dbPath])).code).toBe(0);
      expect(JSON.parse(readFileSync(jsonFile, "utf8")).metrics.loss.values).toEqual([1, 0.5, 0.25]);

      expectOneLineError(await stonks(["export", "zzzzzzzz", "--db", dbPath]), 1, /No run "zzzzzzzz"/);
      const missingFolder = join(tempDir(), "missing", "x.csv");
      expectOneLineError(
        await stonks(["export", ids[4], "-o", missingFolder, "--db", dbPath]),
        1,
        /Cannot write .*x\.csv: its folder does not exist\. Choose another file with -o\./,
      );
      expect(existsSync(missingFolder)).toBe(false);
      expectOneLineError(
        await stonks(["export", ids[0], "-f", "xml", "--db", dbPath]),
        1,
        /--format must be csv, json or parquet/,
      );
    });

    it("shows an unknown duration for a run that died before its first heartbeat, else the time of its last point", async () => {
      const deadDb = backend.newTarget();
      const created = NOW - 3 * 3600;
      const db = openDatabase(deadDb);
      const started = (name: string) =>
        runImmediate(db, () =>
          insertRun(db, {
            experimentName: "crash",
            name,
            config: {},
            tags: [],
            group: null,
            jobType: null,
            notes: null,
            now: created,
            provenance: PROVENANCE,
          }),
        );
      started("silent");
      const logged = started("logged");
      runImmediate(db, () =>
        appendPoints(
          db,
          ensureSeries(db, logged.seq, "loss"),
          Float64Array.of(0, 1),
          Float64Array.of(1, 0.5),
          Float64Array.of(created + 10, created + 42),
        ),
      );
      db.close();
      const json = JSON.parse((await stonks(["runs", "crash", "--json", "--db", deadDb])).stdout) as {
        name: string;
        stale: boolean;
        duration: number | null;
      }[];
      expect(json.map((r) => [r.name, r.stale, r.duration])).toEqual([
        ["logged", true, 42],
        ["silent", true, null],
      ]);
      const table = (await stonks(["runs", "crash", "--db", deadDb])).stdout.trimEnd().split("\n");
      expect(table[1]).toMatch(/ logged +stale .* 42s +2( |$)/);
      expect(table[2]).toMatch(/ silent +stale .* — +0( |$)/);
    });
  });

  describe("changing commands", () => {
    it("delete refuses without a terminal or -f, asks on a terminal, and deletes with -f", async () => {
      const dbPath = backend.newTarget();
      const ids = populateLab(dbPath);
      const refused = await stonks(["delete", ids[1], "--db", dbPath]);
      expectOneLineError(refused, 1, /Refusing to delete without confirmation.*-f/);

      const declined = onTerminal(["delete", ids[1], "--db", dbPath], "n");
      expect(declined.stdout).toContain("Nothing deleted.");
      const accepted = onTerminal(["delete", "nlp", "--db", dbPath], "y");
      expect(accepted.stdout).toContain("Deleted experiment nlp (1 runs).");

      const forced = await stonks(["delete", ids[1].slice(0, 6), "-f", "--db", dbPath]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toBe(`Deleted run ${ids[1]} (good).\n`);
      expectOneLineError(
        await stonks(["delete", "nothing-like-this", "-f", "--db", dbPath]),
        1,
        /No run or experiment/,
      );

      const db = open(dbPath);
      try {
        expect(db.listExperiments().map((e) => e.name)).toEqual(["vision"]);
        expect(
          db
            .listRuns()
            .map((r) => r.name)
            .sort(),
        ).toEqual(["crashed", "live", "old-failed"]);
      } finally {
        db.close();
      }
    });

    it("gc deletes runs by age and status, removes emptied experiments, and compacts", async () => {
      const dbPath = backend.newTarget();
      populateLab(dbPath);
      expectOneLineError(await stonks(["gc", "--status", "failed", "--db", dbPath]), 1, /Refusing to delete/);
      expectOneLineError(await stonks(["gc", "--before", "soon", "-f", "--db", dbPath]), 1, /--before takes a number/);
      expectOneLineError(await stonks(["gc", "--status", "lost", "-f", "--db", dbPath]), 1, /--status must be/);

      const stale = await stonks(["gc", "--status", "stale", "-f", "--db", dbPath]);
      expect(stale.code).toBe(0);
      expect(stale.stdout).toMatch(/^Deleted 1 runs; .* -> .*\.\n$/);
      const old = await stonks(["gc", "--before", "5", "-f", "--db", dbPath]);
      expect(old.stdout).toMatch(/^Deleted 2 runs/);

      const db = open(dbPath);
      try {
        expect(db.listRuns().map((r) => r.name)).toEqual(["live", "good"]);
        expect(db.listExperiments().map((e) => e.name)).toEqual(["vision"]);
      } finally {
        db.close();
      }
    });

    it("demo writes realistic data: 3 experiments, 30+ runs, a million-point run, failed, interrupted and stale runs", async () => {
      const dbPath = backend.newTarget();
      const result = await stonks(["demo", "--db", dbPath]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/Wrote 3 experiments, 36 runs/);
      const db = open(dbPath);
      try {
        expect(db.listExperiments()).toHaveLength(3);
        const runs = db.listRuns();
        expect(runs.length).toBeGreaterThanOrEqual(30);
        const statuses = new Set(runs.map((r) => (r.stale ? "stale" : r.status)));
        expect([...statuses].sort()).toEqual(["completed", "failed", "interrupted", "stale"]);
        const counts = runs.map((r) => Math.max(0, ...db.getSummaries(r.id).map((s) => s.count)));
        expect(Math.max(...counts)).toBe(1_000_000);
        const sweep = runs.filter((r) => r.group === "lr-bs-sweep");
        expect(new Set(sweep.map((r) => `${r.config.lr}/${r.config.batch_size}/${r.config.optimizer}`)).size).toBe(24);
        expect(runs.some((r) => r.tags.length > 0 && r.notes !== null && r.provenance.gitCommit !== null)).toBe(true);
      } finally {
        db.close();
      }
      const again = await stonks(["demo", "--db", dbPath]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/already has the demo experiments; nothing added/);
      const after = open(dbPath);
      try {
        expect(after.listRuns()).toHaveLength(36);
      } finally {
        after.close();
      }
    });
  });
});

describe("usage", () => {
  it("answers usage mistakes with one line and exit status 2, and help with 0", async () => {
    expectOneLineError(await stonks(["frobnicate"]), 2, /unknown command 'frobnicate'/);
    expectOneLineError(await stonks(["ls", "--verbose"]), 2, /unknown option '--verbose'/);
    expectOneLineError(await stonks(["runs"]), 2, /missing required argument 'experiment'/);
    expectOneLineError(await stonks(["export"]), 2, /missing required argument 'run'/);
    expectOneLineError(await stonks(["serve", "--port", "http"]), 1, /--port must be a whole number/);
    const help = await stonks(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "ls", "runs", "info", "export", "delete", "gc", "demo"]) {
      expect(help.stdout).toContain(command);
    }
  });
});

describe("the CLI on a SQLite file", () => {
  let dbPath: string;

  beforeAll(() => {
    dbPath = tempDb();
    populateLab(dbPath);
  });

  it("takes --db over STONKS_DB over ./stonks.db, and reports a missing file in one line", async () => {
    const viaEnv = await stonks(["ls"], { STONKS_DB: dbPath });
    expect(viaEnv.stdout).toContain("vision");
    const overEnv = await stonks(["ls", "--db", dbPath], { STONKS_DB: join(tempDir(), "elsewhere.db") });
    expect(overEnv.stdout).toContain("vision");
    const missing = await stonks(["ls", "--db", join(tempDir(), "nothing.db")]);
    expectOneLineError(missing, 1, /No stonks database at .*nothing\.db/);
    const neither = await stonks(["ls"], {}, tempDir());
    expectOneLineError(neither, 1, /No stonks database at \.\/stonks\.db/);
  });

  it("info reports the file and its size", async () => {
    const text = await stonks(["info", "--db", dbPath]);
    expect(text.stdout).toMatch(/^database\s+.*stonks\.db$/m);
    const json = JSON.parse((await stonks(["info", "--db", dbPath, "--json"])).stdout);
    expect(json.file_bytes).toBe(statSync(dbPath).size);
  });

  it("gc compaction folds the write-ahead log into the file", async () => {
    const gcDb = tempDb();
    populateLab(gcDb);
    expect((await stonks(["gc", "--status", "stale", "-f", "--db", gcDb])).code).toBe(0);
    expect(existsSync(`${gcDb}-wal`) ? statSync(`${gcDb}-wal`).size : 0).toBe(0);
  });

  it("demo writes into the default database, beside the user's own runs, as serve does", async () => {
    const cwd = tempDir();
    populateRuns(join(cwd, "stonks.db"), [{ experiment: "my-first-experiment", name: "mine", status: "completed" }]);
    const result = await stonks(["demo"], {}, cwd);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/to \.\/stonks\.db in/);
    expect(result.stdout).toMatch(/Look at them: stonks serve\n$/);
    const fromEnv = join(tempDir(), "env.db");
    expect((await stonks(["demo"], { STONKS_DB: fromEnv }, cwd)).code).toBe(0);
    for (const [path, experiments] of [
      [join(cwd, "stonks.db"), 4],
      [fromEnv, 3],
    ] as const) {
      const db = open(path);
      try {
        expect(db.listExperiments()).toHaveLength(experiments);
      } finally {
        db.close();
      }
    }
  });
});
