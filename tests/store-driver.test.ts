// The storage driver seam: which SQLite driver each runtime gets, how STONKS_SQLITE_DRIVER forces one,
// and that both drivers behave the same where the store relies on them. CI runs this file on Node 20
// (better-sqlite3) and on Node 24 (node:sqlite).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeFloats, encodeFloats } from "../src/store/codec.js";
import { openDatabase, runImmediate, stmt } from "../src/store/connection.js";
import { type Db, driverName, isBusyError, openConnection } from "../src/store/driver.js";
import { ROOT, tempDb } from "./support/helpers.js";

const CLI = join(ROOT, "dist", "cli", "main.js");
const OPEN_AND_SAY_DRIVER = join(ROOT, "dist", "store", "connection.js");

const [major, minor] = process.versions.node.split(".").map(Number);
/** node:sqlite is there without a flag from Node 22.13 and 23.4 on. */
const runtimeHasNodeSqlite = major >= 24 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);

/** Whether this runtime can load the installed better-sqlite3 (a build for another Node version cannot). */
function betterSqliteLoads(): boolean {
  try {
    const Database = createRequire(import.meta.url)("better-sqlite3") as new (path: string) => { close(): void };
    new Database(":memory:").close();
    return true;
  } catch {
    return false;
  }
}

interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function withDriver(forced: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.STONKS_SQLITE_DRIVER;
  if (forced !== undefined) env.STONKS_SQLITE_DRIVER = forced;
  return env;
}

/** Opens a new stonks file in a child process on this runtime and prints the driver that opened it. */
function driverOfChild(forced: string | undefined): ChildResult {
  const script = `import { openDatabase } from ${JSON.stringify(OPEN_AND_SAY_DRIVER)};
const db = openDatabase(process.argv[1]);
process.stdout.write(db.driver);
db.close();`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", script, tempDb()], {
    env: withDriver(forced),
    encoding: "utf8",
  });
}

function cli(forced: string | undefined, ...args: string[]): ChildResult {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: withDriver(forced), encoding: "utf8" });
}

function stonksFile(): string {
  const path = tempDb();
  openDatabase(path).close();
  return path;
}

describe("driver choice", () => {
  it("uses node:sqlite where the runtime has it and better-sqlite3 otherwise", () => {
    const expected = runtimeHasNodeSqlite ? "node" : "better-sqlite3";
    const forced = process.env.STONKS_SQLITE_DRIVER;
    expect(driverName()).toBe(forced === "node" || forced === "better-sqlite3" ? forced : expected);
    const db = openDatabase(tempDb());
    expect(db.driver).toBe(driverName());
    db.close();
    expect(driverOfChild(undefined)).toMatchObject({ status: 0, stdout: expected });
  });

  it("STONKS_SQLITE_DRIVER=node forces node:sqlite, or says in one line that this Node lacks it", () => {
    if (runtimeHasNodeSqlite) {
      expect(driverOfChild("node")).toMatchObject({ status: 0, stdout: "node" });
    } else {
      const result = cli("node", "ls", "--db", stonksFile());
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(
        /^stonks: STONKS_SQLITE_DRIVER=node needs node:sqlite, which Node v[\d.]+ lacks .*\n$/,
      );
    }
  });

  it("STONKS_SQLITE_DRIVER=better-sqlite3 forces better-sqlite3, or says in one line why it does not load", () => {
    if (betterSqliteLoads()) {
      expect(driverOfChild("better-sqlite3")).toMatchObject({ status: 0, stdout: "better-sqlite3" });
    } else {
      const result = cli("better-sqlite3", "ls", "--db", stonksFile());
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(
        /^stonks: STONKS_SQLITE_DRIVER=better-sqlite3, but better-sqlite3 does not load on Node v[\d.]+ \(.+\); run npm rebuild better-sqlite3 or unset STONKS_SQLITE_DRIVER\.\n$/,
      );
    }
  });

  it("refuses an unknown STONKS_SQLITE_DRIVER in one line", () => {
    const result = cli("sqlite4", "ls", "--db", stonksFile());
    expect(result.status).not.toBe(0);
    expect(result.stderr).toBe(
      'stonks: STONKS_SQLITE_DRIVER is "sqlite4"; set it to node or better-sqlite3, or unset it.\n',
    );
  });
});

describe("the chosen driver behaves as the store expects", () => {
  function scratch(): Db {
    const db = openConnection(":memory:");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, blob BLOB)");
    const insert = db.prepare("INSERT INTO t (name, blob) VALUES (?, ?)");
    insert.run("a", encodeFloats(new Float64Array([1.5, -2])));
    insert.run("b", null);
    return db;
  }

  it("returns rows as objects, as arrays in raw mode and as first values in pluck mode", () => {
    const db = scratch();
    const select = db.prepare("SELECT id, name FROM t ORDER BY id");
    expect(select.all()).toEqual([
      { id: 1, name: "a" },
      { id: 2, name: "b" },
    ]);
    expect(select.raw(true).all()).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    expect([...select.iterate()]).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    expect(select.pluck(true).all()).toEqual([1, 2]);
    expect(select.get()).toBe(1);
    expect([...select.iterate()]).toEqual([1, 2]);
    expect(select.pluck(false).get()).toEqual({ id: 1, name: "a" });
    expect(db.prepare("SELECT name FROM t WHERE id = ?").pluck(true).get(9)).toBeUndefined();
    expect(db.prepare("SELECT name FROM t WHERE name = @name").get({ name: "b" })).toEqual({ name: "b" });
    expect(db.prepare("UPDATE t SET name = ? WHERE id > ?").run("c", 0)).toMatchObject({ changes: 2 });
    db.close();
  });

  it("caches a statement per row shape, so callers asking for other shapes of one query each get theirs", () => {
    const db = scratch();
    const sql = "SELECT id, name FROM t ORDER BY id LIMIT 1";
    expect(stmt(db, sql, "arrays").get()).toEqual([1, "a"]);
    expect(stmt(db, sql).get()).toEqual({ id: 1, name: "a" });
    expect(stmt(db, sql, "values").get()).toBe(1);
    expect(stmt(db, sql, "arrays").get()).toEqual([1, "a"]);
    expect(stmt(db, sql, "objects")).toBe(stmt(db, sql));
    db.close();
  });

  it("reads blobs back as bytes the codec decodes", () => {
    const db = scratch();
    const blob = db.prepare("SELECT blob FROM t WHERE id = 1").pluck(true).get();
    expect(blob).toBeInstanceOf(Uint8Array);
    expect([...decodeFloats(blob as Uint8Array)]).toEqual([1.5, -2]);
    db.close();
  });

  it("commits a transaction, rolls back a failed one, and nests as a savepoint", () => {
    const db = scratch();
    const count = db.prepare("SELECT count(*) FROM t").pluck(true);
    const insert = db.prepare("INSERT INTO t (name) VALUES (?)");
    expect(db.transaction(() => insert.run("x").changes, "immediate")).toBe(1);
    expect(() =>
      db.transaction(() => {
        insert.run("y");
        throw new Error("undo");
      }, "immediate"),
    ).toThrow("undo");
    expect(count.get()).toBe(3);
    db.transaction(() => {
      expect(db.inTransaction).toBe(true);
      insert.run("kept");
      expect(() =>
        db.transaction(() => {
          insert.run("dropped");
          throw new Error("inner");
        }, "deferred"),
      ).toThrow("inner");
    }, "deferred");
    expect(db.inTransaction).toBe(false);
    expect(db.prepare("SELECT name FROM t WHERE id > 2 ORDER BY id").pluck(true).all()).toEqual(["x", "kept"]);
    expect(db.pragma("user_version", { simple: true })).toBe(0);
    expect(db.pragma("table_info(t)")).toHaveLength(3);
    db.close();
  });

  it("recognises its own error for a lock another connection holds, and the store retries past it", () => {
    const path = stonksFile();
    const holder = openDatabase(path);
    const waiter = openDatabase(path);
    waiter.pragma("busy_timeout = 0");
    holder.exec("BEGIN IMMEDIATE");
    let lockError: unknown;
    try {
      waiter.exec("BEGIN IMMEDIATE");
    } catch (error) {
      lockError = error;
    }
    expect(isBusyError(lockError)).toBe(true);
    expect(isBusyError(new Error("no such table: x"))).toBe(false);
    holder.exec("COMMIT");
    expect(runImmediate(waiter, () => waiter.prepare("SELECT count(*) FROM runs").pluck(true).get())).toBe(0);
    holder.close();
    waiter.close();
  });
});
