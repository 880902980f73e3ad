import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { NotAStonksFileError, SchemaVersionError, StonksError } from "../src/errors.js";
import { open } from "../src/query/database.js";
import {
  APPLICATION_ID,
  checkpointIfLarge,
  JOURNAL_SIZE_LIMIT,
  openDatabase,
  runImmediate,
  SCHEMA_VERSION,
  WAL_TRUNCATE_BYTES,
} from "../src/store/connection.js";
import { type Db, openConnection } from "../src/store/driver.js";
import { listRunRows } from "../src/store/reads.js";
import { appendPoints, ensureSeries, insertRun } from "../src/store/writes.js";
import { CLI, stonks, tempDb } from "./support/helpers.js";
import { PROVENANCE as provenance } from "./support/server-support.js";

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Files next to the database that SQLite would have made (-wal, -shm, -journal). */
function siblings(path: string): string[] {
  return readdirSync(dirname(path)).filter((name) => name !== basename(path) && name.startsWith(basename(path)));
}

/** Another program's file that happens to use user_version 1, as stonks files do. */
function foreignFile(journalMode: "DELETE" | "WAL"): string {
  const path = tempDb("notes.db");
  const raw = openConnection(path);
  raw.pragma(`journal_mode = ${journalMode}`);
  raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')");
  raw.pragma("user_version = 1");
  raw.close();
  return path;
}

function newRun(db: Db): { id: string; seq: number } {
  return runImmediate(db, () =>
    insertRun(db, {
      experimentName: "exp",
      name: "r",
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      provenance,
      now: 1,
    }),
  );
}

function writeRun(path: string): string {
  const db = openDatabase(path);
  const run = newRun(db);
  db.close();
  return run.id;
}

describe("a file that is not ours", () => {
  for (const mode of ["DELETE", "WAL"] as const) {
    it(`is refused and left byte-identical (journal mode ${mode}, user_version 1)`, () => {
      const path = foreignFile(mode);
      const before = sha256(path);
      expect(() => openDatabase(path)).toThrow(NotAStonksFileError);
      expect(() => openDatabase(path)).toThrow(
        `${path} is a SQLite database of another program, not a stonks database`,
      );
      expect(() => open(path)).toThrow(NotAStonksFileError);
      expect(() => open(path, { readonly: mode === "DELETE" })).toThrow(NotAStonksFileError);
      expect(sha256(path)).toBe(before);
      expect(siblings(path)).toEqual([]);
      const raw = openConnection(path, { readonly: true });
      expect(raw.pragma("journal_mode", { simple: true })).toBe(mode.toLowerCase());
      expect(raw.pragma("application_id", { simple: true })).toBe(0);
      raw.close();
    });
  }

  it("is refused when it has stonks' table names but not their columns", () => {
    const path = tempDb();
    openDatabase(path).close();
    const raw = openConnection(path);
    raw.pragma("application_id = 0");
    raw.exec("ALTER TABLE runs ADD COLUMN owner TEXT");
    raw.pragma("journal_mode = DELETE");
    raw.close();
    const before = sha256(path);
    expect(() => openDatabase(path)).toThrow(NotAStonksFileError);
    expect(sha256(path)).toBe(before);
  });

  it("that is not SQLite at all is refused with the same error", () => {
    const path = tempDb("junk.db");
    writeFileSync(path, "this is not a database, just text ".repeat(100));
    const before = sha256(path);
    expect(() => openDatabase(path)).toThrow(NotAStonksFileError);
    expect(() => openDatabase(path)).toThrow(/is not a stonks database/);
    expect(sha256(path)).toBe(before);
    expect(siblings(path)).toEqual([]);
  });

  it("is one SchemaVersionError and one StonksError for callers that catch those", () => {
    const error = new NotAStonksFileError("x");
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error).toBeInstanceOf(StonksError);
    expect(error.name).toBe("NotAStonksFileError");
  });

  for (const args of [["info"], ["gc", "-f"], ["serve", "--port", "0"], ["ls"]]) {
    it(`makes \`stonks ${args.join(" ")}\` print one line and exit non-zero, touching nothing`, async () => {
      expect(existsSync(CLI), "npm run build first").toBe(true);
      const path = foreignFile("DELETE");
      const before = sha256(path);
      const result = await stonks([...args, "--db", path]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toBe(
        `stonks: ${path} is a SQLite database of another program, not a stonks database; stonks left it untouched. Choose another file.\n`,
      );
      expect(sha256(path)).toBe(before);
      expect(siblings(path)).toEqual([]);
    });
  }
});

describe("a stonks file", () => {
  it("is stamped with the stonks application id when created, an empty file included", () => {
    const created = tempDb();
    openDatabase(created).close();
    const empty = tempDb("empty.db");
    writeFileSync(empty, "");
    openDatabase(empty).close();
    for (const path of [created, empty]) {
      const raw = openConnection(path, { readonly: true });
      expect(raw.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
      expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      raw.close();
    }
    expect(APPLICATION_ID).toBe(Buffer.from("STNK").readUInt32BE(0));
  });

  it("written before the stamp existed is recognised by its tables, read as is, and stamped by a writer", () => {
    const path = tempDb();
    const runId = writeRun(path);
    const raw = openConnection(path);
    raw.pragma("application_id = 0");
    raw.close();

    const reader = open(path, { readonly: true });
    expect(reader.listRuns().map((r) => r.id)).toEqual([runId]);
    reader.close();
    const check = openConnection(path, { readonly: true });
    expect(check.pragma("application_id", { simple: true })).toBe(0);
    check.close();

    const writer = openDatabase(path);
    expect(writer.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    expect(listRunRows(writer).map((r) => r.id)).toEqual([runId]);
    writer.close();
  });

  it("from a newer stonks is refused untouched, stamped or not", () => {
    for (const stamp of [APPLICATION_ID, 0]) {
      const path = tempDb();
      openDatabase(path).close();
      const raw = openConnection(path);
      raw.pragma(`application_id = ${stamp}`);
      raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      raw.pragma("journal_mode = DELETE");
      raw.close();
      const before = sha256(path);
      expect(() => openDatabase(path)).toThrow(/newer than this stonks understands/);
      expect(sha256(path)).toBe(before);
    }
  });

  it("gets the same pragmas on every writer connection", () => {
    const db = openDatabase(tempDb());
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(JOURNAL_SIZE_LIMIT);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    expect(db.pragma("synchronous", { simple: true })).toBe(1);
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(10_000);
    db.close();
  });
});

describe("the write-ahead log", () => {
  it("stays below the size limit while a reader's polls overlap the writer's commits", () => {
    const path = tempDb();
    const writer = openDatabase(path);
    const reader = openDatabase(path);
    const series = runImmediate(writer, () => ensureSeries(writer, newRun(writer).seq, "loss"));
    let largest = 0;
    const batch = 100;
    for (let start = 0; start < 200_000; start += batch) {
      const steps = Float64Array.from({ length: batch }, (_, i) => start + i);
      const values = Float64Array.from({ length: batch }, (_, i) => Math.sin(start + i));
      // A poll of the live-event reader is under way while the writer commits: its snapshot
      // keeps SQLite's own checkpoint from reaching the end of the log, so the log never starts over.
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM chunks").get();
      runImmediate(writer, () => appendPoints(writer, series, steps, values, steps));
      reader.exec("COMMIT");
      checkpointIfLarge(writer);
      largest = Math.max(largest, statSync(`${path}-wal`).size);
    }
    reader.close();
    writer.close();
    expect(largest).toBeGreaterThan(WAL_TRUNCATE_BYTES / 2);
    expect(largest).toBeLessThan(WAL_TRUNCATE_BYTES + 1024 * 1024);
    expect(largest).toBeLessThan(JOURNAL_SIZE_LIMIT);
  });
});
