/**
 * Live events across servers on one PostgreSQL database: two real `stonks
 * serve --db postgresql://…` processes (npm run build first) each follow the
 * database through LISTEN (src/store/pg/listen.ts), so points another process
 * commits reach the dashboards of both, and a server keeps streaming after
 * PostgreSQL ended its listening connection.
 */
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import type { PointsEvent } from "../src/contract/wire.js";
import { UNKNOWN_PROVENANCE } from "../src/types.js";
import { withService } from "./support/migrate-support.js";
import { createTestDatabase, type TestDatabase } from "./support/postgres.js";
import { readEvents, type ServeProcess, type SseEvent, startServeProcess } from "./support/server-support.js";

const isPointsOf = (runId: string) => (e: SseEvent) =>
  e.event === "points" && (JSON.parse(e.data) as PointsEvent).run_id === runId;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function database(): Promise<string> {
  const made: TestDatabase = await createTestDatabase();
  cleanups.push(() => made.drop());
  return made.url;
}

async function serve(url: string): Promise<ServeProcess> {
  const server = await startServeProcess(["--db", url]);
  cleanups.push(() => server.stop());
  return server;
}

/** Appends points to a run from this process: a writer that is neither server. */
function appendPoints(url: string, runId: string, start: number, count: number): void {
  withService(url, (service) => {
    const steps = Float64Array.from({ length: count }, (_, i) => start + i);
    if (start === 0) {
      service.upsertRemoteRun(runId, {
        experiment: "live",
        project: null,
        name: null,
        config: {},
        tags: [],
        group: null,
        jobType: null,
        notes: null,
        color: null,
        createdAt: Date.now() / 1000,
        provenance: { ...UNKNOWN_PROVENANCE },
        status: "running",
        endedAt: null,
        lastHeartbeat: Date.now() / 1000,
      });
    }
    service.appendRemotePoints(runId, [{ key: "loss", start, steps, values: steps, times: steps }]);
  });
}

describe("live events with two servers on one PostgreSQL database", () => {
  test("points another process commits reach the event streams of both servers", async () => {
    const url = await database();
    const [a, b] = [await serve(url), await serve(url)];
    const streams = [await readEvents(`${a.url}/api/events`), await readEvents(`${b.url}/api/events`)];
    cleanups.push(async () => {
      for (const stream of streams) stream.close();
    });
    for (const stream of streams) await stream.next((e) => e.event === "ready");

    appendPoints(url, "run-across-servers", 0, 3);
    for (const stream of streams) {
      const event = await stream.next(isPointsOf("run-across-servers"), 10_000);
      expect(JSON.parse(event.data)).toMatchObject({ key: "loss", steps: [0, 1, 2], start_index: 0 });
    }
  });

  test("a server whose listening connection PostgreSQL ended listens again and streams what came meanwhile", async () => {
    const url = await database();
    const server = await serve(url);
    const stream = await readEvents(`${server.url}/api/events`);
    cleanups.push(async () => stream.close());
    await stream.next((e) => e.event === "ready");
    appendPoints(url, "run-reconnect", 0, 2);
    await stream.next(isPointsOf("run-reconnect"), 10_000);
    const seen = stream.events.length;

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const ended = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stonks live events' AND datname = current_database()",
      );
      expect(ended.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    appendPoints(url, "run-reconnect", 2, 2);
    const event = await stream.next(isPointsOf("run-reconnect"), 15_000, seen);
    expect(JSON.parse(event.data)).toMatchObject({ steps: [2, 3], start_index: 2 });
  });
});
