// The npm package as a user gets it: `npm pack`, installed into a fresh
// project with the README's command, runs `npx stonks ls --json` and
// `npx stonks serve`, and its type declarations compile in a strict consumer
// (skipLibCheck off) that has none of our devDependencies.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./support/helpers.js";
import { commandLines, type Finished, readmeBlock, run, shell } from "./support/package-support.js";

const TARBALL = "stonks-0.1.0.tgz";
const base = tempDir("stonks-npm-");
const app = join(base, "app");

function env(): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: "false", npm_config_fund: "false" };
  for (const name of ["STONKS_DB", "STONKS_TOKEN", "NODE_PATH"]) delete copy[name];
  // npm test sets npm_* variables for its own package; the consumer must not inherit them.
  for (const name of Object.keys(copy))
    if (name.startsWith("npm_package_") || name === "npm_lifecycle_event") delete copy[name];
  return copy;
}

function expectOk(result: Finished, what: string): void {
  expect(result.code, `${what}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
}

function consumerTsconfig(include: string[]) {
  return {
    compilerOptions: {
      strict: true,
      skipLibCheck: false,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      types: ["node"],
      outDir: "out",
    },
    include,
  };
}

/** Our TypeScript compiler, run in the consumer: the compiler is a tool, not a type dependency. */
function tsc(args: string[]): Promise<Finished> {
  return run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), ...args], {
    cwd: app,
    env: env(),
  });
}

beforeAll(async () => {
  // The README's layout: the clone is ../stonks from the user's project.
  const clone = join(base, "stonks");
  mkdirSync(clone);
  mkdirSync(app);
  expectOk(await run("npm", ["pack", "--pack-destination", clone], { cwd: ROOT, env: env() }), "npm pack");
  expect(existsSync(join(clone, TARBALL))).toBe(true);
  writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "consumer", private: true, type: "module" })}\n`);
  for (const line of commandLines("npm-install")) {
    expectOk(await shell(line, { cwd: app, env: env(), timeoutMs: 600_000 }), line);
  }
  // The consumer's own dev dependency: Node's types (our declarations use Buffer and node: modules).
  expectOk(
    await run("npm", ["install", "--no-save", "@types/node@~20.19.0"], { cwd: app, env: env(), timeoutMs: 300_000 }),
    "npm install @types/node",
  );
}, 900_000);

let serving: ChildProcess | null = null;
afterAll(() => {
  if (serving?.pid !== undefined && serving.exitCode === null) process.kill(-serving.pid, "SIGKILL");
});

describe("the npm tarball, installed into a fresh project", () => {
  it("packs the built code, types, schema and dashboard, and no tests or sources", async () => {
    const listing = await run("tar", ["-tzf", join(base, "stonks", TARBALL)], { cwd: base, env: env() });
    expectOk(listing, "tar -t");
    const files = listing.stdout.split("\n").filter((f) => f !== "");
    for (const file of [
      "package/dist/cli/main.js",
      "package/dist/index.d.ts",
      "package/dist/integrations/tfjs.js",
      "package/dist/integrations/tfjs.d.ts",
      "package/dist/store/migrations/0001_initial.sql",
      "package/ui/dist/index.html",
    ]) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => /^package\/(tests|src|python|wheelhouse)\//.test(f))).toEqual([]);
  });

  it("runs the README's TypeScript in the consumer, and npx stonks ls --json lists its run", async () => {
    // trainStep is the user's; a function declaration is hoisted, so it can follow the snippet.
    writeFileSync(
      join(app, "index.ts"),
      `${readmeBlock("ts-log")}\nfunction trainStep(): number {\n  return 0.5;\n}\n`,
    );
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(consumerTsconfig(["index.ts"])));
    // Emitted without checking here; the next test checks the types.
    expectOk(await tsc(["-p", ".", "--noCheck"]), "tsc --noCheck");
    expectOk(await run(process.execPath, ["out/index.js"], { cwd: app, env: env() }), "node out/index.js");

    const [ls] = commandLines("npm-cli");
    expect(ls).toBe("npx stonks ls --json");
    const listed = await shell(ls, { cwd: app, env: env() });
    expectOk(listed, ls);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((e) => e.name)).toEqual(["my-first-experiment"]);
  });

  it("type-checks the README's TypeScript and the public types in a strict consumer with skipLibCheck off", async () => {
    writeFileSync(
      join(app, "index.ts"),
      `${readmeBlock("ts-log")}\nfunction trainStep(): number {\n  return 0.5;\n}\n`,
    );
    writeFileSync(
      join(app, "types.ts"),
      [
        'import { open, type RunInfo, type StartRunOptions, StonksDatabase } from "stonks";',
        "export const options: StartRunOptions = { config: { lr: 0.1 }, tags: ['a'] };",
        "export function names(db: StonksDatabase): (string | null)[] {",
        "  return db.listRuns().map((run: RunInfo) => run.name);",
        "}",
        "export const opener: typeof open = open;",
        'import { stonksCallback, type StonksCallbackOptions } from "stonks/tfjs";',
        "export const tfjsOptions: StonksCallbackOptions = { experiment: 'tfjs', logEveryNBatches: 10 };",
        "export const makeCallback: typeof stonksCallback = stonksCallback;",
        "",
      ].join("\n"),
    );
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(consumerTsconfig(["index.ts", "types.ts"])));
    // Fails with "Could not find a declaration file for module 'better-sqlite3'" while the
    // store's public declarations import better-sqlite3 (its types are our devDependency).
    expectOk(await tsc(["-p", ".", "--noEmit"]), "tsc --noEmit in the strict consumer");
  });

  it("serves the dashboard and the API with npx stonks serve", async () => {
    const [, serveLine] = commandLines("npm-cli");
    expect(serveLine).toBe("npx stonks serve");
    // Its own process group, so npx and the node it starts stop together.
    serving = spawn("/bin/sh", ["-c", `exec ${serveLine} --port 0 --db served.db`], {
      cwd: app,
      env: env(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = serving;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npx stonks serve printed no URL; stderr: ${stderr}`)), 120_000);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const match = /dashboard: (http:\/\/\S+?)\/$/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on("close", (code) => reject(new Error(`npx stonks serve exited (${code}); stderr: ${stderr}`)));
    });
    expect(await (await fetch(`${url}/api/experiments`)).json()).toEqual([]);
    expect(await (await fetch(`${url}/api/info`)).json()).toEqual({ db: join(app, "served.db") });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /src="\.?(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    expect((await fetch(`${url}${script}`)).status).toBe(200);
    const closed = new Promise((resolve) => child.on("close", resolve));
    process.kill(-child.pid!, "SIGTERM");
    await closed;
  });

  it("ships package.json with the bin the README's npx line runs", () => {
    const installed = JSON.parse(readFileSync(join(app, "node_modules", "stonks", "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    expect(installed.bin.stonks).toBe("./dist/cli/main.js");
  });
});
