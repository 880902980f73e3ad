// The read side of projects in the TypeScript query API: open(path).listProjects(), listExperiments({ projectId }),
// on both backends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open } from "../src/query/database.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { ensureProject } from "../src/store/projects.js";
import { backends } from "./support/backends.js";
import { populateRuns } from "./support/server-support.js";

function populated(path: string): { path: string; vision: string } {
  populateRuns(path, [{ experiment: "resnet" }, { experiment: "vit" }, { experiment: "loose" }]);
  const db = openDatabase(path);
  try {
    const vision = runImmediate(db, () => {
      const id = ensureProject(db, "vision", 1_700_000_000);
      // Get-or-create by name: the second call finds the first project.
      expect(ensureProject(db, "vision", 1_800_000_000)).toBe(id);
      ensureProject(db, "audio", 1_700_000_001);
      db.prepare("UPDATE experiments SET project_id = ? WHERE name IN ('resnet', 'vit')").run(id);
      return id;
    });
    return { path, vision };
  } finally {
    db.close();
  }
}

describe.each(backends())("projects in the query API on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  it("listProjects() gives every project by name with its experiment count", () => {
    const { path, vision } = populated(backend.newTarget());
    const db = open(path);
    try {
      expect(db.listProjects()).toEqual([
        { id: expect.any(String), name: "audio", createdAt: 1_700_000_001, experimentCount: 0 },
        { id: vision, name: "vision", createdAt: 1_700_000_000, experimentCount: 2 },
      ]);
    } finally {
      db.close();
    }
  });

  it("experiments carry projectId and listExperiments({ projectId }) keeps that project's", () => {
    const { path, vision } = populated(backend.newTarget());
    const db = open(path);
    try {
      expect(db.listExperiments().map((e) => [e.name, e.projectId])).toEqual([
        ["loose", null],
        ["resnet", vision],
        ["vit", vision],
      ]);
      expect(db.listExperiments({ projectId: vision }).map((e) => e.name)).toEqual(["resnet", "vit"]);
      expect(db.listExperiments({ projectId: "unknown" })).toEqual([]);
      expect(db.getExperiment("loose")?.projectId).toBeNull();
    } finally {
      db.close();
    }
  });
});
