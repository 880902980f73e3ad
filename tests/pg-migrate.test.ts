import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { stonks, tempDir } from "./support/helpers.js";
import {
  expectSameStores,
  killMigrateMidway,
  parseSummary,
  populateBulk,
  populateVariedStore,
  snapshot,
  withService,
} from "./support/migrate-support.js";
import { createTestDatabase, type TestDatabase } from "./support/postgres.js";

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

async function freshDatabase(): Promise<string> {
  const database = await createTestDatabase();
  databases.push(database);
  return database.url;
}

function pointsIn(target: string): number {
  return withService(target, (service) => service.counts().points);
}

describe("stonks migrate with PostgreSQL", () => {
  test("a SQLite file into an empty PostgreSQL database: everything, then nothing the second time", async () => {
    const file = join(tempDir(), "lab.db");
    withService(file, populateVariedStore);
    const url = await freshDatabase();

    const first = await stonks(["migrate", file, url]);
    expect(first.code, first.stderr).toBe(0);
    expect(parseSummary(first.stdout)).toEqual({ experiments: 4, runs: 4, points: pointsIn(file), skippedPoints: 0 });
    expectSameStores(file, url);

    const before = snapshot(url);
    const again = await stonks(["migrate", file, url]);
    expect(again.code, again.stderr).toBe(0);
    expect(parseSummary(again.stdout)).toEqual({ experiments: 0, runs: 0, points: 0, skippedPoints: pointsIn(file) });
    expect(snapshot(url)).toEqual(before);
  });

  test("a PostgreSQL database into a new SQLite file (a backup), and back into another database", async () => {
    const source = await freshDatabase();
    withService(source, populateVariedStore);
    const file = join(tempDir(), "backup.db");

    const backup = await stonks(["migrate", source, file]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(parseSummary(backup.stdout).runs).toBe(4);
    expectSameStores(source, file);

    const restored = await freshDatabase();
    const restore = await stonks(["migrate", file, restored]);
    expect(restore.code, restore.stderr).toBe(0);
    expectSameStores(source, restored);
  });

  test("a copy into PostgreSQL killed midway resumes where it stopped", async () => {
    const file = join(tempDir(), "big.db");
    withService(file, (service) => {
      populateVariedStore(service);
      populateBulk(service, 30, 4, 25_000);
    });
    const total = pointsIn(file);
    const url = await freshDatabase();

    const copiedBefore = await killMigrateMidway(file, url, 200_000);
    expect(copiedBefore).toBeLessThan(total);

    const resumed = await stonks(["migrate", file, url]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = parseSummary(resumed.stdout);
    expect(summary.skippedPoints).toBe(copiedBefore);
    expect(summary.points + summary.skippedPoints).toBe(total);
    expectSameStores(file, url);
  });
});
