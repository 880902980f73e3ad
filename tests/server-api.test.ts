// The REST API against a real server on 127.0.0.1 and a real database file.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  DeletedRunsJson,
  ErrorJson,
  ExperimentJson,
  MetricPointsJson,
  RunJson,
  RunTableKeysJson,
  SeriesReplyJson,
} from "../src/contract/wire.js";
import { queryRuns } from "../src/query/run-list.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { runJson } from "../src/server/json.js";
import { openDatabase } from "../src/store/connection.js";
import { getExperiment, getRunRow } from "../src/store/reads.js";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";
import { appendToRun, populateRuns } from "./support/server-support.js";

interface Reply<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Fetches and parses JSON; the type parameter says what the test expects (the assertions check it). */
async function call<T = ErrorJson>(server: RunningServer, path: string, init: RequestInit = {}): Promise<Reply<T>> {
  const response = await fetch(server.url + path, init);
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

function runNames(runs: RunJson[]): (string | null)[] {
  return runs.map((r) => r.name);
}

function jsonInit(method: string, body: unknown): RequestInit {
  return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

const NOW = Date.now() / 1000;

describe.each(backends())("the REST API on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("read routes", () => {
    let server: RunningServer;
    let ids: string[];

    beforeAll(async () => {
      const dbPath = backend.newTarget();
      ids = populateRuns(dbPath, [
        {
          name: "alpha",
          config: { lr: 0.1, optimizer: { name: "sgd" }, layers: [1, 2] },
          tags: ["sweep", "best"],
          group: "g1",
          notes: "the first one",
          createdAt: NOW - 1000,
          status: "completed",
          metrics: { "train/loss": [2, 1, 0.5, 0.7], "val/acc": [0.1, 0.9] },
        },
        {
          name: "beta",
          config: { lr: 0.01, optimizer: { name: "adam" } },
          tags: ["sweep"],
          group: "g1",
          createdAt: NOW - 900,
          status: "failed",
          metrics: { "train/loss": [3, 2.5] },
        },
        { name: "gamma", config: { lr: 0.001 }, createdAt: NOW - 800, heartbeat: NOW - 3600 },
        { name: "delta", config: { lr: 0.05 }, createdAt: NOW - 700, heartbeat: NOW },
        { experiment: "another", name: "solo", createdAt: NOW - 600, status: "completed" },
      ]);
      server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
    });

    afterAll(async () => {
      await server.close();
    });

    it("lists experiments with run counts, by name", async () => {
      const reply = await call<ExperimentJson[]>(server, "/api/experiments");
      expect(reply.status).toBe(200);
      expect(reply.body.map((e) => [e.name, e.run_count])).toEqual([
        ["another", 1],
        ["exp", 4],
      ]);
      expect(Object.keys(reply.body[0]).sort()).toEqual([
        "created_at",
        "description",
        "id",
        "name",
        "project_id",
        "run_count",
      ]);
    });

    it("finds one experiment by id or name, and answers 404 JSON for an unknown one", async () => {
      const list = (await call<ExperimentJson[]>(server, "/api/experiments")).body;
      const byId = await call<ExperimentJson>(server, `/api/experiments/${list[1].id}`);
      expect(byId.body).toEqual(list[1]);
      expect((await call<ExperimentJson>(server, "/api/experiments/exp")).body.id).toBe(list[1].id);
      const missing = await call(server, "/api/experiments/nope");
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe("not_found");
      expect(typeof missing.body.error.message).toBe("string");
    });

    it("lists runs newest first with the full run shape and summaries", async () => {
      const reply = await call<RunJson[]>(server, "/api/experiments/exp/runs");
      expect(reply.status).toBe(200);
      expect(reply.headers.get("x-total-count")).toBe("4");
      expect(runNames(reply.body)).toEqual(["delta", "gamma", "beta", "alpha"]);
      const alpha = reply.body[3];
      expect(Object.keys(alpha).sort()).toEqual(
        [
          "id",
          "seq",
          "experiment_id",
          "name",
          "status",
          "stale",
          "config",
          "tags",
          "group",
          "job_type",
          "notes",
          "color",
          "color_index",
          "created_at",
          "ended_at",
          "last_heartbeat",
          "duration",
          "provenance",
          "summary",
        ].sort(),
      );
      expect(alpha.id).toBe(ids[0]);
      // Runs are numbered in creation order and keep their number.
      expect(typeof alpha.seq).toBe("number");
      expect(reply.body.map((r) => r.seq)).toEqual([...reply.body.map((r) => r.seq)].sort((a, b) => b - a));
      // Each got the first palette colour its experiment's newer runs did not have (the dashboard's default colour).
      expect(reply.body.map((r) => r.color_index)).toEqual([3, 2, 1, 0]);
      expect(alpha.config).toEqual({ lr: 0.1, optimizer: { name: "sgd" }, layers: [1, 2] });
      expect(alpha.duration).toBeCloseTo(100, 6);
      expect(alpha.provenance).toEqual({
        host: "test-host",
        pid: 4242,
        command: "python train.py",
        cwd: "/work",
        git_commit: "abc123",
        git_dirty: false,
        sdk_language: "python",
        sdk_version: "0.1.0",
      });
      expect(alpha.summary).toEqual({
        "train/loss": { last: 0.7, min: 0.5, max: 2, count: 4, last_step: 3 },
        "val/acc": { last: 0.9, min: 0.1, max: 0.9, count: 2, last_step: 1 },
      });
      const gamma = reply.body[1];
      expect([gamma.status, gamma.stale]).toEqual(["running", true]);
      expect(reply.body[0].stale).toBe(false);
    });

    it("filters by status (stale included), tag, group and text", async () => {
      const names = async (query: string) =>
        runNames((await call<RunJson[]>(server, `/api/experiments/exp/runs?${query}`)).body);
      expect(await names("status=stale")).toEqual(["gamma"]);
      expect(await names("status=running")).toEqual(["delta"]);
      expect(await names("status=completed,failed")).toEqual(["beta", "alpha"]);
      expect(await names("status=completed&status=stale")).toEqual(["gamma", "alpha"]);
      expect(await names("tag=sweep")).toEqual(["beta", "alpha"]);
      expect(await names("tag=sweep&tag=best")).toEqual(["alpha"]);
      expect(await names("group=g1")).toEqual(["beta", "alpha"]);
      expect(await names("q=FIRST")).toEqual(["alpha"]);
      expect(await names("q=ta")).toEqual(["delta", "beta"]);
    });

    it("filters on config values and metric summaries", async () => {
      const names = async (...conditions: string[]) =>
        runNames(
          (
            await call<RunJson[]>(
              server,
              `/api/experiments/exp/runs?${conditions.map((c) => `where=${encodeURIComponent(c)}`).join("&")}`,
            )
          ).body,
        );
      expect(await names("config.lr>0.01")).toEqual(["delta", "alpha"]);
      expect(await names("config.lr>=0.01")).toEqual(["delta", "beta", "alpha"]);
      expect(await names("config.optimizer.name=adam")).toEqual(["beta"]);
      expect(await names('config.optimizer.name!="adam"')).toEqual(["alpha"]);
      expect(await names("metric.train/loss<1")).toEqual(["alpha"]);
      expect(await names("metric.train/loss.max>2.5")).toEqual(["beta"]);
      expect(await names("metric.train/loss.min<=0.5", "config.lr=0.1")).toEqual(["alpha"]);
      // Live runs last until now; the stale one (heartbeat before its start) lasted 0 s.
      expect(await names("duration>50", "duration<200")).toEqual(["beta", "alpha"]);
      expect(await names("duration>200")).toEqual(["delta"]);
    });

    it("sorts by fields, config values and metric summaries, runs without the value last", async () => {
      const names = async (query: string) =>
        runNames((await call<RunJson[]>(server, `/api/experiments/exp/runs?${query}`)).body);
      expect(await names("sort=config.lr&order=asc")).toEqual(["gamma", "beta", "delta", "alpha"]);
      expect(await names("sort=name&order=asc")).toEqual(["alpha", "beta", "delta", "gamma"]);
      expect(await names("sort=created_at&order=asc")).toEqual(["alpha", "beta", "gamma", "delta"]);
      expect(await names("sort=metric.train/loss.last&order=asc")).toEqual(["alpha", "beta", "delta", "gamma"]);
      expect(await names("sort=metric.train/loss.max&order=desc")).toEqual(["beta", "alpha", "delta", "gamma"]);
      // Statuses sort as the dashboard's table sorts them: live, stale, failed, interrupted, completed.
      expect(await names("sort=status&order=asc")).toEqual(["delta", "gamma", "beta", "alpha"]);
    });

    it("pages with limit and offset and reports the total before paging", async () => {
      const page = await call<RunJson[]>(server, "/api/experiments/exp/runs?sort=name&order=asc&limit=2&offset=1");
      expect(page.headers.get("x-total-count")).toBe("4");
      expect(runNames(page.body)).toEqual(["beta", "delta"]);
      const filtered = await call<RunJson[]>(server, "/api/experiments/exp/runs?tag=sweep&limit=1");
      expect(filtered.headers.get("x-total-count")).toBe("2");
      expect(filtered.body).toHaveLength(1);
    });

    it("lists the columns of an experiment: flattened config keys and metric keys", async () => {
      const reply = await call<RunTableKeysJson>(server, "/api/experiments/exp/keys");
      expect(reply.body).toEqual({
        config_keys: ["layers", "lr", "optimizer.name"],
        metric_keys: ["train/loss", "val/acc"],
      });
    });

    it("answers one run, its metric keys and its points", async () => {
      const run = await call<RunJson>(server, `/api/runs/${ids[0]}`);
      expect(run.body.name).toBe("alpha");
      expect(run.body.summary["train/loss"].count).toBe(4);
      expect((await call<string[]>(server, `/api/runs/${ids[0]}/metric-keys`)).body).toEqual(["train/loss", "val/acc"]);
      const metrics = await call<MetricPointsJson>(
        server,
        `/api/runs/${ids[0]}/metrics?key=${encodeURIComponent("train/loss")}`,
      );
      expect(metrics.body).toEqual({
        key: "train/loss",
        steps: [0, 1, 2, 3],
        values: [2, 1, 0.5, 0.7],
        timestamps: [NOW - 1000, NOW - 999, NOW - 998, NOW - 997],
      });
      const downsampled = await call<MetricPointsJson>(
        server,
        `/api/runs/${ids[0]}/metrics?key=train/loss&downsample=2`,
      );
      // One bucket: its minimum and its maximum, in step order.
      expect(downsampled.body.steps).toEqual([0, 2]);
      expect(downsampled.body.values).toEqual([2, 0.5]);
      const never = await call<MetricPointsJson>(server, `/api/runs/${ids[0]}/metrics?key=never/logged`);
      expect(never.body).toEqual({ key: "never/logged", steps: [], values: [], timestamps: [] });
      expect((await call(server, `/api/runs/${ids[0]}/metrics`)).status).toBe(400);
      expect((await call(server, "/api/runs/unknown-run")).status).toBe(404);
      expect((await call(server, "/api/runs/unknown-run/metric-keys")).status).toBe(404);
      expect((await call(server, "/api/runs/unknown-run/metrics?key=a")).status).toBe(404);
    });

    it("answers many series in one request, in the order asked", async () => {
      const reply = await call<{ series: unknown[] }>(
        server,
        "/api/series",
        jsonInit("POST", {
          series: [
            { run_id: ids[1], key: "train/loss" },
            { run_id: ids[0], key: "train/loss" },
            { run_id: "unknown", key: "train/loss" },
          ],
          downsample: 1000,
          min_step: 1,
        }),
      );
      expect(reply.status).toBe(200);
      expect(reply.body.series).toEqual([
        {
          run_id: ids[1],
          key: "train/loss",
          // The point before min_step comes too (the line reaches the window's edge); total_points counts the range.
          steps: [0, 1],
          values: [3, 2.5],
          timestamps: [NOW - 900, NOW - 899],
          total_points: 1,
          downsampled: false,
        },
        {
          run_id: ids[0],
          key: "train/loss",
          steps: [0, 1, 2, 3],
          values: [2, 1, 0.5, 0.7],
          timestamps: [NOW - 1000, NOW - 999, NOW - 998, NOW - 997],
          total_points: 3,
          downsampled: false,
        },
        {
          run_id: "unknown",
          key: "train/loss",
          steps: [],
          values: [],
          timestamps: [],
          total_points: 0,
          downsampled: false,
          error: { code: "run_not_found", message: 'No run with id "unknown".' },
        },
      ]);
      const valuesOnly = await call<{ series: Record<string, unknown>[] }>(
        server,
        "/api/series",
        jsonInit("POST", { series: [{ run_id: ids[0], key: "train/loss" }], fields: ["steps", "values"] }),
      );
      expect(valuesOnly.body.series[0]).toEqual({
        run_id: ids[0],
        key: "train/loss",
        steps: [0, 1, 2, 3],
        values: [2, 1, 0.5, 0.7],
        total_points: 4,
        downsampled: false,
      });
      for (const fields of [[], ["steps", "steps"], ["x"], "steps"]) {
        const reply = await call(
          server,
          "/api/series",
          jsonInit("POST", { series: [{ run_id: ids[0], key: "train/loss" }], fields }),
        );
        expect(reply.status, JSON.stringify(fields)).toBe(400);
      }
      const tooMany = await call(
        server,
        "/api/series",
        jsonInit("POST", { series: Array.from({ length: 201 }, () => ({ run_id: ids[0], key: "train/loss" })) }),
      );
      expect(tooMany.status).toBe(400);
    });

    it("answers the good series of a batch and an error object for each bad one", async () => {
      // 1000 astral characters are 2000 UTF-16 units but 1000 code points: within the limit.
      const longest = "😀".repeat(1000);
      const tooLong = "a".repeat(1001);
      const reply = await call<SeriesReplyJson>(
        server,
        "/api/series",
        jsonInit("POST", {
          series: [
            { run_id: ids[0], key: tooLong },
            { run_id: ids[0], key: "train/loss" },
            { run_id: ids[0], key: longest },
            { run_id: "no-such-run", key: "train/loss" },
            { run_id: ids[1], key: "never/logged" },
          ],
        }),
      );
      expect(reply.status).toBe(200);
      const errors = reply.body.series.map((s) => s.error?.code ?? null);
      expect(errors).toEqual(["key_too_long", null, "key_not_found", "run_not_found", "key_not_found"]);
      expect(reply.body.series[1]).toEqual({
        run_id: ids[0],
        key: "train/loss",
        steps: [0, 1, 2, 3],
        values: [2, 1, 0.5, 0.7],
        timestamps: [NOW - 1000, NOW - 999, NOW - 998, NOW - 997],
        total_points: 4,
        downsampled: false,
      });
      expect(reply.body.series[0]).toMatchObject({ key: tooLong, steps: [], values: [], total_points: 0 });
      expect(reply.body.series[0].error?.message).toContain("1000");
      const single = await call(server, `/api/runs/${ids[0]}/metrics?key=${encodeURIComponent(tooLong)}`);
      expect(single.status).toBe(400);
      const longestSingle = await call(server, `/api/runs/${ids[0]}/metrics?key=${encodeURIComponent(longest)}`);
      expect(longestSingle.status).toBe(200);
    });

    it("answers 404 JSON for unknown API routes", async () => {
      const reply = await call(server, "/api/nothing/here");
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe("not_found");
    });
  });

  describe("changing runs", () => {
    let server: RunningServer;
    let dbPath: string;
    let ids: string[];

    beforeAll(async () => {
      dbPath = backend.newTarget();
      ids = populateRuns(dbPath, [
        { name: "one", status: "completed", metrics: { loss: [1, 2, 3] } },
        { name: "two", status: "completed" },
        { experiment: "doomed", name: "three", status: "completed", metrics: { loss: [1] } },
        { experiment: "doomed", name: "four", status: "failed" },
      ]);
      server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
    });

    afterAll(async () => {
      await server.close();
    });

    const revisionOf = (id: string) => {
      const db = openDatabase(dbPath);
      try {
        return getRunRow(db, id)?.revision ?? null;
      } finally {
        db.close();
      }
    };

    it("edits name, tags, notes and color, answers the updated run and bumps the revision", async () => {
      const maxBefore = Math.max(...ids.map((id) => revisionOf(id) ?? 0));
      const reply = await call<RunJson>(
        server,
        `/api/runs/${ids[0]}`,
        jsonInit("PATCH", { name: "renamed", tags: ["x", "ünïcode ✓"], notes: "n", color: "#A0b1C2" }),
      );
      expect(reply.status).toBe(200);
      expect([reply.body.name, reply.body.tags, reply.body.notes, reply.body.color]).toEqual([
        "renamed",
        ["x", "ünïcode ✓"],
        "n",
        "#A0b1C2",
      ]);
      expect(reply.body.summary.loss.count).toBe(3);
      expect(revisionOf(ids[0])).toBe(maxBefore + 1);
      // Fields left out stay; null clears.
      const second = await call<RunJson>(server, `/api/runs/${ids[0]}`, jsonInit("PATCH", { color: null }));
      expect([second.body.name, second.body.color, second.body.tags]).toEqual(["renamed", null, ["x", "ünïcode ✓"]]);
      expect(revisionOf(ids[0])).toBe(maxBefore + 2);
    });

    it("refuses invalid edits with 400 and changes nothing", async () => {
      const before = (await call<RunJson>(server, `/api/runs/${ids[1]}`)).body;
      const invalid: unknown[] = [
        { color: "red" },
        { color: "#12345" },
        { tags: [""] },
        { tags: ["a", "a"] },
        { tags: ["x".repeat(65)] },
        { tags: Array.from({ length: 65 }, (_, i) => `t${i}`) },
        { tags: "sweep" },
        { tags: [1] },
        { name: 5 },
        { name: "x".repeat(257) },
        { notes: "x".repeat(10_001) },
        { status: "completed" },
        [],
        null,
        "text",
      ];
      for (const body of invalid) {
        const reply = await call(server, `/api/runs/${ids[1]}`, jsonInit("PATCH", body));
        expect(reply.status, JSON.stringify(body)).toBe(400);
        expect(reply.body.error.code).toBe("bad_request");
      }
      expect((await call<RunJson>(server, `/api/runs/${ids[1]}`)).body).toEqual({
        ...before,
        duration: expect.any(Number),
      });
      expect((await call(server, "/api/runs/unknown", jsonInit("PATCH", { name: "x" }))).status).toBe(404);
    });

    it("deletes a run, then an experiment with its runs", async () => {
      const deleted = await call<DeletedRunsJson>(server, `/api/runs/${ids[1]}`, { method: "DELETE" });
      expect(deleted.body).toEqual({ deleted_runs: 1 });
      expect((await call(server, `/api/runs/${ids[1]}`)).status).toBe(404);
      expect((await call(server, `/api/runs/${ids[1]}`, { method: "DELETE" })).status).toBe(404);
      const experiment = await call<DeletedRunsJson>(server, "/api/experiments/doomed", {
        method: "DELETE",
      });
      expect(experiment.body).toEqual({ deleted_runs: 2 });
      expect((await call(server, "/api/experiments/doomed")).status).toBe(404);
      expect((await call(server, `/api/runs/${ids[2]}`)).status).toBe(404);
      expect((await call<ExperimentJson[]>(server, "/api/experiments")).body.map((e) => e.name)).toEqual(["exp"]);
    });

    it("keeps revisions increasing after the run holding the highest one is deleted", async () => {
      const [low, high] = populateRuns(dbPath, [{ name: "low" }, { name: "high" }]);
      const highRevision = revisionOf(high) ?? 0;
      await call(server, `/api/runs/${high}`, { method: "DELETE" });
      await call(server, `/api/runs/${low}`, jsonInit("PATCH", { notes: "changed" }));
      expect(revisionOf(low)).toBeGreaterThan(highRevision);
    });
  });

  describe("runs list kept in memory", () => {
    it("follows every change made between two requests, by this server or another process", async () => {
      const dbPath = backend.newTarget();
      const ids = populateRuns(dbPath, [
        { name: "a", status: "completed", metrics: { loss: [3, 2] } },
        { name: "b", heartbeat: NOW - 10, metrics: { loss: [1] } },
        { name: "c", status: "failed" },
      ]);
      const server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
      const list = async () => (await call<RunJson[]>(server, "/api/experiments/exp/runs")).body;
      /** What a fresh read of the file says, for comparison. */
      const truth = () => {
        const db = openDatabase(dbPath);
        try {
          const experiment = getExperiment(db, "exp");
          return JSON.parse(JSON.stringify(queryRuns(db, experiment?.id ?? "", {}).runs.map(runJson))) as RunJson[];
        } finally {
          db.close();
        }
      };
      const comparable = (runs: RunJson[]) =>
        runs.map((r) => ({ ...r, duration: r.duration === null ? null : Math.round(r.duration) }));
      try {
        expect(runNames(await list())).toEqual(["c", "b", "a"]);
        // Another process: a new run, points for an existing one, a heartbeat.
        populateRuns(dbPath, [{ name: "d", createdAt: NOW + 10, metrics: { acc: [0.5] } }]);
        appendToRun(dbPath, ids[0], "loss", [2, 3], [1.5, 0.5]);
        // This server: an edit and a deletion.
        await call(server, `/api/runs/${ids[2]}`, jsonInit("PATCH", { tags: ["x"], notes: "edited" }));
        await call(server, `/api/runs/${ids[1]}`, { method: "DELETE" });
        const after = await list();
        expect(runNames(after)).toEqual(["d", "c", "a"]);
        expect(after[2].summary.loss).toEqual({ last: 0.5, min: 0.5, max: 3, count: 4, last_step: 3 });
        expect(after[1].tags).toEqual(["x"]);
        expect(comparable(after)).toEqual(comparable(truth()));
        const keys = await call<RunTableKeysJson>(server, "/api/experiments/exp/keys");
        expect(keys.body.metric_keys).toEqual(["acc", "loss"]);
      } finally {
        await server.close();
      }
    });
  });

  describe("server setup", () => {
    it("starts on an empty database", async () => {
      const server = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: tempDir() });
      try {
        expect((await call<ExperimentJson[]>(server, "/api/experiments")).body).toEqual([]);
      } finally {
        await server.close();
      }
    });

    it("requires the token on every API route when one is set, as a header or a query parameter", async () => {
      const dbPath = backend.newTarget();
      const [runId] = populateRuns(dbPath, [{ name: "r", status: "completed" }]);
      const ui = tempDir();
      writeFileSync(join(ui, "index.html"), "<html>dashboard</html>");
      const server = await startServer({ dbPath, port: 0, uiDir: ui, token: "s3cret" });
      try {
        for (const path of ["/api/experiments", `/api/runs/${runId}`, "/api/events", "/api/nothing"]) {
          const reply = await call(server, path);
          expect(reply.status, path).toBe(401);
          expect(reply.body.error.code).toBe("unauthorized");
        }
        expect((await call(server, "/api/experiments", { headers: { Authorization: "Bearer wrong" } })).status).toBe(
          401,
        );
        expect((await call(server, "/api/experiments?token=s3cre")).status).toBe(401);
        expect((await call(server, "/api/experiments", { headers: { Authorization: "Bearer s3cret" } })).status).toBe(
          200,
        );
        expect((await call(server, "/api/experiments?token=s3cret")).status).toBe(200);
        expect(
          (await call<RunJson>(server, `/api/runs/${runId}?token=s3cret`, jsonInit("PATCH", { name: "x" }))).body.name,
        ).toBe("x");
        // The dashboard itself loads without the token; it reads it from its URL.
        expect(await (await fetch(`${server.url}/`)).text()).toContain("dashboard");
      } finally {
        await server.close();
      }
    });

    it("answers only to loopback host names when bound to loopback", async () => {
      const server = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: tempDir() });
      try {
        const { request } = await import("node:http");
        const status = (host: string) =>
          new Promise<number>((resolve, reject) => {
            const req = request(`${server.url}/api/experiments`, { headers: { Host: host } }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            });
            req.on("error", reject);
            req.end();
          });
        expect(await status("evil.example:8000")).toBe(403);
        expect(await status(`localhost:${server.port}`)).toBe(200);
        expect(await status(`127.0.0.1:${server.port}`)).toBe(200);
      } finally {
        await server.close();
      }
    });

    it("serves the built dashboard, with index.html for app routes, and a plain page when it is not built", async () => {
      const ui = tempDir();
      mkdirSync(join(ui, "assets"));
      writeFileSync(join(ui, "index.html"), "<html>app</html>");
      writeFileSync(join(ui, "assets", "app-1234.js"), "console.log(1)");
      const server = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: ui });
      try {
        const index = await fetch(`${server.url}/`);
        expect(index.headers.get("content-type")).toContain("text/html");
        expect(await index.text()).toBe("<html>app</html>");
        const asset = await fetch(`${server.url}/assets/app-1234.js`);
        expect(asset.headers.get("content-type")).toContain("text/javascript");
        expect(asset.headers.get("cache-control")).toContain("immutable");
        expect(await asset.text()).toBe("console.log(1)");
        expect(await (await fetch(`${server.url}/experiments/abc?run=1`)).text()).toBe("<html>app</html>");
        expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
      } finally {
        await server.close();
      }
      const bare = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: join(tempDir(), "missing") });
      try {
        const page = await (await fetch(`${bare.url}/`)).text();
        expect(page).toContain("not built yet");
      } finally {
        await bare.close();
      }
    });
  });
});

describe("server setup on a SQLite file", () => {
  it("creates an empty database when the file does not exist yet", async () => {
    const dbPath = join(tempDir(), "fresh.db");
    const server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
    try {
      expect(existsSync(dbPath)).toBe(true);
      expect((await call<ExperimentJson[]>(server, "/api/experiments")).body).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
