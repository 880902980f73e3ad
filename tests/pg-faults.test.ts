/**
 * PostgreSQL failing under running servers (issue 14, part 5): real `stonks
 * serve --db postgresql://…` processes (npm run build first), real SDK
 * processes (TypeScript and Python) logging through them, and a private
 * PostgreSQL cluster of this file that the tests stop (a crash, or a fast
 * shutdown), keep down and start again. synchronous_commit is on: a crash
 * must keep every commit a server acknowledged.
 */
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { PointsEvent } from "../src/contract/wire.js";
import { WRITE_LOCK_KEY } from "../src/store/pg/driver.js";
import { killFixtures, type RunningChild, startFixture, tempDir } from "./support/helpers.js";
import { postPoints, putRun } from "./support/ingest-http.js";
import { createTestDatabase, type PgCluster, startPrivateCluster } from "./support/postgres.js";
import { eventuallyAsync, expectedSeries, killStarted, runCli, serverRun, serverSeries } from "./support/remote.js";
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
  killStarted();
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

/** A connection of the test's own that holds the writers' advisory lock, so a server's write transaction waits inside it. */
async function holdWriteLock(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  await client.query("BEGIN");
  await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`);
  return client;
}

/** Waits until a server's connection waits for the writers' lock (its write transaction has begun). */
async function waitForLockWaiter(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await eventuallyAsync(async () => {
      const waiting = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND application_name = 'stonks'",
      );
      return waiting.rows[0].n > 0;
    });
  } finally {
    await admin.end();
  }
}

describe("a server's connections dying under it", () => {
  test("a connection PostgreSQL ends in the middle of a write transaction: the server runs the transaction again, the points are stored once", async () => {
    const database = await createTestDatabase(cluster);
    const server = await serve(database.url);
    expect((await putRun(server.url, "run-terminated")).status).toBe(201);
    expect((await postPoints(server.url, "run-terminated", 0, 5)).status).toBe(200);

    const lock = await holdWriteLock(database.url);
    const pending = postPoints(server.url, "run-terminated", 5, 5);
    await waitForLockWaiter(database.url);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const ended = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stonks' AND wait_event_type = 'Lock' AND datname = current_database()",
    );
    await admin.end();
    expect(ended.rowCount).toBe(1);
    // The retry waits for the lock again; releasing it lets the retry commit.
    await waitForLockWaiter(database.url);
    await lock.query("COMMIT");
    await lock.end();
    expect((await pending).status).toBe(200);
    // The SDK sends a batch again when unsure: the server stores only what it lacks.
    expect((await postPoints(server.url, "run-terminated", 5, 5)).status).toBe(200);
    const series = await serverSeries(server.url, "run-terminated", "loss");
    expect(series.steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(series.values).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  test("PostgreSQL crashing while a write transaction is open: that request answers 503, the same request after the restart stores its points once", async () => {
    const database = await createTestDatabase(cluster);
    const server = await serve(database.url);
    expect((await putRun(server.url, "run-crash")).status).toBe(201);
    expect((await postPoints(server.url, "run-crash", 0, 3)).status).toBe(200);

    const lock = await holdWriteLock(database.url);
    const pending = postPoints(server.url, "run-crash", 3, 3);
    await waitForLockWaiter(database.url);
    await cluster.stop("immediate");
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("2");
    expect(await answer.json()).toMatchObject({ error: { code: "database_unavailable" } });
    await lock.end().catch(() => {});

    await cluster.start();
    expect((await postPoints(server.url, "run-crash", 3, 3)).status).toBe(200);
    const series = await serverSeries(server.url, "run-crash", "loss");
    expect(series.steps).toEqual([0, 1, 2, 3, 4, 5]);
    expect(series.values).toEqual([0, 10, 20, 30, 40, 50]);
  });

  test("PostgreSQL down for longer than any retry: the server stays up and answers every request 503 at once, reads and writes alike, then serves again", async () => {
    const database = await createTestDatabase(cluster);
    const server = await serve(database.url);
    expect((await putRun(server.url, "run-long")).status).toBe(201);
    await cluster.stop("fast");
    // Sequential requests, each bounded: one that waited for PostgreSQL would hold the rest.
    for (let i = 0; i < 40; i++) {
      const answers = await Promise.all([
        fetch(`${server.url}/api/experiments`, { signal: AbortSignal.timeout(10_000) }),
        fetch(`${server.url}/api/runs/run-long`, { signal: AbortSignal.timeout(10_000) }),
        postPoints(server.url, "run-long", 0, 2),
        putRun(server.url, "run-long"),
      ]);
      expect(answers.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.url}/api/experiments`)).status).toBe(503);
    // One line about the outage, not one per request.
    expect(server.stderr().match(/the database is unavailable/g)).toHaveLength(1);

    await cluster.start();
    expect((await postPoints(server.url, "run-long", 0, 2)).status).toBe(200);
    expect((await serverSeries(server.url, "run-long", "loss")).steps).toEqual([0, 1]);
  });
});

interface DocumentedOperation {
  method: string;
  path: string;
  body: unknown;
  unavailable: string | undefined;
}

/** Every operation of the served OpenAPI document, with its example body and its 503's description. */
async function documentedOperations(base: string): Promise<DocumentedOperation[]> {
  const document = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          requestBody?: { content: { "application/json": { schema: { examples?: unknown[] } } } };
          responses: Record<string, { description: string }>;
        }
      >
    >;
  };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      body: op.requestBody?.content["application/json"].schema.examples?.[0] ?? (op.requestBody ? {} : undefined),
      unavailable: op.responses["503"]?.description,
    })),
  );
}

describe("the OpenAPI document while PostgreSQL is away", () => {
  test("every operation listing 503 database_unavailable answers it, with Retry-After; the others answer without the database", async () => {
    const database = await createTestDatabase(cluster);
    const server = await serve(database.url);
    const operations = await documentedOperations(server.url);
    expect(operations.length).toBeGreaterThanOrEqual(23);
    await cluster.stop("fast");
    for (const op of operations) {
      const url = `${server.url}${op.path.replace("{id}", "run-away").replace("{name}", "ws")}`;
      const answer = await fetch(url, {
        method: op.method,
        ...(op.body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: JSON.stringify(op.body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const label = `${op.method} ${op.path}`;
      if (op.unavailable?.includes("database_unavailable")) {
        expect([label, answer.status, answer.headers.get("retry-after")]).toEqual([label, 503, "2"]);
        expect(((await answer.json()) as { error: { code: string } }).error.code, label).toBe("database_unavailable");
      } else {
        expect([label, answer.status]).toEqual([label, 200]);
        await answer.arrayBuffer();
      }
    }
  });
});

describe("PostgreSQL down when `stonks serve` starts", () => {
  test("serve says so once, keeps trying, and serves once PostgreSQL is up", async () => {
    const database = await createTestDatabase(cluster);
    await cluster.stop("fast");
    const serve = runCli(["serve", "--db", database.url, "--port", "0"]);
    let serveStderr = "";
    let serveStdout = "";
    serve.child.stderr?.on("data", (chunk: Buffer) => {
      serveStderr += chunk.toString();
    });
    serve.child.stdout?.on("data", (chunk: Buffer) => {
      serveStdout += chunk.toString();
    });
    await eventuallyAsync(async () => /cannot be reached/.test(serveStderr));
    // It keeps trying while PostgreSQL stays away; a line a second would flood the journal.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(serve.child.exitCode).toBeNull();
    await cluster.start();
    const base = await eventuallyAsync(async () => /api:\s+(http\S+)\/api/.exec(serveStdout)?.[1]);
    expect((await fetch(`${base}/api/experiments`)).status).toBe(200);
    const lines = serveStderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^stonks: PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:\d+\/\w+ cannot be reached \(.*ECONNREFUSED.*\); trying again for up to 60 s \(--wait-for-db\)\.$/,
    );
    expect(lines[1]).toMatch(/answers; starting\.$/);
    serve.child.kill("SIGTERM");
    expect((await serve.done).code).toBe(0);
  });

  test("serve gives up after --wait-for-db seconds with one line and exit status 1", async () => {
    const database = await createTestDatabase(cluster);
    await cluster.stop("fast");
    const withPassword = database.url.replace("postgres@", "postgres:hunter2@");
    const result = await runCli(["serve", "--db", withPassword, "--port", "0", "--wait-for-db", "2"]).done;
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).not.toContain("hunter2");
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/cannot be reached .*; trying again for up to 2 s \(--wait-for-db\)\.$/);
    expect(lines[1]).toMatch(
      /^stonks: Cannot connect to PostgreSQL at postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+ within 2 s: .*ECONNREFUSED.*\. Start PostgreSQL or fix the URL \(--db or STONKS_DB\); --wait-for-db SECONDS waits longer\.$/,
    );
  });

  test("STONKS_WAIT_FOR_DB=0: serve exits at once with one line, as before there was waiting", async () => {
    const database = await createTestDatabase(cluster);
    await cluster.stop("fast");
    const result = await runCli(["serve", "--db", database.url, "--port", "0"], { STONKS_WAIT_FOR_DB: "0" }).done;
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^stonks: Cannot connect to PostgreSQL at .*ECONNREFUSED.*Start PostgreSQL or fix the URL/,
    );
  });

  test("a wrong database name is not waited for: serve exits at once with one line", async () => {
    const database = await createTestDatabase(cluster);
    const missing = database.url.replace(/\/(\w+)$/, "/$1_missing");
    const result = await runCli(["serve", "--db", missing, "--port", "0"]).done;
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^stonks: Cannot connect to PostgreSQL at .*_missing: database ".*_missing" does not exist\./,
    );
  });
});
