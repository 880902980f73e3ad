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

interface PoolEntry {
  pool: pg.Pool;
  users: number;
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

function poolOf(id: number): pg.Pool {
  const entry = pools.get(session(id).key);
  if (!entry) throw new Error(`PostgreSQL session ${id} has no pool`);
  return entry.pool;
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
          options: request.readonly ? "-c default_transaction_read_only=on" : undefined,
        });
        // A connection PostgreSQL drops while idle in the pool is replaced at the next checkout.
        pool.on("error", () => {});
        entry = { pool, users: 0 };
        pools.set(key, entry);
      }
      entry.users++;
      sessions.set(request.session, { key, client: null });
      try {
        await entry.pool.query("SELECT 1");
      } catch (error) {
        await closeSession(request.session);
        throw error;
      }
      return { ok: true };
    }
    case "query": {
      const target = session(request.session).client ?? poolOf(request.session);
      const config: pg.QueryConfig = {
        name: request.prepare ? statementName(request.sql) : undefined,
        text: request.sql,
        values: request.params,
      };
      const result: pg.QueryResult | pg.QueryResult[] = request.arrays
        ? await target.query({ ...config, rowMode: "array" })
        : await target.query(config);
      // A script of several statements (migrations) answers one result each.
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return { ok: true, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 };
    }
    case "begin": {
      const current = session(request.session);
      const client = await poolOf(request.session).connect();
      current.client = client;
      try {
        await client.query(request.sql);
      } catch (error) {
        current.client = null;
        client.release(true);
        throw error;
      }
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
  const e = error as { message?: string; code?: string; detail?: string };
  return { ok: false, message: e.message ?? String(error), code: e.code ?? null, detail: e.detail ?? null };
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
