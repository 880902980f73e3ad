/**
 * `stonks migrate FROM TO` from a SQLite file into a SQLite file or a
 * PostgreSQL database, as a real CLI process (npm run build first):
 * everything copied, nothing twice, an interrupted copy resumed, a progress
 * bar only on a terminal. PostgreSQL as the source is in pg-migrate.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openService } from "../src/query/service.js";
import { backends } from "./support/backends.js";
import { CLI, type CliResult, stonks, tempDir } from "./support/helpers.js";
import {
  expectSameStores,
  killMigrateMidway,
  parseSummary,
  populateBulk,
  populateVariedStore,
  snapshot,
  withService,
} from "./support/migrate-support.js";

function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(/^stonks: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
}

function pointsIn(file: string): number {
  return withService(file, (service) => service.counts().points);
}

function revisions(file: string): Record<string, number> {
  return withService(file, (service) => Object.fromEntries(service.listRuns().map((run) => [run.id, run.revision])));
}

describe.each(backends())("stonks migrate from a SQLite file into $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  test("copies projects, experiments, runs with every point, edits, workspaces and tokens into a new store", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    const to = backend.newTarget();
    withService(from, populateVariedStore);

    const result = await stonks(["migrate", from, to]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const summary = parseSummary(result.stdout);
    expect(summary).toEqual({ experiments: 4, runs: 4, points: pointsIn(from), skippedPoints: 0 });
    expect(result.stdout).toMatch(/, 2 workspaces, 1 projects, 3 tokens;/);
    expectSameStores(from, to);

    // The copied tokens open a server on the new file: their secrets hash the same.
    const tokens = withService(to, (service) =>
      service
        .tokens()
        .list()
        .map((t) => [t.name, t.role, t.revokedAt !== null]),
    );
    expect(tokens).toEqual([
      ["dashboard", "read", false],
      ["admin-2", "admin", false],
      ["old-ci", "write", true],
    ]);
  });

  test("a second run copies nothing and changes nothing", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    const to = backend.newTarget();
    withService(from, populateVariedStore);
    expect((await stonks(["migrate", from, to])).code).toBe(0);
    const before = { store: snapshot(to), revisions: revisions(to) };

    const again = await stonks(["migrate", from, to]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(
      `copied 0 experiments, 0 runs, 0 points, 0 workspaces, 0 projects, 0 tokens; skipped (already there) 4 experiments, 4 runs, ${pointsIn(from)} points\n`,
    );
    expect({ store: snapshot(to), revisions: revisions(to) }).toEqual(before);
  });

  test("after the source grew, a run copies only the new points and edits, and keeps what only TO has", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    const to = backend.newTarget();
    const ids = withService(from, populateVariedStore);
    withService(to, (service) => populateBulk(service, 1, 1, 10));
    expect((await stonks(["migrate", from, to])).code).toBe(0);

    withService(from, (service) => {
      const steps = Float64Array.from({ length: 500 }, (_, i) => 1000 + i);
      service.appendRemotePoints(ids[2], [{ key: "wer", start: 50, steps, values: steps, times: steps }]);
      service.editRun(ids[0], { tags: ["baseline", "sweep", "published"] });
      service.tokens().revoke("dashboard");
    });
    const result = await stonks(["migrate", from, to]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^copied 0 experiments, 2 runs \(2 continued\), 500 points, 0 workspaces, 0 projects, 1 tokens;/,
    );

    // TO holds the source's store plus its own bulk run.
    const own = withService(to, (service) => {
      const bulk = service.getExperiment("bulk");
      const runs = service.listRuns(bulk?.id);
      const only = runs.map((run) => run.id);
      expect(only).toHaveLength(1);
      return only[0];
    });
    withService(to, (service) => service.deleteRuns([own]));
    withService(to, (service) => service.deleteEmptyExperiments());
    withService(from, (service) => service.deleteEmptyExperiments());
    expectSameStores(from, to);
  });

  test("a copy killed midway resumes where it stopped: every run and point once", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    const to = backend.newTarget();
    withService(from, (service) => {
      populateVariedStore(service);
      populateBulk(service, 30, 4, 25_000);
    });
    const total = pointsIn(from);

    const copiedBefore = await killMigrateMidway(from, to, 200_000);
    expect(copiedBefore).toBeLessThan(total);

    const resumed = await stonks(["migrate", from, to]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = parseSummary(resumed.stdout);
    expect(summary.points + summary.skippedPoints).toBe(total);
    expect(summary.skippedPoints).toBe(copiedBefore);
    expectSameStores(from, to);

    const again = parseSummary((await stonks(["migrate", from, to])).stdout);
    expect(again).toEqual({ experiments: 0, runs: 0, points: 0, skippedPoints: total });
  });

  test("draws a progress bar on a terminal's stderr, and nothing without a terminal", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    withService(from, (service) => populateBulk(service, 3, 2, 1_000));
    const command = [process.execPath, CLI, "migrate", from, backend.newTarget()]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const onTerminal = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8" });
    expect(onTerminal.status, onTerminal.stdout).toBe(0);
    expect(onTerminal.stdout).toContain("\r[");
    expect(onTerminal.stdout).toMatch(/\[#+\] 100% {2}6000\/6000 points {2}3\/3 runs/);
    // The bar's line is cleared before the summary.
    expect(onTerminal.stdout).toContain("\r\u001b[Kcopied 1 experiments, 3 runs, 6000 points");

    const piped = await stonks(["migrate", from, backend.newTarget()]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe("");
    expect(piped.stdout).toMatch(/^copied 1 experiments, 3 runs, 6000 points, [^\n]*\n$/);
  });
});

describe("stonks migrate between SQLite files", () => {
  test("mistakes end in one line: no FROM, the same store twice, a TO that is not a stonks file", async () => {
    const dir = tempDir();
    const from = join(dir, "from.db");
    withService(from, (service) => populateBulk(service, 1, 1, 10));
    expectOneLineError(
      await stonks(["migrate", join(dir, "missing.db"), join(dir, "x.db")]),
      /No stonks database at .*missing\.db/,
    );
    expect(existsSync(join(dir, "x.db"))).toBe(false);
    expectOneLineError(await stonks(["migrate", from, join(dir, ".", "from.db")], {}, dir), /same store/);
    const notStonks = join(dir, "notes.txt");
    writeFileSync(notStonks, "shopping list\n".repeat(400));
    expectOneLineError(await stonks(["migrate", from, notStonks]), /notes\.txt/);
    const source = openService(from, { readonly: true });
    expect(source.counts().runs).toBe(1);
    source.close();
  });
});
