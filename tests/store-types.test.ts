// The package's type declarations name no driver's types: a strict consumer (skipLibCheck false)
// without our devDependencies (no @types/better-sqlite3) compiles against dist/index.d.ts.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./helpers.js";

describe("public type declarations", () => {
  it("compile in a strict consumer that has the runtime dependencies and @types/node only", () => {
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
    writeFileSync(
      join(project, "index.ts"),
      `import { open, type StonksDatabase, startRun } from "stonks";
const db: StonksDatabase = open("x.db");
const first: unknown = db.connection.prepare("SELECT 1").pluck(true).get();
const driver: "node" | "better-sqlite3" = db.connection.driver;
console.log(first, driver);
await startRun("exp", {}, async (run) => run.log({ loss: 1 }));
`,
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", project], {
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  });
});
