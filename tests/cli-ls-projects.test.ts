// `stonks ls` with projects: a PROJECT column once the file has projects, and the project in --json.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { ensureProject } from "../src/store/projects.js";
import { backends } from "./support/backends.js";
import { ROOT } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

const CLI = join(ROOT, "dist", "cli", "main.js");

function ls(dbPath: string, ...extra: string[]): string {
  return execFileSync(process.execPath, [CLI, "ls", "--db", dbPath, ...extra], {
    env: { ...process.env, STONKS_DB: "", STONKS_LOG_LEVEL: "warn" },
    encoding: "utf8",
  });
}

describe.each(backends())("stonks ls and projects on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("stonks ls and projects", () => {
    it("shows each experiment's project in a PROJECT column and in --json", () => {
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ experiment: "resnet" }, { experiment: "loose" }]);
      const db = openDatabase(dbPath);
      const vision = runImmediate(db, () => {
        const id = ensureProject(db, "vision");
        db.prepare("UPDATE experiments SET project_id = ? WHERE name = 'resnet'").run(id);
        return id;
      });
      db.close();

      const lines = ls(dbPath).trimEnd().split("\n");
      expect(lines[0]).toMatch(/^PROJECT\s+EXPERIMENT\s+RUNS\s+CREATED\s+ID$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
        ["-", "loose", "1"],
        ["vision", "resnet", "1"],
      ]);

      const json = JSON.parse(ls(dbPath, "--json")) as {
        name: string;
        project_id: string | null;
        project: string | null;
      }[];
      expect(json.map((e) => [e.name, e.project_id, e.project])).toEqual([
        ["loose", null, null],
        ["resnet", vision, "vision"],
      ]);
    });

    it("leaves the column out of a file without projects, and --json says null", () => {
      const dbPath = backend.newTarget();
      populateRuns(dbPath, [{ experiment: "only" }]);
      expect(ls(dbPath).split("\n")[0]).toMatch(/^EXPERIMENT\s+RUNS/);
      expect(JSON.parse(ls(dbPath, "--json"))).toMatchObject([{ name: "only", project_id: null, project: null }]);
    });
  });
});
