/**
 * The storage driver seam. The store talks to SQLite through the small Db and
 * Statement interfaces below, which two drivers implement: Node's built-in
 * node:sqlite (Node 22.13+, nothing to compile) and the better-sqlite3 package
 * (Node 20). One is chosen per process, at the first open: node:sqlite when the
 * runtime has it, better-sqlite3 otherwise; STONKS_SQLITE_DRIVER=node or
 * =better-sqlite3 forces one. better-sqlite3 is only loaded when chosen, so it
 * can be an optional dependency.
 */
import { createRequire } from "node:module";
import { StonksError } from "../errors.js";

export type DriverName = "node" | "better-sqlite3";
/** A SQLite driver, or the PostgreSQL one (src/store/pg/driver.ts). */
export type BackendName = DriverName | "postgres";

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/**
 * A prepared statement. Rows are objects keyed by column name; raw(true) makes
 * them arrays of column values, pluck(true) the first column's value alone.
 * The mode stays with the statement until changed.
 */
export interface Statement {
  pluck(on?: boolean): this;
  raw(on?: boolean): this;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): RunResult;
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

export interface PragmaOptions {
  /** Return the first column of the first row instead of every row. */
  simple?: boolean;
}

/** One open connection: to a SQLite file, or to PostgreSQL (src/store/pg). */
export interface Db {
  /** Which driver opened it. */
  readonly driver: BackendName;
  /** The file path as given (":memory:" for an in-memory database), or the PostgreSQL URL. */
  readonly path: string;
  readonly memory: boolean;
  readonly readonly: boolean;
  /** Whether a transaction is open on this connection. */
  readonly inTransaction: boolean;
  prepare(sql: string): Statement;
  exec(sql: string): void;
  /** Runs `PRAGMA source`: every row as an object, or with simple the first value. */
  pragma(source: string, options?: PragmaOptions): unknown;
  /**
   * Runs fn in a BEGIN IMMEDIATE or BEGIN DEFERRED transaction: committed when
   * fn returns, rolled back when it throws. Inside an open transaction it runs
   * in a savepoint instead.
   */
  transaction<T>(fn: () => T, mode: "immediate" | "deferred"): T;
  close(): void;
}

export interface DriverOpenOptions {
  /** Open without write access; the file must exist. */
  readonly?: boolean;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const BUSY_CODES = new Set(["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_RECOVERY"]);

/**
 * Whether a SQLite error means another connection holds a lock. better-sqlite3
 * names the code ("SQLITE_BUSY"); node:sqlite gives the extended result code as
 * a number (errcode) whose low byte is the primary code.
 */
export function isBusyError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === "string" && BUSY_CODES.has(code)) return true;
  if (typeof errcode === "number") {
    const primary = errcode & 0xff;
    return primary === SQLITE_BUSY || primary === SQLITE_LOCKED;
  }
  return false;
}

interface Driver {
  name: DriverName;
  open(path: string, options: DriverOpenOptions): Db;
}

/** The driver, or why none can be used: decided once, so every open reports the first reason. */
let chosen: Driver | StonksError | undefined;

/** The driver this process uses (chosen on first call). */
export function driverName(): DriverName {
  return chosenDriver().name;
}

/** Opens a plain connection through the chosen driver: no pragmas, no schema. */
export function openConnection(path: string, options: DriverOpenOptions = {}): Db {
  return chosenDriver().open(path, options);
}

function chosenDriver(): Driver {
  if (chosen === undefined) {
    try {
      chosen = chooseDriver(process.env.STONKS_SQLITE_DRIVER);
    } catch (error) {
      if (!(error instanceof StonksError)) throw error;
      chosen = error;
    }
  }
  if (chosen instanceof StonksError) throw chosen;
  return chosen;
}

function chooseDriver(forced: string | undefined): Driver {
  if (forced === "node") {
    const sqlite = loadNodeSqlite();
    if (!sqlite) {
      throw new StonksError(
        `STONKS_SQLITE_DRIVER=node needs node:sqlite, which Node ${process.version} lacks (it needs Node 22.13 or later); unset STONKS_SQLITE_DRIVER to use better-sqlite3.`,
      );
    }
    return nodeDriver(sqlite);
  }
  if (forced === "better-sqlite3") {
    const loaded = loadBetterSqlite();
    if (typeof loaded === "string") {
      throw new StonksError(
        `STONKS_SQLITE_DRIVER=better-sqlite3, but better-sqlite3 does not load on Node ${process.version} (${loaded}); run npm rebuild better-sqlite3 or unset STONKS_SQLITE_DRIVER.`,
      );
    }
    return betterSqliteDriver(loaded);
  }
  if (forced !== undefined && forced !== "") {
    throw new StonksError(`STONKS_SQLITE_DRIVER is "${forced}"; set it to node or better-sqlite3, or unset it.`);
  }
  const sqlite = loadNodeSqlite();
  if (sqlite) return nodeDriver(sqlite);
  const loaded = loadBetterSqlite();
  if (typeof loaded === "string") {
    throw new StonksError(
      `stonks needs SQLite: Node ${process.version} has no node:sqlite (Node 22.13 or later has it) and better-sqlite3 does not load (${loaded}). Use Node 22.13 or later, or install better-sqlite3.`,
    );
  }
  return betterSqliteDriver(loaded);
}

// ---------------------------------------------------------------------------
// node:sqlite

/** The part of node:sqlite the adapter uses (the type package for Node 20 does not describe it). */
interface NodeStatementSync {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): RunResult;
  iterate(...params: unknown[]): IterableIterator<unknown>;
  setReturnArrays?(enabled: boolean): void;
}

interface NodeDatabaseSync {
  prepare(sql: string): NodeStatementSync;
  exec(sql: string): void;
  close(): void;
  readonly isTransaction?: boolean;
}

interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => NodeDatabaseSync;
}

function loadNodeSqlite(): NodeSqliteModule | undefined {
  // getBuiltinModule answers undefined where node:sqlite does not exist, without a warning or a throw.
  const load = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const sqlite = load?.("node:sqlite") as NodeSqliteModule | undefined;
  return typeof sqlite?.DatabaseSync === "function" ? sqlite : undefined;
}

const OBJECTS = 0;
const ARRAYS = 1;
const FIRST_VALUE = 2;
type RowMode = typeof OBJECTS | typeof ARRAYS | typeof FIRST_VALUE;

function firstValue(row: unknown): unknown {
  return row === undefined ? undefined : (row as unknown[])[0];
}

class NodeStatement implements Statement {
  private mode: RowMode = OBJECTS;
  /** Runtimes before setReturnArrays (Node 22.13–22.15) build the arrays from the row objects. */
  private readonly nativeArrays: boolean;

  constructor(private readonly inner: NodeStatementSync) {
    this.nativeArrays = typeof inner.setReturnArrays === "function";
  }

  pluck(on = true): this {
    return this.setMode(on ? FIRST_VALUE : this.mode === FIRST_VALUE ? OBJECTS : this.mode);
  }

  raw(on = true): this {
    return this.setMode(on ? ARRAYS : this.mode === ARRAYS ? OBJECTS : this.mode);
  }

  private setMode(mode: RowMode): this {
    if (mode !== this.mode && this.nativeArrays) this.inner.setReturnArrays?.(mode !== OBJECTS);
    this.mode = mode;
    return this;
  }

  private shape(row: unknown): unknown {
    if (row === undefined || this.nativeArrays) return row;
    return Object.values(row as Record<string, unknown>);
  }

  get(...params: unknown[]): unknown {
    const row = this.inner.get(...params);
    if (this.mode === OBJECTS) return row;
    const array = this.shape(row);
    return this.mode === FIRST_VALUE ? firstValue(array) : array;
  }

  all(...params: unknown[]): unknown[] {
    const rows = this.inner.all(...params);
    if (this.mode === OBJECTS) return rows;
    if (this.mode === FIRST_VALUE) {
      for (let i = 0; i < rows.length; i++) rows[i] = firstValue(this.shape(rows[i]));
    } else if (!this.nativeArrays) {
      for (let i = 0; i < rows.length; i++) rows[i] = this.shape(rows[i]);
    }
    return rows;
  }

  run(...params: unknown[]): RunResult {
    return this.inner.run(...params);
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    const rows = this.inner.iterate(...params);
    if (this.mode === OBJECTS || (this.mode === ARRAYS && this.nativeArrays)) return rows;
    return this.reshaped(rows, this.mode);
  }

  private *reshaped(rows: IterableIterator<unknown>, mode: RowMode): IterableIterator<unknown> {
    for (const row of rows) yield mode === FIRST_VALUE ? firstValue(this.shape(row)) : this.shape(row);
  }
}

class NodeDb implements Db {
  readonly driver = "node";
  readonly memory: boolean;
  private depth = 0;
  private readonly pragmas = new Map<string, NodeStatement>();
  private readonly control = new Map<string, NodeStatementSync>();

  constructor(
    private readonly inner: NodeDatabaseSync,
    readonly path: string,
    readonly readonly: boolean,
  ) {
    this.memory = path === ":memory:" || path === "";
  }

  get inTransaction(): boolean {
    return this.inner.isTransaction ?? this.depth > 0;
  }

  prepare(sql: string): Statement {
    return new NodeStatement(this.inner.prepare(sql));
  }

  exec(sql: string): void {
    this.inner.exec(sql);
  }

  pragma(source: string, options: PragmaOptions = {}): unknown {
    let statement = this.pragmas.get(source);
    if (!statement) {
      statement = new NodeStatement(this.inner.prepare(`PRAGMA ${source}`));
      this.pragmas.set(source, statement);
    }
    return options.simple ? statement.pluck(true).get() : statement.pluck(false).all();
  }

  transaction<T>(fn: () => T, mode: "immediate" | "deferred"): T {
    const nested = this.inTransaction;
    const [begin, commit, rollback] = nested
      ? ["SAVEPOINT stonks", "RELEASE stonks", "ROLLBACK TO stonks"]
      : [mode === "immediate" ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", "COMMIT", "ROLLBACK"];
    this.run(begin);
    this.depth++;
    try {
      const result = fn();
      this.run(commit);
      return result;
    } catch (error) {
      // SQLite may have rolled back already (a full disk, an interrupt); then there is nothing to undo.
      if (this.inTransaction) {
        this.run(rollback);
        if (nested) this.run(commit);
      }
      throw error;
    } finally {
      this.depth--;
    }
  }

  private run(sql: string): void {
    let statement = this.control.get(sql);
    if (!statement) {
      statement = this.inner.prepare(sql);
      this.control.set(sql, statement);
    }
    statement.run();
  }

  close(): void {
    this.inner.close();
  }
}

function nodeDriver(sqlite: NodeSqliteModule): Driver {
  return {
    name: "node",
    open(path, options) {
      const readonly = options.readonly ?? false;
      return new NodeDb(new sqlite.DatabaseSync(path, { readOnly: readonly }), path, readonly);
    },
  };
}

// ---------------------------------------------------------------------------
// better-sqlite3

/** The part of better-sqlite3 the adapter uses; its statements already are Statements. */
interface BetterDatabase {
  readonly memory: boolean;
  readonly readonly: boolean;
  readonly inTransaction: boolean;
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  pragma(source: string, options?: PragmaOptions): unknown;
  transaction<T>(fn: () => T): { immediate(): T; deferred(): T };
  close(): unknown;
}

type BetterConstructor = new (
  path: string,
  options?: { readonly?: boolean; fileMustExist?: boolean },
) => BetterDatabase;

/** Loads better-sqlite3, or says in a few words why it cannot. */
function loadBetterSqlite(): BetterConstructor | string {
  try {
    const Database = createRequire(import.meta.url)("better-sqlite3") as BetterConstructor;
    // The native part loads only at the first open: a build for another Node version fails here, not later.
    new Database(":memory:").close();
    return Database;
  } catch (error) {
    const message = (error as Error).message;
    if ((error as { code?: string }).code === "MODULE_NOT_FOUND") return "it is not installed";
    if (message.includes("NODE_MODULE_VERSION")) return "it was compiled for another Node version";
    return message.split("\n")[0];
  }
}

/**
 * Statements are better-sqlite3's own, handed out unwrapped: the hot read and
 * write paths call straight into the native module.
 */
class BetterDb implements Db {
  readonly driver = "better-sqlite3";

  constructor(
    private readonly inner: BetterDatabase,
    readonly path: string,
  ) {}

  get memory(): boolean {
    return this.inner.memory;
  }

  get readonly(): boolean {
    return this.inner.readonly;
  }

  get inTransaction(): boolean {
    return this.inner.inTransaction;
  }

  prepare(sql: string): Statement {
    return this.inner.prepare(sql);
  }

  exec(sql: string): void {
    this.inner.exec(sql);
  }

  pragma(source: string, options?: PragmaOptions): unknown {
    return this.inner.pragma(source, options);
  }

  transaction<T>(fn: () => T, mode: "immediate" | "deferred"): T {
    const transaction = this.inner.transaction(fn);
    return mode === "immediate" ? transaction.immediate() : transaction.deferred();
  }

  close(): void {
    this.inner.close();
  }
}

function betterSqliteDriver(Database: BetterConstructor): Driver {
  return {
    name: "better-sqlite3",
    open(path, options) {
      const readonly = options.readonly ?? false;
      return new BetterDb(new Database(path, { readonly, fileMustExist: readonly }), path);
    },
  };
}
