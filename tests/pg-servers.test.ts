/**
 * Several `stonks serve` processes on one PostgreSQL database (issue 14,
 * parts 2 and 5; npm run build first): the connections each server holds
 * stay within its pool (--pg-pool) plus its one LISTEN connection, also on a
 * PostgreSQL with few connections to give; and any request may go to any
 * server, since none keeps state another needs.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { PointsEvent } from "../src/contract/wire.js";
import { postPoints, putRun } from "./support/ingest-http.js";
import { createTestDatabase, type PgCluster, startPrivateCluster } from "./support/postgres.js";
import { killStarted, runCli } from "./support/remote.js";
import { readEvents, type ServeProcess, type SseEvent, startServeProcess } from "./support/server-support.js";

const servers: ServeProcess[] = [];
afterEach(() => {
  killStarted();
  for (const server of servers.splice(0)) server.child.kill("SIGKILL");
});

async function serve(url: string, args: string[] = []): Promise<ServeProcess> {
  const server = await startServeProcess(["--db", url, ...args]);
  servers.push(server);
  return server;
}

const isPointsOf = (runId: string) => (e: SseEvent) =>
  e.event === "points" && (JSON.parse(e.data) as PointsEvent).run_id === runId;

/** The same URL, logging in as another role. */
function asRole(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  return parsed.toString();
}

describe("connections per server", () => {
  let cluster: PgCluster;
  // Two servers with a pool of 2 need 2 × (2 + 1) = 6 connections; the test's own watcher takes one more.
  beforeAll(async () => {
    cluster = await startPrivateCluster({ max_connections: "8", superuser_reserved_connections: "1" });
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  test("two servers with --pg-pool 2 under 50 parallel requests and heavy reads each hold at most pool + 1 connections, on a PostgreSQL with max_connections 8", async () => {
    const database = await createTestDatabase(cluster);
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    // Each server logs in as a role of its own, so pg_stat_activity tells their connections apart.
    for (const role of ["server_a", "server_b"]) await watcher.query(`CREATE ROLE ${role} SUPERUSER LOGIN`);
    const [a, b] = [
      await serve(asRole(database.url, "server_a"), ["--pg-pool", "2"]),
      await serve(asRole(database.url, "server_b"), ["--pg-pool", "2"]),
    ];
    const streams = [await readEvents(`${a.url}/api/events`), await readEvents(`${b.url}/api/events`)];
    const most = new Map<string, number>();
    let samples = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const rows = await watcher.query(
          "SELECT usename, count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND usename LIKE 'server_%' GROUP BY usename",
        );
        for (const row of rows.rows as { usename: string; n: number }[]) {
          most.set(row.usename, Math.max(most.get(row.usename) ?? 0, row.n));
        }
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      const runs = ["load-0", "load-1", "load-2", "load-3"];
      for (const [i, runId] of runs.entries())
        expect((await putRun(i % 2 === 0 ? a.url : b.url, runId)).status).toBe(201);
      // A long series, so whole-series reads are heavy.
      for (let start = 0; start < 100_000; start += 10_000) {
        expect((await postPoints(a.url, "load-0", start, 10_000)).status).toBe(200);
      }
      for (let round = 0; round < 4; round++) {
        const requests: Promise<Response>[] = [];
        for (let i = 0; i < 50; i++) {
          const server = i % 2 === 0 ? a : b;
          const runId = runs[1 + (i % 3)];
          if (i % 5 === 0) requests.push(fetch(`${server.url}/api/runs/load-0/metrics?key=loss`));
          else if (i % 5 === 1) {
            requests.push(
              fetch(`${server.url}/api/series`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                  series: runs.map((run_id) => ({ run_id, key: "loss" })),
                  downsample: 1000,
                }),
              }),
            );
          } else if (i % 5 === 2) requests.push(fetch(`${server.url}/api/experiments`));
          else requests.push(postPoints(server.url, runId, round * 1000 + i * 10, 10));
        }
        const answers = await Promise.all(requests);
        // A batch past a series' end is a gap, not an error: every answer is a success.
        expect(answers.map((answer) => answer.status).filter((status) => status !== 200)).toEqual([]);
        await Promise.all(answers.map((answer) => answer.arrayBuffer()));
      }
      for (const stream of streams) await stream.next((e) => e.event === "points", 10_000);
    } finally {
      watching = false;
      await watch;
      for (const stream of streams) stream.close();
      await watcher.end();
    }
    process.stdout.write(
      `connections held at most (pool 2): ${JSON.stringify(Object.fromEntries(most))} over ${samples} samples\n`,
    );
    expect(samples).toBeGreaterThan(10);
    expect(most.get("server_a")).toBeGreaterThanOrEqual(2);
    expect(most.get("server_b")).toBeGreaterThanOrEqual(2);
    expect(most.get("server_a")).toBeLessThanOrEqual(3);
    expect(most.get("server_b")).toBeLessThanOrEqual(3);
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
  });
});

describe("three servers on one database: any request to any server", () => {
  test("create on A, append on B, edit on C, workspace A→C, a CLI token on all, C's dashboard sees B's points, A restarted meanwhile", async () => {
    const database = await createTestDatabase();
    const [a, b, c] = [await serve(database.url), await serve(database.url), await serve(database.url)];

    // A token made by the CLI with the servers' URL: every server asks for it from the next request on.
    const created = await runCli(["token", "create", "--role", "admin", "--name", "ops", "--db", database.url]).done;
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    const auth = { authorization: `Bearer ${secret}` };
    for (const server of [a, b, c]) {
      expect((await fetch(`${server.url}/api/experiments`)).status).toBe(401);
      expect((await fetch(`${server.url}/api/experiments`, { headers: auth })).status).toBe(200);
    }

    expect((await putRun(a.url, "everywhere", auth)).status).toBe(201);
    expect((await postPoints(b.url, "everywhere", 0, 5, auth)).status).toBe(200);
    const edited = await fetch(`${c.url}/api/runs/everywhere`, {
      method: "PATCH",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ name: "renamed on C", tags: ["from-c"] }),
    });
    expect(edited.status).toBe(200);
    for (const server of [a, b, c]) {
      const run = (await (await fetch(`${server.url}/api/runs/everywhere`, { headers: auth })).json()) as {
        name: string;
        tags: string[];
        experiment_id: string;
        summary: Record<string, { count: number }>;
      };
      expect(run).toMatchObject({ name: "renamed on C", tags: ["from-c"], summary: { loss: { count: 5 } } });
    }
    const experimentId = (
      (await (await fetch(`${b.url}/api/runs/everywhere`, { headers: auth })).json()) as { experiment_id: string }
    ).experiment_id;
    const saved = await fetch(`${a.url}/api/experiments/${experimentId}/workspaces/team`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ state: { charts: ["loss"], smoothing: 0.6 } }),
    });
    expect(saved.status).toBe(200);
    const read = await fetch(`${c.url}/api/experiments/${experimentId}/workspaces/team`, { headers: auth });
    expect(await read.json()).toMatchObject({ name: "team", state: { charts: ["loss"], smoothing: 0.6 } });

    // C's live events carry what B stores. The delay is measured for the report, not asserted.
    const stream = await readEvents(`${c.url}/api/events`, auth);
    await stream.next((e) => e.event === "ready");
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const seen = stream.events.length;
      const sent = performance.now();
      expect((await postPoints(b.url, "everywhere", 5 + i, 1, auth)).status).toBe(200);
      const event = await stream.next(isPointsOf("everywhere"), 10_000, seen);
      latencies.push(performance.now() - sent);
      expect(JSON.parse(event.data)).toMatchObject({ key: "loss", start_index: 5 + i, steps: [5 + i] });
    }
    process.stdout.write(
      `live event B→C latency over ${latencies.length} points, ms: ${latencies.map((ms) => ms.toFixed(1)).join(" ")}\n`,
    );

    // A goes away mid-way: B and C carry on; A started again serves everything at once.
    a.child.kill("SIGKILL");
    const seenBeforeLoss = stream.events.length;
    expect((await postPoints(b.url, "everywhere", 15, 5, auth)).status).toBe(200);
    const renamed = await fetch(`${b.url}/api/runs/everywhere`, {
      method: "PATCH",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ name: "renamed on B" }),
    });
    expect(renamed.status).toBe(200);
    await stream.next(isPointsOf("everywhere"), 10_000, seenBeforeLoss);
    const again = await serve(database.url);
    const run = (await (await fetch(`${again.url}/api/runs/everywhere`, { headers: auth })).json()) as {
      name: string;
      summary: Record<string, { count: number }>;
    };
    expect(run).toMatchObject({ name: "renamed on B", summary: { loss: { count: 20 } } });
    const series = (await (
      await fetch(`${again.url}/api/runs/everywhere/metrics?key=loss`, { headers: auth })
    ).json()) as { steps: number[]; values: number[] };
    expect(series.steps).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(series.values).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
    const workspace = await fetch(`${again.url}/api/experiments/${experimentId}/workspaces/team`, { headers: auth });
    expect(workspace.status).toBe(200);
    stream.close();
  });
});
