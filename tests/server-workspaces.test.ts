// Saved dashboard workspaces over the REST API, and the experiment-list event
// that keeps every open dashboard's sidebar current.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkspaceJson } from "../src/contract/wire.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { openDatabase, SCHEMA_VERSION } from "../src/store/connection.js";
import { openConnection } from "../src/store/driver.js";
import { backends } from "./support/backends.js";
import { tempDb, tempDir } from "./support/helpers.js";
import { populateRuns, readEvents } from "./support/server-support.js";

let server: RunningServer;
let dbPath: string;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe.each(backends())("workspaces on $name", (backend) => {
  beforeAll(async () => {
    await backend.start();
    dbPath = backend.newTarget();
    populateRuns(dbPath, [{ experiment: "sweep", name: "a", status: "completed" }]);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server?.close();
    await backend.stop();
  });

  describe("workspaces API", () => {
    it("saves, lists, reads, replaces and deletes a workspace per experiment", async () => {
      expect(await call("GET", "/api/experiments/sweep/workspaces")).toEqual({ status: 200, json: [] });
      const state = { chartCols: 3, charts: { "train/loss": { log: true } } };
      const saved = await call("PUT", "/api/experiments/sweep/workspaces/loss%20view", { state });
      expect(saved.status).toBe(200);
      expect(saved.json).toMatchObject({ name: "loss view", state });
      await call("PUT", "/api/experiments/sweep/workspaces/Another", { state: { chartCols: 1 } });
      const list = (await call("GET", "/api/experiments/sweep/workspaces")).json as WorkspaceJson[];
      expect(list.map((w) => w.name)).toEqual(["Another", "loss view"]);
      await call("PUT", "/api/experiments/sweep/workspaces/loss%20view", { state: { chartCols: 2 } });
      const read = await call("GET", "/api/experiments/sweep/workspaces/loss%20view");
      expect(read.json).toMatchObject({ name: "loss view", state: { chartCols: 2 } });
      expect(await call("DELETE", "/api/experiments/sweep/workspaces/Another")).toEqual({
        status: 200,
        json: { deleted: "Another" },
      });
      expect((await call("GET", "/api/experiments/sweep/workspaces/Another")).status).toBe(404);
    });

    it("answers bad input with a JSON 4xx", async () => {
      const cases: [string, string, unknown, number, string][] = [
        ["PUT", "/api/experiments/sweep/workspaces/x", { state: [1, 2] }, 400, "bad_request"],
        ["PUT", "/api/experiments/sweep/workspaces/x", { state: {}, extra: 1 }, 400, "bad_request"],
        ["PUT", "/api/experiments/sweep/workspaces/x", "{not json", 400, "bad_request"],
        ["PUT", `/api/experiments/sweep/workspaces/${"n".repeat(101)}`, { state: {} }, 400, "bad_request"],
        ["PUT", "/api/experiments/sweep/workspaces/%20%20", { state: {} }, 400, "bad_request"],
        ["PUT", "/api/experiments/sweep/workspaces/big", { state: { blob: "x".repeat(70_000) } }, 400, "bad_request"],
        ["PUT", "/api/experiments/nope/workspaces/x", { state: {} }, 404, "not_found"],
        ["DELETE", "/api/experiments/sweep/workspaces/never-saved", undefined, 404, "not_found"],
      ];
      for (const [method, path, body, status, code] of cases) {
        const answer = await call(method, path, body);
        expect(answer.status, `${method} ${path.slice(0, 60)}`).toBe(status);
        expect((answer.json as { error: { code: string; message: string } }).error.code).toBe(code);
      }
    });

    it("keeps workspaces in the database file, deleted with their experiment", async () => {
      await call("PUT", "/api/experiments/sweep/workspaces/kept", { state: { chartCols: 4 } });
      const db = openDatabase(dbPath);
      try {
        expect(db.prepare("SELECT count(*) AS n FROM workspaces WHERE name = 'kept'").get()).toEqual({ n: 1 });
      } finally {
        db.close();
      }
      expect((await call("DELETE", "/api/experiments/sweep")).status).toBe(200);
      populateRuns(dbPath, [{ experiment: "sweep", name: "again", status: "completed" }]);
      expect((await call("GET", "/api/experiments/sweep/workspaces")).json).toEqual([]);
    });
  });

  describe("experiment list events", () => {
    it("tells every stream, and an experiments-only stream, that a new experiment appeared", async () => {
      const scoped = await readEvents(`${server.url}/api/events?experiment_id=sweep`);
      const listOnly = await readEvents(`${server.url}/api/events?only=experiments`);
      try {
        await scoped.next((e) => e.event === "ready");
        await listOnly.next((e) => e.event === "ready");
        populateRuns(dbPath, [{ experiment: "brand-new", name: "b", metrics: { loss: [1, 2] } }]);
        const id = (await call("GET", "/api/experiments/brand-new")).json as { id: string };
        for (const reader of [scoped, listOnly]) {
          const event = await reader.next((e) => e.event === "experiments_changed");
          expect(JSON.parse(event.data)).toEqual({ experiment_ids: [id.id] });
        }
        // The experiments-only stream carries no run or point of any experiment.
        expect(listOnly.events.filter((e) => !["ready", "experiments_changed"].includes(e.event))).toEqual([]);
        expect((await call("GET", "/api/events?only=runs")).status).toBe(400);
      } finally {
        scoped.close();
        listOnly.close();
      }
    });
  });
});

describe("schema version 2 and later (SQLite files)", () => {
  /** A file as stonks before workspaces wrote it: migration 1 only. */
  function versionOneFile(): string {
    const path = tempDb();
    const raw = openConnection(path);
    raw.exec(readFileSync(new URL("../src/store/migrations/0001_initial.sql", import.meta.url), "utf8"));
    raw.pragma("user_version = 1");
    raw.close();
    return path;
  }
  const tables = (path: string) => {
    const raw = openConnection(path, { readonly: true });
    try {
      return {
        version: raw.pragma("user_version", { simple: true }),
        workspaces: raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'workspaces'").get(),
      };
    } finally {
      raw.close();
    }
  };

  it("migrates a version-1 file forward when the TypeScript side opens it", () => {
    const path = versionOneFile();
    openDatabase(path).close();
    expect(tables(path)).toEqual({ version: SCHEMA_VERSION, workspaces: { n: 1 } });
  });

  it("migrates a version-1 file forward when the Python SDK opens it (same migration files)", () => {
    const path = versionOneFile();
    execFileSync("python3", ["-c", "import sys; from stonks import _db; _db.connect(sys.argv[1]).close()", path], {
      env: { ...process.env, PYTHONPATH: join(import.meta.dirname, "..", "python") },
    });
    expect(tables(path)).toEqual({ version: SCHEMA_VERSION, workspaces: { n: 1 } });
  });
});
