// `stonks import mlflow` of one long run, from an mlruns file store and from an MLflow SQLite
// database: peak memory (the process's maximum resident set, GNU time's %M) and wall time of the
// whole CLI process, per run length. The baseline is another build of the CLI on the same files in the same run (BASELINE=path
// to its dist/cli/main.js, e.g. a checkout of an earlier commit), so two readers compare on one
// machine at one time.
//
//   npm run build && BASELINE=/path/to/old/dist/cli/main.js node bench/import_mlflow.mjs
//   (STORES=files,sqlite picks the stores, each writing its own block; POINTS=1000000,4000000 the
//   sizes; REPS=3 the repetitions, medians quoted)
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeResultsBlock } from "./results.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CURRENT = join(ROOT, "dist", "cli", "main.js");
const BASELINE = process.env.BASELINE;
const SIZES = (process.env.POINTS ?? "1000000,4000000").split(",").map(Number);
const REPS = Number(process.env.REPS ?? 3);
const STORES = (process.env.STORES ?? "files,sqlite").split(",");
const FIXTURE_DB = join(ROOT, "tests", "fixtures", "interop", "mlflow", "mlflow.db");

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** An mlruns folder with one experiment, one run and one metric key of `points` lines, as MLflow writes them. */
function writeStore(dir, points) {
  const run = join(dir, "mlruns", "1", "0123456789abcdef0123456789abcdef");
  mkdirSync(join(run, "metrics"), { recursive: true });
  mkdirSync(join(run, "params"));
  mkdirSync(join(run, "tags"));
  writeFileSync(join(dir, "mlruns", "1", "meta.yaml"), "experiment_id: '1'\nlifecycle_stage: active\nname: long\n");
  writeFileSync(
    join(run, "meta.yaml"),
    "run_id: 0123456789abcdef0123456789abcdef\nrun_name: long-run\nstatus: 3\nstart_time: 1700000000000\nend_time: 1700009000000\nlifecycle_stage: active\nexperiment_id: '1'\n",
  );
  const file = join(run, "metrics", "loss");
  const chunk = 100_000;
  writeFileSync(file, "");
  for (let start = 0; start < points; start += chunk) {
    let text = "";
    for (let i = start; i < Math.min(points, start + chunk); i++)
      text += `${1700000000000 + i} ${(2 * Math.exp(-i / 1e6) + 0.01 * Math.sin(i)).toString()} ${i}\n`;
    writeFileSync(file, text, { flag: "a" });
  }
  return { store: join(dir, "mlruns"), bytes: statSync(file).size };
}

/** A copy of the test fixtures' MLflow database (5 runs MLflow wrote) whose first run gets `points` more points of one key. */
async function writeDatabase(dir, points) {
  const { openConnection } = await import("../dist/store/driver.js");
  const path = join(dir, "mlflow.db");
  copyFileSync(FIXTURE_DB, path);
  const db = openConnection(path);
  try {
    const [runId] = db.prepare("SELECT run_uuid FROM runs ORDER BY start_time LIMIT 1").raw(true).get();
    const insert = db.prepare(
      "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('long/loss', ?, ?, ?, ?, 0)",
    );
    db.exec("BEGIN");
    for (let i = 0; i < points; i++)
      insert.run(2 * Math.exp(-i / 1e6) + 0.01 * Math.sin(i), 1700000000000 + i, runId, i);
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  return { store: path, bytes: statSync(path).size };
}

/** One import by one CLI build: peak RSS in MiB, wall seconds, and whether it succeeded. */
function importOnce(entry, store, dir) {
  const db = join(dir, `target-${Math.random().toString(36).slice(2)}.db`);
  const started = performance.now();
  const result = spawnSync(
    "/usr/bin/time",
    ["-f", "%M", process.execPath, entry, "import", "mlflow", store, "--db", db],
    {
      encoding: "utf8",
    },
  );
  const seconds = (performance.now() - started) / 1000;
  rmSync(db, { force: true });
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
  const lines = result.stderr.trim().split("\n");
  const kib = Number(lines.at(-1));
  const ok = result.status === 0;
  return { mib: kib / 1024, seconds, ok, error: ok ? "" : lines.slice(0, -1).join(" ").slice(0, 200) };
}

const builds = [["this build", CURRENT], ...(BASELINE ? [["baseline", BASELINE]] : [])];
for (const kind of STORES) await measure(kind);

/** Every size from one kind of store (`files` or `sqlite`), both builds in alternation; writes its block. */
async function measure(kind) {
  const rows = [];
  for (const points of SIZES) {
    const dir = mkdtempSync(join(tmpdir(), "stonks-bench-mlflow-"));
    try {
      const { store, bytes } = kind === "sqlite" ? await writeDatabase(dir, points) : writeStore(dir, points);
      const per = Object.fromEntries(builds.map(([name]) => [name, []]));
      // In alternation, so both builds see the same machine.
      for (let r = 0; r < REPS; r++) for (const [name, entry] of builds) per[name].push(importOnce(entry, store, dir));
      for (const [name] of builds) {
        const runs = per[name];
        const failed = runs.filter((x) => !x.ok);
        const row = {
          points,
          bytes,
          name,
          mib: median(runs.map((x) => x.mib)),
          seconds: median(runs.map((x) => x.seconds)),
          failed: failed.length,
          error: failed[0]?.error ?? "",
        };
        rows.push(row);
        console.error(
          `${kind}, ${points} points, ${name}: ${row.mib.toFixed(0)} MiB, ${row.seconds.toFixed(2)} s, failed ${row.failed}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const source = kind === "sqlite" ? "database" : "file";
  const table = rows
    .map((row) => {
      const base = rows.find((b) => b.points === row.points && b.name === "baseline");
      const ratio = base && row.name !== "baseline" && base.failed === 0 ? `${(row.mib / base.mib).toFixed(2)}` : "—";
      const outcome = row.failed ? `${row.failed} of ${REPS} failed: ${row.error}` : "ok";
      return `| ${row.points.toLocaleString("en")} (${(row.bytes / 2 ** 20).toFixed(0)} MiB ${source}) | ${row.name} | ${row.mib.toFixed(0)} MiB | ${ratio} | ${row.seconds.toFixed(2)} s | ${outcome} |`;
    })
    .join("\n");
  const cpu = cpus();
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");
  const what =
    kind === "sqlite"
      ? "The test fixtures' MLflow database (5 runs the real MLflow client wrote) with N more points of one key in its first run (rows of its `metrics` table)"
      : 'One experiment, one run, one metric key of N points (an mlruns file store as MLflow writes it: one "timestamp value step" line per point)';
  const baseline = BASELINE
    ? ` Baseline: ${BASELINE.replace(tmpdir(), "$TMPDIR")}, another build of the CLI on the same ${source}s in the same run.`
    : "";
  const markdown = `### Import of one long MLflow run from ${kind === "sqlite" ? "a SQLite database" : "a file store"} (bench/import_mlflow.mjs)

${cpu.length} × ${cpu[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}; load average ${load} when the run ended. ${what}. \`stonks import mlflow <${kind === "sqlite" ? "mlflow.db" : "mlruns"}> --db <new file>\` as a whole CLI process under GNU time: its peak resident memory and wall time, medians of ${REPS} imports, the builds in alternation.${baseline}

| points | CLI | peak RSS | / baseline | wall time | outcome |
|---|---|---|---|---|---|
${table}
`;
  if (!process.env.NO_WRITE)
    writeResultsBlock(
      "## Import (bench/import_*.mjs)",
      "Imports of other trackers' files through the real CLI. Each benchmark rewrites only its own block below.",
      `import-mlflow-${kind}`,
      markdown,
    );
  console.log(markdown);
}
