// The package's type declarations name no driver's types: a strict consumer (skipLibCheck false)
// without our devDependencies (no @types/better-sqlite3) compiles against dist/index.d.ts. The
// connection under StonksDatabase is not part of them: storage is reached through its methods.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./support/helpers.js";

/** Type-checks `source` as index.ts of a strict project that depends on the built package. */
function compileConsumer(source: string): { status: number | null; output: string } {
  const project = tempDir();
  const modules = join(project, "node_modules");
  mkdirSync(join(modules, "stonks"), { recursive: true });
  mkdirSync(join(modules, "@types"));
  cpSync(join(ROOT, "dist"), join(modules, "stonks", "dist"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(modules, "stonks", "package.json"));
  for (const dependency of ["@hono", "hono", "commander", "zod", "@types/node"]) {
    symlinkSync(join(ROOT, "node_modules", dependency), join(modules, dependency));
  }
  writeFileSync(join(project, "package.json"), '{ "type": "module" }\n');
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
      },
      include: ["index.ts"],
    }),
  );
  writeFileSync(join(project, "index.ts"), source);
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", project], {
    encoding: "utf8",
  });
  return { status: tsc.status, output: tsc.stdout + tsc.stderr };
}

describe("public type declarations", () => {
  it("compile in a strict consumer that has the runtime dependencies and @types/node only", () => {
    const { status, output } = compileConsumer(
      `import { open, type RunInfo, type StonksDatabase, startRun } from "stonks";
const db: StonksDatabase = open("x.db");
const runs: RunInfo[] = db.listRuns();
console.log(runs.length, db.path);
await startRun("exp", {}, async (run) => run.log({ loss: 1 }));
`,
    );
    expect(output).toBe("");
    expect(status).toBe(0);
  });

  it("keep the database connection out of reach", () => {
    const { status, output } = compileConsumer(
      `import { open } from "stonks";
console.log(open("x.db").connection);
`,
    );
    expect(output).toMatch(/Property 'connection' is protected/);
    expect(status).not.toBe(0);
  });
});
