// The where language at each of its doors over one real database (a SQLite file, a PostgreSQL database):
// the REST API on a real server, db.listRuns({ where }) and the built `stonks runs --where`; and the
// Python reader over the same SQLite file.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open } from "../src/query/database.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { backends } from "./support/backends.js";
import { ROOT, stonks, tempDir } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

const NOW = Date.now() / 1000;

describe.each(backends())("the where language on $name", (backend) => {
  let dbPath: string;
  let server: RunningServer;
  let experimentId: string;

  beforeAll(async () => {
    await backend.start();
    dbPath = backend.newTarget();
    populateRuns(dbPath, [
      {
        name: "res18",
        config: { lr: 0.1, model: "resnet18", opt: { name: "sgd" } },
        tags: ["baseline"],
        createdAt: NOW - 1000,
        status: "completed",
        metrics: { "val/acc": [0.1, 0.7, 0.6] },
      },
      {
        name: "res50",
        config: { lr: 0.01, model: "resnet50", opt: { name: "adam" } },
        tags: ["sweep"],
        group: "g1",
        createdAt: NOW - 900,
        status: "failed",
        metrics: { "val/acc": [0.2, 0.95] },
      },
      { name: "vit", config: { lr: 0.001, model: "vit", warmup: 10 }, createdAt: NOW - 800, heartbeat: NOW - 3600 },
      { experiment: "other", name: "elsewhere", config: { lr: 0.1 }, createdAt: NOW - 700, status: "completed" },
    ]);
    const db = open(dbPath);
    experimentId = (db.getExperiment("exp") as { id: string }).id;
    db.close();
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server?.close();
    await backend.stop();
  });

  async function names(...wheres: string[]): Promise<string[]> {
    const params = new URLSearchParams(wheres.map((w): [string, string] => ["where", w]));
    const reply = await fetch(`${server.url}/api/experiments/${experimentId}/runs?${params}`);
    expect(reply.status).toBe(200);
    return ((await reply.json()) as { name: string }[]).map((r) => r.name);
  }

  describe("GET /api/experiments/{id}/runs?where=", () => {
    it("keeps the runs an expression keeps", async () => {
      expect(await names('(config.model GLOB "resnet*" AND metric.val/acc.max > 0.9) OR status = stale')).toEqual([
        "vit",
        "res50",
      ]);
      expect(await names('"baseline" IN tags')).toEqual(["res18"]);
      expect(await names("config.warmup EXISTS")).toEqual(["vit"]);
      expect(await names("NOT metric.val/acc EXISTS")).toEqual(["vit"]);
    });

    it("matches regular expressions, durations, negations and LIKE as the language defines them", async () => {
      expect(await names('duration > 60 AND config.opt.name ~ "^a"')).toEqual(["res50"]);
      expect(await names('NOT metric.val/acc EXISTS OR "baseline" IN tags')).toEqual(["vit", "res18"]);
      expect(await names('config.model ~ "^res.*[05]$"')).toEqual(["res50"]);
      expect(await names('name LIKE "RES%" AND NOT config.lr < 0.05')).toEqual(["res18"]);
    });

    it("still reads the old FIELD OP VALUE conditions, repeated meaning AND", async () => {
      expect(await names("config.lr>0.005", "config.opt.name=adam")).toEqual(["res50"]);
    });

    it("answers 400 with the column of a mistake", async () => {
      const reply = await fetch(
        `${server.url}/api/experiments/${experimentId}/runs?where=${encodeURIComponent("config.lr >= ")}`,
      );
      expect(reply.status).toBe(400);
      expect(await reply.json()).toEqual({
        error: {
          code: "bad_request",
          column: 14,
          message: 'where: at column 14: expected a value after ">=", not the end of the expression',
        },
      });
    });

    it("says which where holds the mistake when there are several", async () => {
      const reply = await fetch(
        `${server.url}/api/experiments/${experimentId}/runs?where=name=vit&where=name%20%3E%203`,
      );
      expect(reply.status).toBe(400);
      const body = (await reply.json()) as { error: { column: number; message: string } };
      expect(body.error.column).toBe(8);
      expect(body.error.message).toMatch(/^where #2: at column 8: name is text/);
    });
  });

  describe("db.listRuns({ where })", () => {
    it("filters one experiment's runs with the same language", () => {
      const db = open(dbPath);
      try {
        expect(db.listRuns(experimentId, { where: "config.lr BETWEEN 0.001 AND 0.01" }).map((r) => r.name)).toEqual([
          "vit",
          "res50",
        ]);
        expect(db.listRuns(experimentId).map((r) => r.name)).toEqual(["vit", "res50", "res18"]);
      } finally {
        db.close();
      }
    });

    it("filters every experiment's runs, newest first, when no experiment is named", () => {
      const db = open(dbPath);
      try {
        expect(db.listRuns(undefined, { where: "config.lr = 0.1" }).map((r) => r.name)).toEqual(["elsewhere", "res18"]);
      } finally {
        db.close();
      }
    });

    it("throws WhereSyntaxError with the column", () => {
      const db = open(dbPath);
      try {
        expect(() => db.listRuns(experimentId, { where: "confg.lr > 1" })).toThrow(/^at column 1: Unknown field/);
      } finally {
        db.close();
      }
    });
  });

  describe("stonks runs --where", () => {
    it("lists the runs the expression keeps", async () => {
      const result = await stonks(["runs", "exp", "--db", dbPath, "--json", "--where", 'config.model LIKE "RES%"']);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect((JSON.parse(result.stdout) as { name: string }[]).map((r) => r.name)).toEqual(["res50", "res18"]);
    });

    it("prints one line with the column of a mistake and exits 1", async () => {
      const result = await stonks(["runs", "exp", "--db", dbPath, "-w", "config.lr >> 1"]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/^stonks: --where "config.lr >> 1" at column 12: expected a value after ">"/);
    });
  });

  // The Python SDK reads SQLite files only.
  if (backend.name === "sqlite") {
    describe("the Python reader on the same file (SQLite only)", () => {
      it.each([
        '(config.model GLOB "resnet*" AND metric.val/acc.max > 0.9) OR status = stale',
        "config.lr BETWEEN 0.001 AND 0.01",
        'NOT metric.val/acc EXISTS OR "baseline" IN tags',
        'duration > 60 AND config.opt.name ~ "^a"',
      ])("keeps the runs the API keeps for %s", async (where) => {
        const reply = await fetch(
          `${server.url}/api/experiments/${experimentId}/runs?where=${encodeURIComponent(where)}`,
        );
        const api = ((await reply.json()) as { id: string }[]).map((r) => r.id);
        expect(api.length).toBeGreaterThan(0);
        const probe =
          "import json, sys, stonks\nwith stonks.open(sys.argv[1]) as db:\n    print(json.dumps([r.id for r in db.list_runs(sys.argv[2], where=sys.argv[3])]))";
        const python = execFileSync("python3", ["-c", probe, dbPath, experimentId, where], {
          env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
          encoding: "utf8",
        });
        expect(JSON.parse(python)).toEqual(api);
      });
    });
  }
});
