/**
 * PostgreSQL out of connections under a running server: a private cluster
 * with max_connections=5 (none reserved for superusers, so the test's plain
 * clients can take every slot), a real `stonks serve --db postgresql://…`
 * process (npm run build first), and plain node-postgres clients of the test
 * that hold every slot the server's pool does not. PostgreSQL refuses the
 * server's next connection with SQLSTATE 53300 (too_many_connections).
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { postPoints, putRun } from "./support/ingest-http.js";
import { createTestDatabase, type PgCluster, startPrivateCluster } from "./support/postgres.js";
import { eventuallyAsync, killStarted, runCli, serverSeries } from "./support/remote.js";
import { type ServeProcess, startServeProcess } from "./support/server-support.js";

const MAX_CONNECTIONS = 5;

let cluster: PgCluster;
const servers: ServeProcess[] = [];
const holders: pg.Client[] = [];

beforeAll(async () => {
  cluster = await startPrivateCluster({
    max_connections: String(MAX_CONNECTIONS),
    superuser_reserved_connections: "0",
  });
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
});
afterEach(async () => {
  killStarted();
  await releaseSlots();
  for (const server of servers.splice(0)) server.child.kill("SIGKILL");
});

async function releaseSlots(): Promise<void> {
  await Promise.all(holders.splice(0).map((client) => client.end().catch(() => {})));
}

/** A plain connection of the test's own, or the error PostgreSQL refused it with. */
async function connectHolder(url: string): Promise<pg.Client | Error> {
  const client = new pg.Client({ connectionString: url, application_name: "slot holder" });
  client.on("error", () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    return error as Error;
  }
}

/**
 * Ends the server's pooled connections (as PostgreSQL's idle_session_timeout
 * or a proxy would) and takes every free slot with plain clients, so the
 * server's next checkout must open a connection PostgreSQL refuses. Returns
 * the refusal the last client met.
 */
async function takeEverySlot(url: string): Promise<Error & { code?: string }> {
  const first = await connectHolder(url);
  if (first instanceof Error) throw first;
  holders.push(first);
  await first.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stonks'");
  await eventuallyAsync(async () => {
    const left = await first.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'stonks'");
    return left.rows[0].n === 0;
  });
  for (;;) {
    const next = await connectHolder(url);
    if (next instanceof Error) return next;
    holders.push(next);
    expect(holders.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
  }
}

/** A request answered at once (no waiting for a slot) with a JSON 503 database_unavailable and Retry-After. */
async function expectUnavailable(answer: Response): Promise<void> {
  expect(answer.status).toBe(503);
  expect(answer.headers.get("retry-after")).toBe("2");
  expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await answer.json()).toMatchObject({ error: { code: "database_unavailable" } });
}

describe("PostgreSQL refusing connections: max_connections exhausted", () => {
  test("a running server answers reads and writes 503 database_unavailable with Retry-After while every slot is taken, and serves again once slots free, without a restart", async () => {
    const database = await createTestDatabase(cluster);
    const server = await startServeProcess(["--db", database.url]);
    servers.push(server);
    expect((await putRun(server.url, "run-slots")).status).toBe(201);
    expect((await postPoints(server.url, "run-slots", 0, 3)).status).toBe(200);

    const refusal = await takeEverySlot(database.url);
    expect(refusal.code).toBe("53300");
    expect(refusal.message).toMatch(/too many clients/);

    // Sequential requests, each bounded: one that waited for a slot (or the connect timeout) would fail here.
    for (let i = 0; i < 5; i++) {
      await expectUnavailable(await fetch(`${server.url}/api/experiments`, { signal: AbortSignal.timeout(5_000) }));
      await expectUnavailable(await fetch(`${server.url}/api/runs/run-slots`, { signal: AbortSignal.timeout(5_000) }));
      await expectUnavailable(await postPoints(server.url, "run-slots", 3, 3));
      await expectUnavailable(await putRun(server.url, "run-slots"));
    }
    expect(server.child.exitCode).toBeNull();
    expect(server.stderr()).toMatch(/the database is unavailable \(sorry, too many clients already\)/);
    expect(server.stderr()).not.toMatch(/ failed: /);

    await releaseSlots();
    expect((await postPoints(server.url, "run-slots", 3, 3)).status).toBe(200);
    const series = await serverSeries(server.url, "run-slots", "loss");
    expect(series.steps).toEqual([0, 1, 2, 3, 4, 5]);
    expect(series.values).toEqual([0, 10, 20, 30, 40, 50]);
    expect((await fetch(`${server.url}/api/experiments`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });

  test("`stonks serve` started while every slot is taken says so once, keeps trying, and serves once a slot frees", async () => {
    const database = await createTestDatabase(cluster);
    expect((await takeEverySlot(database.url)).code).toBe("53300");
    const serve = runCli(["serve", "--db", database.url, "--port", "0"]);
    let stderr = "";
    let stdout = "";
    serve.child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    serve.child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await eventuallyAsync(async () => /cannot be reached/.test(stderr));
    expect(serve.child.exitCode).toBeNull();
    await releaseSlots();
    const base = await eventuallyAsync(async () => /api:\s+(http\S+)\/api/.exec(stdout)?.[1]);
    expect((await fetch(`${base}/api/experiments`)).status).toBe(200);
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^stonks: PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:\d+\/\w+ cannot be reached \(sorry, too many clients already\); trying again for up to 60 s \(--wait-for-db\)\.$/,
    );
    expect(lines[1]).toMatch(/answers; starting\.$/);
    serve.child.kill("SIGTERM");
    expect((await serve.done).code).toBe(0);
  });
});
