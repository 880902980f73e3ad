/**
 * The thread that talks to PostgreSQL for PgDb (driver.ts). node-postgres is
 * asynchronous; the store is not. The main thread posts one request on the
 * port, blocks in Atomics.wait on the shared flag, and this thread answers on
 * the port, then raises the flag. One pool per database URL (and access mode),
 * shared by every PgDb of the process; a PgDb in a transaction holds one of
 * its clients from BEGIN to COMMIT or ROLLBACK.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import pg from "pg";
import type { PgReply, PgRequest } from "./protocol.js";

const INT8 = 20;
const NUMERIC = 1700;
// Counts, sums and ids come back as numbers, as they do from SQLite; stonks's never pass 2^53.
pg.types.setTypeParser(INT8, (text) => Number(text));
pg.types.setTypeParser(NUMERIC, (text) => Number(text));

const { port, flag } = workerData as { port: MessagePort; flag: SharedArrayBuffer };
const signal = new Int32Array(flag);

/** How long a call waits for a connection attempt while PostgreSQL is unreachable before it fails. */
const OUTAGE_WAIT_MS = 100;

interface PoolEntry {
  pool: pg.Pool;
  users: number;
  /** Why the last connection attempt failed, while PostgreSQL cannot be reached (see reconnected). */
  outage: Error | null;
  /** The connection attempt under way during an outage. */
  attempt: Promise<boolean> | null;
}

/** An error met while getting a connection, not while using one. */
class UnreachableError extends Error {
  constructor(readonly reason: Error) {
    super(reason.message);
  }
}

const pools = new Map<string, PoolEntry>();
/** What each session (one PgDb) uses: its pool, and the client it holds while in a transaction. */
const sessions = new Map<number, { key: string; client: pg.PoolClient | null }>();
/** Prepared-statement names by SQL text: PostgreSQL plans each text once per connection. */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `stonks_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

function session(id: number): { key: string; client: pg.PoolClient | null } {
  const found = sessions.get(id);
  if (!found) throw new Error(`PostgreSQL session ${id} is closed`);
  return found;
}

function entryOf(id: number): PoolEntry {
  const entry = pools.get(session(id).key);
  if (!entry) throw new Error(`PostgreSQL session ${id} has no pool`);
  return entry;
}

/** A connection of the pool, or an UnreachableError. */
async function checkout(entry: PoolEntry): Promise<pg.PoolClient> {
  if (entry.outage !== null && !(await reconnected(entry))) throw new UnreachableError(entry.outage);
  try {
    return await entry.pool.connect();
  } catch (error) {
    if (!isConnectFailure(error)) throw error;
    entry.outage = error as Error;
    throw new UnreachableError(error as Error);
  }
}

/**
 * During an outage, whether a connection attempt succeeds within
 * OUTAGE_WAIT_MS. A refused one fails at once, so each call tries anew and the
 * first after PostgreSQL is back gets through; one that hangs (a host that
 * does not answer) goes on in the background while calls fail at once,
 * instead of each holding the server for the whole connect timeout.
 */
async function reconnected(entry: PoolEntry): Promise<boolean> {
  entry.attempt ??= entry.pool.connect().then(
    (client) => {
      client.release();
      entry.outage = null;
      entry.attempt = null;
      return true;
    },
    (error: Error) => {
      entry.outage = error;
      entry.attempt = null;
      return false;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), OUTAGE_WAIT_MS);
  });
  const back = await Promise.race([entry.attempt, waited]);
  clearTimeout(timer);
  return back;
}

/**
 * Whether an error from connecting means PostgreSQL is not there (refused, no
 * answer in time, a name not resolving yet, starting up, shutting down, out of
 * connections), rather than a wrong password or database name, which waiting
 * does not mend. Socket errors carry errno names (ECONNREFUSED), PostgreSQL's
 * carry five-character SQLSTATEs.
 */
function isConnectFailure(error: unknown): boolean {
  const code = sqlState(error);
  if (code === null) return true;
  return code.startsWith("08") || code === "57P03" || code === "53300";
}

/** PostgreSQL's SQLSTATE of an error; null for socket errors (errno names such as ECONNRESET or EPIPE all start with E, no SQLSTATE class does). */
function sqlState(error: unknown): string | null {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : null;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Gives a connection back to the pool after one statement; one whose statement
 * failed without an SQLSTATE, or with a connection-class one, is closed instead.
 */
function release(client: pg.PoolClient, outcome: Outcome<unknown>): void {
  if (outcome.ok) {
    client.release();
    return;
  }
  const code = sqlState(outcome.error);
  const healthy = code !== null && !/^(08|57P0)/.test(code);
  client.release(!healthy);
}

async function handle(request: PgRequest): Promise<PgReply> {
  switch (request.op) {
    case "open": {
      const key = `${request.readonly ? "r" : "w"} ${request.url}`;
      let entry = pools.get(key);
      if (!entry) {
        const pool = new pg.Pool({
          connectionString: request.url,
          max: request.poolSize,
          connectionTimeoutMillis: request.connectTimeoutMs,
          keepAlive: true,
          application_name: "stonks",
          options: request.readonly ? "-c default_transaction_read_only=on" : undefined,
        });
        // A connection PostgreSQL drops while idle in the pool is replaced at the next checkout.
        pool.on("error", () => {});
        // One that drops while a transaction holds it (between two of its statements) has no query to
        // fail: without a listener its error would end this thread, and every later call would wait
        // for an answer that never comes. Its next statement fails instead, and the transaction with it.
        pool.on("connect", (client) => client.on("error", () => {}));
        entry = { pool, users: 0, outage: null, attempt: null };
        pools.set(key, entry);
      }
      entry.users++;
      sessions.set(request.session, { key, client: null });
      try {
        const client = await checkout(entry);
        release(client, await settle(client.query("SELECT 1")));
      } catch (error) {
        await closeSession(request.session);
        throw error;
      }
      return { ok: true };
    }
    case "query": {
      const current = session(request.session);
      const config: pg.QueryConfig = {
        name: request.prepare ? statementName(request.sql) : undefined,
        text: request.sql,
        values: request.params,
      };
      const client = current.client ?? (await checkout(entryOf(request.session)));
      const outcome = await settle<pg.QueryResult | pg.QueryResult[]>(
        request.arrays ? client.query({ ...config, rowMode: "array" }) : client.query(config),
      );
      if (current.client === null) release(client, outcome);
      if (!outcome.ok) throw outcome.error;
      // A script of several statements (migrations) answers one result each.
      const result = outcome.value;
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return { ok: true, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 };
    }
    case "begin": {
      const current = session(request.session);
      const client = await checkout(entryOf(request.session));
      const outcome = await settle(client.query(request.sql));
      if (!outcome.ok) {
        client.release(true);
        throw outcome.error;
      }
      current.client = client;
      return { ok: true };
    }
    case "end": {
      const current = session(request.session);
      const client = current.client;
      if (!client) return { ok: true };
      current.client = null;
      try {
        await client.query(request.commit ? "COMMIT" : "ROLLBACK");
        client.release();
      } catch (error) {
        // A client whose COMMIT or ROLLBACK failed is in an unknown state: it leaves the pool.
        client.release(true);
        throw error;
      }
      return { ok: true };
    }
    case "close":
      await closeSession(request.session);
      return { ok: true };
  }
}

async function closeSession(id: number): Promise<void> {
  const current = sessions.get(id);
  if (!current) return;
  sessions.delete(id);
  current.client?.release(true);
  const entry = pools.get(current.key);
  if (!entry) return;
  entry.users--;
  if (entry.users === 0) {
    pools.delete(current.key);
    await entry.pool.end();
  }
}

function errorReply(error: unknown): PgReply {
  const unreachable = error instanceof UnreachableError;
  const e = (unreachable ? error.reason : error) as { message?: string; code?: string; detail?: string };
  return {
    ok: false,
    message: e.message ?? String(error),
    code: e.code ?? null,
    detail: e.detail ?? null,
    unreachable,
  };
}

port.on("message", (request: PgRequest) => {
  handle(request)
    .catch(errorReply)
    .then((reply) => {
      port.postMessage(reply);
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
    });
});
