/**
 * PgDb: the store's Db interface over PostgreSQL. The store and everything
 * above it call the database synchronously, as SQLite is called; node-postgres
 * runs in a worker thread (worker.ts) and each call here blocks until that
 * thread answers (SharedArrayBuffer + Atomics.wait + receiveMessageOnPort).
 * So a query blocks the event loop exactly as a SQLite query does; a team
 * that needs more throughput runs more server processes (docs/architecture.md).
 *
 * Statements are written in the store's one SQL text: `?` and `@name`
 * placeholders become `$n` here, nothing else is rewritten.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { DatabaseUnavailableError, StonksError } from "../../errors.js";
import { redactUrl } from "../../util/db-path.js";
import type { Db, PragmaOptions, RunResult, Statement } from "../driver.js";
import type { PgReply, PgRequest } from "./protocol.js";

/**
 * The key of the advisory lock every write transaction takes first: writers
 * commit one after another, as SQLite's BEGIN IMMEDIATE makes them, so
 * revisions and chunk ids grow in commit order across all servers. "STNK".
 */
export const WRITE_LOCK_KEY = 0x53544e4b;

/** Connections a process opens to one database at most, unless STONKS_PG_POOL or --pg-pool says otherwise. */
export const DEFAULT_POOL_SIZE = 4;
/** How long a checkout waits for a free connection, or a first connection for the server to answer. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Longest a single call may take before the main thread gives up on the worker. */
const CALL_TIMEOUT_MS = 10 * 60_000;

/** The pool size from STONKS_PG_POOL, else the default. */
export function poolSizeFromEnv(): number {
  const text = process.env.STONKS_PG_POOL;
  if (text === undefined || text === "") return DEFAULT_POOL_SIZE;
  const size = Number(text);
  if (!Number.isInteger(size) || size < 1 || size > 1000) {
    throw new StonksError(`STONKS_PG_POOL is "${text}"; set it to a whole number of connections from 1 to 1000.`);
  }
  return size;
}

/** An error PostgreSQL reported, with its SQLSTATE code (e.g. 23505 for a unique violation). */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
    readonly detail: string | null,
    /** No connection could be had: PostgreSQL is down, restarting or refusing connections. */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = "PgError";
  }
}

/**
 * SQLSTATE classes of failures that a fresh attempt may not meet: connection
 * lost (08), the server shutting down or restarting (57P01-57P03),
 * serialization failure and deadlock (40001, 40P01). Not a PostgreSQL that
 * cannot be reached at all: trying again at once would only hold the caller
 * (and the event loop) while it stays down.
 */
export function isTransientPgError(error: unknown): boolean {
  if (error instanceof PgError) {
    if (error.unreachable) return false;
    const code = error.code ?? "";
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true;
    if (code === "40001" || code === "40P01") return true;
    // node-postgres reports a socket that closed under a query without a SQLSTATE.
    return code === "" && /Connection terminated|ECONNREFUSED|ECONNRESET|connection/i.test(error.message);
  }
  return false;
}

/**
 * Whether a call failed because PostgreSQL is away (down, restarting, the
 * connection lost) rather than because of the call: the server answers 503
 * and the same request may succeed in a moment.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof PgError)) return false;
  return error.unreachable || (isTransientPgError(error) && error.code !== "40001" && error.code !== "40P01");
}

class Channel {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private nextSession = 1;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(workerFile(), {
      workerData: { port: port2, flag: this.flag.buffer },
      transferList: [port2],
    });
    // Neither the thread nor its port may keep a finished process alive.
    worker.unref();
    port1.unref();
    this.port = port1;
  }

  newSession(): number {
    return this.nextSession++;
  }

  call(request: PgRequest): PgReply {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(request);
    const deadline = Date.now() + CALL_TIMEOUT_MS;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.flag, 0, 0, left) === "timed-out") {
        throw new StonksError(`PostgreSQL did not answer within ${CALL_TIMEOUT_MS / 60_000} minutes.`);
      }
      const message = receiveMessageOnPort(this.port);
      if (message !== undefined) return message.message as PgReply;
      // Woken by the previous call's notify: the thread raised the flag, this call saw it and read that
      // answer, and the notify landed only after this call began waiting. Reading on would take this
      // call's answer for the next one's; wait for the answer that is this call's.
    }
  }
}

/** The worker next to this module; from a source checkout (tests run the .ts files), the built one. */
function workerFile(): URL {
  const beside = new URL("./worker.js", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL("../../../dist/store/pg/worker.js", import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new StonksError("The PostgreSQL driver's worker is not built; run npm run build.");
}

let channel: Channel | undefined;

function shared(): Channel {
  channel ??= new Channel();
  return channel;
}

function check(reply: PgReply): { rows: unknown[]; rowCount: number } {
  if (!reply.ok) throw new PgError(reply.message, reply.code, reply.detail, reply.unreachable);
  return { rows: reply.rows ?? [], rowCount: reply.rowCount ?? 0 };
}

/**
 * Rewrites `?` and `@name` placeholders to `$1`, `$2`, ... outside quoted
 * text; names maps each `@name` to its number (one number per name).
 */
export function numberPlaceholders(sql: string): { text: string; names: string[] | null; count: number } {
  let out = "";
  let count = 0;
  const names: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === "?") {
      out += `$${++count}`;
      i++;
    } else if (c === "@" && /[A-Za-z_]/.test(sql[i + 1] ?? "")) {
      const match = /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i)) as RegExpExecArray;
      let at = names.indexOf(match[1]);
      if (at === -1) at = names.push(match[1]) - 1;
      out += `$${at + 1}`;
      i += match[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, names: names.length > 0 ? names : null, count };
}

/**
 * A value as SQLite would bind it: NaN is stored as NULL there, so it is here too. PostgreSQL's text
 * cannot hold U+0000 (SQLite's can): it is bound as U+FFFD, so a lookup of such a name finds nothing
 * instead of failing, and a write keeps the rest of the text.
 */
function bindable(value: unknown): unknown {
  if (typeof value === "number" && Number.isNaN(value)) return null;
  if (typeof value === "string" && value.includes("\u0000")) return value.replaceAll("\u0000", "\uFFFD");
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

const OBJECTS = 0;
const ARRAYS = 1;
const FIRST_VALUE = 2;

class PgStatement implements Statement {
  private mode = OBJECTS;
  private readonly text: string;
  private readonly names: string[] | null;

  constructor(
    private readonly db: PgDb,
    sql: string,
  ) {
    const numbered = numberPlaceholders(sql);
    this.text = numbered.text;
    this.names = numbered.names;
  }

  pluck(on = true): this {
    this.mode = on ? FIRST_VALUE : this.mode === FIRST_VALUE ? OBJECTS : this.mode;
    return this;
  }

  raw(on = true): this {
    this.mode = on ? ARRAYS : this.mode === ARRAYS ? OBJECTS : this.mode;
    return this;
  }

  private params(args: unknown[]): unknown[] {
    if (this.names !== null) {
      const named = (args[0] ?? {}) as Record<string, unknown>;
      return this.names.map((name) => bindable(named[name]));
    }
    return args.map(bindable);
  }

  private query(args: unknown[]): { rows: unknown[]; rowCount: number } {
    return this.db.query(this.text, this.params(args), this.mode !== OBJECTS);
  }

  get(...params: unknown[]): unknown {
    const row = this.query(params).rows[0];
    return this.mode === FIRST_VALUE && row !== undefined ? (row as unknown[])[0] : row;
  }

  all(...params: unknown[]): unknown[] {
    const rows = this.query(params).rows;
    return this.mode === FIRST_VALUE ? rows.map((row) => (row as unknown[])[0]) : rows;
  }

  run(...params: unknown[]): RunResult {
    return { changes: this.query(params).rowCount, lastInsertRowid: 0 };
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    return this.all(...params)[Symbol.iterator]();
  }
}

export interface PgOpenOptions {
  readonly?: boolean;
  /** Connections this process opens to the database at most (shared by every PgDb of the same URL). */
  poolSize?: number;
}

/** One PostgreSQL database, used through the store's synchronous Db interface. */
export class PgDb implements Db {
  readonly driver = "postgres";
  readonly memory = false;
  readonly readonly: boolean;
  private readonly session: number;
  private depth = 0;
  private closed = false;

  constructor(
    readonly path: string,
    options: PgOpenOptions = {},
  ) {
    this.readonly = options.readonly ?? false;
    this.session = shared().newSession();
    const reply = shared().call({
      op: "open",
      session: this.session,
      url: path,
      poolSize: options.poolSize ?? poolSizeFromEnv(),
      readonly: this.readonly,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    if (!reply.ok) {
      this.closed = true;
      const reason = reply.message || reply.code || "no answer";
      const message = `Cannot connect to PostgreSQL at ${redactUrl(path)}: ${reason}. Start PostgreSQL or fix the URL (--db or STONKS_DB).`;
      throw reply.unreachable ? new DatabaseUnavailableError(message, reason) : new StonksError(message);
    }
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /** Runs one statement; `arrays` gives rows as arrays of values. */
  query(sql: string, params: unknown[], arrays: boolean): { rows: unknown[]; rowCount: number } {
    return check(shared().call({ op: "query", session: this.session, sql, params, arrays, prepare: true }));
  }

  prepare(sql: string): Statement {
    return new PgStatement(this, sql);
  }

  /** Runs a script of statements without parameters (migrations). */
  exec(sql: string): void {
    check(shared().call({ op: "query", session: this.session, sql, params: undefined, arrays: false, prepare: false }));
  }

  pragma(source: string, _options?: PragmaOptions): unknown {
    throw new StonksError(`PRAGMA ${source} is SQLite's; the PostgreSQL backend has no such setting.`);
  }

  /**
   * Immediate: READ COMMITTED after the writers' advisory lock, so each
   * statement sees every commit before it. Deferred (reads): REPEATABLE READ,
   * so the statements of fn see one snapshot, as SQLite's read transaction does.
   */
  transaction<T>(fn: () => T, mode: "immediate" | "deferred"): T {
    if (this.depth > 0) return this.savepoint(fn);
    const begin =
      mode === "immediate"
        ? `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`
        : "BEGIN ISOLATION LEVEL REPEATABLE READ";
    check(shared().call({ op: "begin", session: this.session, sql: begin }));
    this.depth++;
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.depth--;
      // A rollback that fails (the connection is gone, taking the transaction with it) must not hide why fn failed.
      shared().call({ op: "end", session: this.session, commit: false });
      throw error;
    }
    this.depth--;
    check(shared().call({ op: "end", session: this.session, commit: true }));
    return result;
  }

  private savepoint<T>(fn: () => T): T {
    const name = `stonks_${this.depth}`;
    this.exec(`SAVEPOINT ${name}`);
    this.depth++;
    try {
      const result = fn();
      this.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      this.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw error;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    check(shared().call({ op: "close", session: this.session }));
  }
}
