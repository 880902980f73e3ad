/**
 * Live events across servers: the LISTEN connection (src/store/pg/listen.ts)
 * against a real PostgreSQL, with notifications sent by another connection
 * the way the migrations' triggers send them, and with PostgreSQL killed and
 * restarted under it.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { changeSourceFor, DataVersionPoller } from "../src/query/change-source.js";
import { openDatabase } from "../src/store/connection.js";
import { CHANGES_CHANNEL, PgChangeListener } from "../src/store/pg/listen.js";
import { tempDb } from "./support/helpers.js";
import { createTestDatabase, type PgCluster, startPrivateCluster, useTestDatabase } from "./support/postgres.js";

const APPLICATION = "stonks live events";

/** Checks (sync or async) until one answers truthy. */
async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${check}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function notify(url: string, channel = CHANGES_CHANNEL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SELECT pg_notify($1, '')", [channel]);
  } finally {
    await client.end();
  }
}

/** Backends of the listener's connections to this database. */
async function listenerSessions(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [APPLICATION],
    );
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

/** Watches with a counter of calls. */
function watchCounting(listener: PgChangeListener): { calls: () => number; stop: () => void } {
  let calls = 0;
  const stop = listener.watch(() => {
    calls += 1;
  });
  return { calls: () => calls, stop };
}

/**
 * A TCP proxy to PostgreSQL whose open connections can be frozen: from then
 * on they carry nothing either way and stay open, as when the server's
 * machine vanishes or a firewall drops the connection. New connections pass.
 */
async function startFreezableProxy(url: string): Promise<{ url: string; freeze(): void; close(): void }> {
  const target = new URL(url);
  const open = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const pair = { client, upstream, frozen: false };
    open.add(pair);
    client.on("data", (data: Buffer) => {
      if (!pair.frozen) upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (!pair.frozen) client.write(data);
    });
    const close = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const proxied = new URL(url);
  proxied.port = String(typeof address === "object" && address !== null ? address.port : 0);
  return {
    url: proxied.toString(),
    freeze: () => {
      for (const pair of open) pair.frozen = true;
    },
    close: () => {
      for (const pair of open) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      server.close();
    },
  };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe("on the shared server", () => {
  const databaseUrl = useTestDatabase();

  test("tells once when it starts listening, then on every notification from another connection", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl()));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    await eventually(async () => (await listenerSessions(databaseUrl())).length === 1);

    await notify(databaseUrl());
    await eventually(() => watcher.calls() === 2);
    await notify(databaseUrl());
    await eventually(() => watcher.calls() === 3);
  });

  test("notifications on other channels are not changes", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl(), { coalesceMs: 0 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    // PostgreSQL delivers one session's notifications in the order they were sent: when the
    // second arrives, the first has been handled.
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      await client.query("SELECT pg_notify('someone_else', '')");
      await client.query("SELECT pg_notify($1, '')", [CHANGES_CHANNEL]);
    } finally {
      await client.end();
    }
    await eventually(() => watcher.calls() >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.calls()).toBe(2);
  });

  test("a burst of notifications from many commits is read in one call", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl(), { coalesceMs: 200 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      // One transaction: PostgreSQL sends its 50 notifications together when it commits.
      await client.query("BEGIN");
      for (let i = 0; i < 50; i++) await client.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, String(i)]);
      await client.query("COMMIT");
    } finally {
      await client.end();
    }
    await eventually(() => watcher.calls() >= 2);
    await new Promise((r) => setTimeout(r, 400));
    expect(watcher.calls()).toBe(2);
  });

  test("stopping closes its connection and ends the calls", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl()));
    await eventually(() => watcher.calls() === 1);
    await eventually(async () => (await listenerSessions(databaseUrl())).length === 1);
    watcher.stop();
    await eventually(async () => (await listenerSessions(databaseUrl())).length === 0);
    await notify(databaseUrl());
    await new Promise((r) => setTimeout(r, 200));
    expect(watcher.calls()).toBe(1);
  });

  test("a connection the server ends is made again, says so, and tells once that something may have been missed", async () => {
    const warnings = vi.spyOn(process.stderr, "write");
    const watcher = watchCounting(new PgChangeListener(databaseUrl(), { minBackoffMs: 20 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    const [first] = await eventually(async () => {
      const pids = await listenerSessions(databaseUrl());
      return pids.length === 1 ? pids : null;
    });
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      await admin.query("SELECT pg_terminate_backend($1)", [first]);
    } finally {
      await admin.end();
    }
    await eventually(() => watcher.calls() === 2);
    const [second] = await eventually(async () => {
      const pids = await listenerSessions(databaseUrl());
      return pids.length === 1 ? pids : null;
    });
    expect(second).not.toBe(first);
    const lines = warnings.mock.calls.map(([chunk]) => String(chunk));
    warnings.mockRestore();
    expect(lines.filter((line) => line.includes("lost the PostgreSQL connection"))).toHaveLength(1);

    await notify(databaseUrl());
    await eventually(() => watcher.calls() === 3);
  });

  test("a connection that goes silent is noticed by its health check and made again", async () => {
    const proxy = await startFreezableProxy(databaseUrl());
    stops.push(proxy.close);
    const warnings = vi.spyOn(process.stderr, "write");
    const watcher = watchCounting(new PgChangeListener(proxy.url, { minBackoffMs: 20, healthCheckMs: 200 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);

    proxy.freeze();
    await eventually(() => watcher.calls() === 2);
    const lines = warnings.mock.calls.map(([chunk]) => String(chunk));
    warnings.mockRestore();
    expect(lines.some((line) => line.includes("lost the PostgreSQL connection (no answer within 200 ms)"))).toBe(true);
    await notify(databaseUrl());
    await eventually(() => watcher.calls() === 3);
  });

  test("a feed on a postgresql:// database listens; a feed on a SQLite file polls", () => {
    const file = openDatabase(tempDb());
    try {
      expect(changeSourceFor(databaseUrl(), file, 150)).toBeInstanceOf(PgChangeListener);
      expect(changeSourceFor("postgres://user@db.example/stonks", file, 150)).toBeInstanceOf(PgChangeListener);
      expect(changeSourceFor(file.path, file, 150)).toBeInstanceOf(DataVersionPoller);
    } finally {
      file.close();
    }
  });
});

describe("on a private cluster that is stopped and started", () => {
  let cluster: PgCluster;
  let databaseUrl: string;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    databaseUrl = (await createTestDatabase(cluster)).url;
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  test("after PostgreSQL crashes and restarts, it listens again and notifications flow", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl, { minBackoffMs: 20, maxBackoffMs: 200 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    await eventually(async () => (await listenerSessions(databaseUrl)).length === 1);

    await cluster.stop("immediate");
    // Down for a while: reconnection attempts fail and back off, and nothing calls.
    await new Promise((r) => setTimeout(r, 500));
    expect(watcher.calls()).toBe(1);
    await cluster.start();

    await eventually(() => watcher.calls() === 2, 15_000);
    await eventually(async () => (await listenerSessions(databaseUrl)).length === 1);
    await notify(databaseUrl);
    await eventually(() => watcher.calls() === 3);
  });

  test("after a clean restart (sessions ended by the server), it listens again", async () => {
    const watcher = watchCounting(new PgChangeListener(databaseUrl, { minBackoffMs: 20, maxBackoffMs: 200 }));
    stops.push(watcher.stop);
    await eventually(() => watcher.calls() === 1);
    await cluster.stop("fast");
    await cluster.start();
    await eventually(() => watcher.calls() === 2, 15_000);
    await eventually(async () => (await listenerSessions(databaseUrl)).length === 1);
    await notify(databaseUrl);
    await eventually(() => watcher.calls() === 3);
  });

  test("started while PostgreSQL is down, it listens once PostgreSQL comes up", async () => {
    await cluster.stop("fast");
    const watcher = watchCounting(new PgChangeListener(databaseUrl, { minBackoffMs: 20, maxBackoffMs: 200 }));
    stops.push(watcher.stop);
    await new Promise((r) => setTimeout(r, 300));
    expect(watcher.calls()).toBe(0);
    await cluster.start();
    await eventually(() => watcher.calls() === 1, 15_000);
    await eventually(async () => (await listenerSessions(databaseUrl)).length === 1);
    await notify(databaseUrl);
    await eventually(() => watcher.calls() === 2);
  });
});
