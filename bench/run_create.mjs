// Creating a run in an experiment that already has many runs: the new run's palette index
// (runs.color_index) reads the experiment's 13 newest runs. Measures milliseconds per created
// run (insertRun in its own write transaction) with the index runs_by_experiment_seq, and with
// it dropped, at 1,000 / 5,000 / 10,000 runs in the experiment. Medians of 5 rounds of 200.
// Run: npm run build && node bench/run_create.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, runImmediate } from "../dist/store/connection.js";
import { insertRun } from "../dist/store/writes.js";
import { writeResultsBlock } from "./results.mjs";

const SIZES = [1000, 5000, 10_000];
const ROUNDS = 5;
const PER_ROUND = 200;
const provenance = {
  host: null,
  pid: null,
  command: null,
  cwd: null,
  gitCommit: null,
  gitDirty: null,
  sdkLanguage: "typescript",
  sdkVersion: null,
};

function measure(withIndex) {
  const dir = mkdtempSync(join(tmpdir(), "stonks-run-create-"));
  const db = openDatabase(join(dir, "runs.db"));
  if (!withIndex) db.exec("DROP INDEX runs_by_experiment_seq");
  const create = () =>
    runImmediate(db, () =>
      insertRun(db, {
        experimentName: "sweep",
        name: null,
        config: {},
        tags: [],
        group: null,
        jobType: null,
        notes: null,
        now: Date.now() / 1000,
        provenance,
      }),
    );
  const out = {};
  let count = 0;
  for (const size of SIZES) {
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (; count < size; count++) create();
      const start = performance.now();
      for (let i = 0; i < PER_ROUND; i++) create();
      count += PER_ROUND;
      rounds.push((performance.now() - start) / PER_ROUND);
    }
    rounds.sort((a, b) => a - b);
    out[size] = rounds[Math.floor(ROUNDS / 2)];
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const indexed = measure(true);
const scanned = measure(false);
const row = (label, r) => `| ${label} | ${SIZES.map((s) => r[s].toFixed(3)).join(" | ")} |`;
const table = [
  `| ms per created run, runs already in the experiment | ${SIZES.map((s) => s.toLocaleString("en")).join(" | ")} |`,
  `|---|${SIZES.map(() => "---:").join("|")}|`,
  row("with runs_by_experiment_seq (migration 3)", indexed),
  row("without it (sorts the experiment's runs)", scanned),
].join("\n");
console.log(table);
writeResultsBlock(
  "## Run creation (issue 10, part 3: stored run colours)",
  "A new run's palette index reads its experiment's 13 newest runs (docs/schema.md, runs.color_index).",
  "run-create",
  `### Creating a run in a large experiment (bench/run_create.mjs)\n\nMedians of ${ROUNDS} rounds of ${PER_ROUND} runs, each in its own write transaction; ${cpus().length}-core VM shared with other work, Node ${process.versions.node}.\n\n${table}`,
);
