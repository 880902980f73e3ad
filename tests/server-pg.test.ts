// `stonks serve --db postgresql://…` as a real process on a real (throwaway) PostgreSQL: the JSON API,
// the dashboard's routes, live events and the write API answer as they do over a SQLite file; a
// PostgreSQL that cannot be reached stops the start with one line.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresBackend } from "./support/backends.js";
import { stonks } from "./support/helpers.js";
import {
  appendToRun,
  populateRuns,
  readEvents,
  type ServeProcess,
  type SseEvent,
  startServeProcess,
} from "./support/server-support.js";

const isPointsOf = (runId: string) => (e: SseEvent) =>
  e.event === "points" && (JSON.parse(e.data) as { run_id: string }).run_id === runId;

const pg = postgresBackend();
let url: string;
let server: ServeProcess;
let ids: string[];

async function getJson<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as T };
}

beforeAll(async () => {
  await pg.start();
  url = pg.newTarget();
  ids = populateRuns(url, [
    {
      name: "first",
      config: { lr: 0.1 },
      status: "completed",
      metrics: { "train/loss": { count: 3000, value: (s) => 1 / (s + 1) } },
    },
    { name: "second", config: { lr: 0.01 }, metrics: { "train/loss": [3, 2, 1] } },
  ]);
  server = await startServeProcess(["--db", url, "--pg-pool", "3"]);
});

afterAll(async () => {
  await server?.stop();
  await pg.stop();
});

describe("stonks serve on PostgreSQL", () => {
  it("prints the URL it serves without a password and answers /api/info the same way", async () => {
    expect(server.stdout()).toContain(`stonks is serving ${url}`);
    const info = await getJson<{ db: string }>("/api/info");
    expect(info.body.db).toBe(url);
  });

  it("answers the experiments, runs, series and group routes from the database", async () => {
    const experiments = await getJson<{ id: string; name: string; run_count: number }[]>("/api/experiments");
    expect(experiments.status).toBe(200);
    expect(experiments.body.map((e) => [e.name, e.run_count])).toEqual([["exp", 2]]);
    const experimentId = experiments.body[0].id;

    const runs = await getJson<{ id: string; name: string }[]>(
      `/api/experiments/${experimentId}/runs?sort=name&order=asc&where=${encodeURIComponent("config.lr < 0.05")}`,
    );
    expect(runs.status).toBe(200);
    expect(runs.body.map((r) => r.name)).toEqual(["second"]);

    const keys = await getJson<{ config_keys: string[]; metric_keys: string[] }>(
      `/api/experiments/${experimentId}/keys`,
    );
    expect(keys.body).toEqual({ config_keys: ["lr"], metric_keys: ["train/loss"] });

    const series = await getJson<{ series: { run_id: string; values: number[]; total_points: number }[] }>(
      "/api/series",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ series: [{ run_id: ids[0], key: "train/loss" }], downsample: 100 }),
      },
    );
    expect(series.status).toBe(200);
    expect(series.body.series[0].total_points).toBe(3000);
    expect(series.body.series[0].values.length).toBeLessThanOrEqual(100);
    expect(series.body.series[0].values[0]).toBe(1);

    const group = await getJson<{ series: { label: string; key: string; runs_with_key: number }[] }>(
      "/api/groups/series",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ groups: [{ label: "all", run_ids: ids }], keys: ["train/loss"], buckets: 10 }),
      },
    );
    expect(group.status).toBe(200);
    expect(group.body.series.map((s) => [s.label, s.key, s.runs_with_key])).toEqual([["all", "train/loss", 2]]);

    const run = await getJson<{ id: string; name: string }>(`/api/runs/${ids[1]}`);
    expect(run.body).toMatchObject({ id: ids[1], name: "second" });
  });

  it("serves the dashboard page", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<div id=");
  });

  it("sends live events for points another process writes to the database", async () => {
    const stream = await readEvents(`${server.url}/api/events`);
    try {
      await stream.next((e) => e.event === "ready");
      appendToRun(url, ids[1], "train/loss", [3, 4], [0.5, 0.25]);
      const event = await stream.next(isPointsOf(ids[1]), 10_000);
      expect(JSON.parse(event.data)).toMatchObject({ run_id: ids[1], steps: [3, 4], values: [0.5, 0.25] });
    } finally {
      stream.close();
    }
  });

  it("edits a run through the API", async () => {
    const edited = await getJson<{ name: string }>(`/api/runs/${ids[1]}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "renamed", tags: ["t"] }),
    });
    expect(edited.status).toBe(200);
    expect((await getJson<{ name: string }>(`/api/runs/${ids[1]}`)).body.name).toBe("renamed");
  });
});

describe("stonks serve with PostgreSQL down", () => {
  it("with --wait-for-db 0, says in one line that it cannot connect and what to do, and exits non-zero", async () => {
    // Without it, serve waits for PostgreSQL first (tests/pg-faults.test.ts).
    const result = await stonks([
      "serve",
      "--port",
      "0",
      "--db",
      "postgresql://me:pw@127.0.0.1:1/stonks",
      "--wait-for-db",
      "0",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^stonks: Cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/stonks: .*Start PostgreSQL or fix the URL/,
    );
  });

  it("refuses a --pg-pool that is not a positive number", async () => {
    const result = await stonks(["serve", "--port", "0", "--db", "postgresql://x@/y", "--pg-pool", "0"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--pg-pool");
  });
});
