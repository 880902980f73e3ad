// The layer rule of docs/architecture.md: the server, the CLI and the dashboard reach storage only
// through the query layer. Biome's noRestrictedImports enforces it (biome.jsonc, "overrides"), so
// `npm run lint` fails the build on an import of src/store from those folders.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./support/helpers.js";

const BIOME = join(ROOT, "node_modules", "@biomejs", "biome", "bin", "biome");
const RULE = "style/noRestrictedImports";

function lint(paths: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [BIOME, "lint", `--only=${RULE}`, ...paths], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

/** Lints a file placed in `folder` that imports `specifier`, then removes it. */
function lintImport(folder: string, specifier: string): { status: number | null; output: string } {
  const path = join(folder, `layer-probe-${process.pid}.ts`);
  writeFileSync(join(ROOT, path), `import { probe } from "${specifier}";\n\nexport const used = probe;\n`);
  try {
    return lint([path]);
  } finally {
    rmSync(join(ROOT, path));
  }
}

describe("layer rule", () => {
  it.each([
    ["src/server", "../store/connection.js"],
    ["src/cli", "../store/admin.js"],
    ["src/cli", "../../src/store/reads.js"],
    ["ui/src", "../../src/store/reads.js"],
    ["ui/src/components", "../../../src/store/connection.js"],
  ])("fails lint for an import of the store from %s (%s)", (folder, specifier) => {
    const { status, output } = lintImport(folder, specifier);
    expect(status).not.toBe(0);
    expect(output).toContain("reach storage only through the query layer");
  });

  it.each([
    ["src/server", "../query/service.js"],
    ["src/query", "../store/connection.js"],
    ["ui/src", "./store/runs.js"],
  ])("allows %s to import %s", (folder, specifier) => {
    const { status, output } = lintImport(folder, specifier);
    expect(output).not.toContain("reach storage only through the query layer");
    expect(status).toBe(0);
  });

  it("holds for the code as it is", () => {
    const { status, output } = lint(["src/server", "src/cli", "ui/src"]);
    expect(output).not.toContain("reach storage only through the query layer");
    expect(status).toBe(0);
  });
});
