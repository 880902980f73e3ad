import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

describe("npm run typecheck", () => {
  it("checks the dashboard (ui/) as well as the server and SDK", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const steps = pkg.scripts.typecheck.split("&&").map((s) => s.trim());
    expect(steps).toContain("tsc -p tsconfig.json --noEmit");
    expect(steps).toContain("tsc -p ui/tsconfig.json --noEmit");
    // The dashboard's project covers its sources (ui/src), which the root project leaves out.
    const ui = JSON.parse(readFileSync(join(root, "ui/tsconfig.json"), "utf8")) as { include: string[] };
    expect(ui.include).toContain("src");
  });
});
