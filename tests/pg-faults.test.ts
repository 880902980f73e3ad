/**
 * PostgreSQL failing under running servers (issue 14, part 5): real `stonks
 * serve --db postgresql://…` processes (npm run build first), real SDK
 * processes (TypeScript and Python) logging through them, and a private
 * PostgreSQL cluster of this file that the tests stop (a crash, or a fast
 * shutdown), keep down and start again. synchronous_commit is on: a crash
 * must keep every commit a server acknowledged.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { PointsEvent } from "../src/contract/wire.js";
import { killFixtures, type RunningChild, startFixture, tempDir } from "./support/helpers.js";
import { createTestDatabase, type PgCluster, startPrivateCluster } from "./support/postgres.js";
import { eventuallyAsync, expectedSeries, serverRun, serverSeries } from "./support/remote.js";
import { readEvents, type ServeProcess, type SseEvent, startServeProcess } from "./support/server-support.js";

let cluster: PgCluster;
const servers: ServeProcess[] = [];

beforeAll(async () => {
  cluster = await startPrivateCluster({ synchronous_commit: "on" });
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
});
afterEach(async () => {
  killFixtures();
  await cluster.start();
  for (const server of servers.splice(0)) server.child.kill("SIGKILL");
});

async function serve(url: string, args: string[] = []): Promise<ServeProcess> {
  const server = await startServeProcess(["--db", url, ...args]);
  servers.push(server);
  return server;
}

const KEYS = ["loss", "acc"];

const isPointsOf = (runId: string) => (e: SseEvent) =>
  e.event === "points" && (JSON.parse(e.data) as PointsEvent).run_id === runId;

/** Every point of steps 0..steps-1 of each key, once, with its value; the run completed. */
async function expectStoredOnce(base: string, runId: string, steps: number): Promise<void> {
  const run = await eventuallyAsync(async () => {
    const found = await serverRun(base, runId);
    return found?.status === "completed" ? found : null;
  }).catch(async () => {
    throw new Error(`run ${runId} did not complete on ${base}: ${JSON.stringify(await serverRun(base, runId))}`);
  });
  for (const [i, key] of KEYS.entries()) {
    expect(run.summary[key]?.count).toBe(steps);
    const series = await serverSeries(base, runId, key);
    expect(series.steps).toEqual(expectedSeries(steps, i).steps);
    expect(series.values).toEqual(expectedSeries(steps, i).values);
  }
}

/** What a request answers while PostgreSQL is away: at once (no hanging), a JSON 503 with Retry-After. */
async function expectUnavailable(server: ServeProcess): Promise<void> {
  const response = await fetch(`${server.url}/api/experiments`, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("2");
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await response.json()).toMatchObject({ error: { code: "database_unavailable" } });
}

describe("PostgreSQL stopped and started again while writers log through two servers", () => {
  test.each(["immediate", "fast"] as const)(
    "stop -m %s: both servers answer 503 meanwhile, every point is stored exactly once, live events go on",
    async (mode) => {
      const database = await createTestDatabase(cluster);
      const [a, b] = [await serve(database.url), await serve(database.url)];
      const stream = await readEvents(`${b.url}/api/events`);
      await stream.next((e) => e.event === "ready");
      const dir = tempDir();
      const steps = 6000;
      // Two TypeScript writers and one Python writer on each server; each logs on while PostgreSQL is away
      // and stops at step 3999 (its points flushed to its spool) until told to go on.
      const writers: RunningChild[] = [a, b, a, b, a, b].map((server, i) =>
        startFixture(
          i < 4 ? "remote-logger.mjs" : "remote-logger.py",
          {
            DB: server.url,
            STONKS_SPOOL_DIR: join(dir, `spool-${i}`),
            STEPS: String(steps),
            PAUSE_MS: "10",
            WAIT_AT: "3999",
          },
          undefined,
          { stdin: true },
        ),
      );
      try {
        const runIds = await Promise.all(writers.map(async (w) => (await w.waitForLine(/^started /)).split(" ")[1]));
        await Promise.all(writers.map((w) => w.waitForLine(/^progress 1000$/)));
        await cluster.stop(mode);
        await expectUnavailable(a);
        await expectUnavailable(b);
        await Promise.all(writers.map((w) => w.waitForLine(/^waiting$/)));
        // The shippers met 503s while it was down (or found PostgreSQL gone mid-request).
        await expectUnavailable(a);
        const seenBeforeRestart = stream.events.length;
        await cluster.start();
        for (const writer of writers) writer.send("go on");
        const results = await Promise.all(writers.map((w) => w.done));
        for (const [i, result] of results.entries()) {
          expect(result.code).toBe(0);
          expect(result.stdout).toContain(`done ${runIds[i]}`);
          expect(result.stderr).not.toMatch(/exiting before/);
        }
        for (const runId of runIds) await expectStoredOnce(runId === runIds[0] ? b.url : a.url, runId, steps);

        // The dashboard's stream on B lived through the outage and carries what came after it.
        for (const runId of runIds) await stream.next(isPointsOf(runId), 15_000, seenBeforeRestart);
        const late = startFixture("remote-logger.mjs", {
          DB: a.url,
          STONKS_SPOOL_DIR: join(dir, "spool-late"),
          STEPS: "10",
        });
        const lateId = (await late.waitForLine(/^started /)).split(" ")[1];
        expect((await late.done).code).toBe(0);
        await stream.next(isPointsOf(lateId), 15_000, seenBeforeRestart);
        expect(a.child.exitCode).toBeNull();
        expect(b.child.exitCode).toBeNull();
      } finally {
        stream.close();
      }
    },
    180_000,
  );
});
