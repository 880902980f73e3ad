// Limits on point reads against a real server: the cap on points per response,
// the slots for heavy reads (held by real clients that never read), and
// streamed answers that carry the same data as the one-piece ones.

import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorJson, MetricPointsJson, SeriesReplyJson } from "../src/contract/wire.js";
import type { HeavyReadLimits } from "../src/server/heavy-reads.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { backends } from "./support/backends.js";
import { populateRuns } from "./support/server-support.js";

function post(server: RunningServer, path: string, body: unknown): Promise<Response> {
  return fetch(server.url + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function startWith(dbPath: string, limits: Partial<HeavyReadLimits>): Promise<RunningServer> {
  return startServer({ dbPath, host: "127.0.0.1", port: 0, heavyReads: limits });
}

/** A client that sends a request and never reads the answer; resolves once the answer has begun to arrive. */
async function nonReadingClient(server: RunningServer, path: string): Promise<Socket> {
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  // The first bytes say the server is answering; after them the socket is paused and nothing more is read.
  await new Promise<void>((resolve) =>
    socket.once("data", () => {
      socket.pause();
      resolve();
    }),
  );
  return socket;
}

/** Polls an async check until it gives a value; fails after 15 s. */
async function until<T>(check: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(backends())("heavy-read limits on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("points per response", () => {
    let server: RunningServer;
    let ids: string[];
    const wave = (step: number) => Math.sin(step / 7);

    beforeAll(async () => {
      const dbPath = backend.newTarget();
      ids = populateRuns(dbPath, [
        { name: "a", metrics: { loss: { count: 600, value: wave } } },
        { name: "b", metrics: { loss: { count: 1200, value: wave } } },
      ]);
      server = await startWith(dbPath, { maxPointsPerResponse: 1000, streamAbovePoints: 100 });
    });
    afterAll(() => server.close());

    it("refuses a batch that could pass the cap with a JSON 400 that says what to ask instead", async () => {
      const reply = await post(server, "/api/series", {
        series: [
          { run_id: ids[0], key: "loss" },
          { run_id: ids[1], key: "loss" },
        ],
        downsample: 1000,
      });
      expect(reply.status).toBe(400);
      const body = (await reply.json()) as ErrorJson;
      expect(body.error.code).toBe("too_many_points");
      expect(body.error.message).toContain("at most 1000");
      expect(body.error.message).toContain("fewer series or a smaller downsample");
      expect(body.error.message).toContain("downsample 500");
    });

    it("refuses a full series larger than the cap and points to downsample", async () => {
      const reply = await fetch(`${server.url}/api/runs/${ids[1]}/metrics?key=loss`);
      expect(reply.status).toBe(400);
      const body = (await reply.json()) as ErrorJson;
      expect(body.error.code).toBe("too_many_points");
      expect(body.error.message).toContain("downsample");
    });

    it("answers a request right at the cap, streamed, with every point", async () => {
      const reply = await post(server, "/api/series", {
        series: [
          { run_id: ids[0], key: "loss" },
          { run_id: ids[1], key: "loss" },
        ],
        downsample: 500,
        fields: ["steps", "values"],
      });
      expect(reply.status).toBe(200);
      expect(reply.headers.get("content-type")).toContain("application/json");
      const body = (await reply.json()) as SeriesReplyJson;
      expect(body.series.map((s) => s.values?.length)).toEqual([500, 500]);
      expect(body.series[1].total_points).toBe(1200);
      // 600 points in 250 buckets: every bucket keeps its minimum and maximum, in step order.
      const steps = body.series[0].steps ?? [];
      expect(steps).toHaveLength(500);
      expect(steps).toEqual([...steps].sort((x, y) => x - y));
      expect(body.series[0].values).toEqual(steps.map(wave));

      const full = await fetch(`${server.url}/api/runs/${ids[0]}/metrics?key=loss`);
      expect(full.status).toBe(200);
      const points = (await full.json()) as MetricPointsJson;
      expect(points.key).toBe("loss");
      expect(points.steps).toEqual(Array.from({ length: 600 }, (_, i) => i));
      expect(points.values).toEqual(points.steps.map(wave));
      expect(points.timestamps).toHaveLength(600);
    });
  });

  describe("heavy reads in flight", () => {
    const POINTS = 1_000_000;
    let dbPath: string;
    let runId: string;

    beforeAll(() => {
      dbPath = backend.newTarget();
      [runId] = populateRuns(dbPath, [
        { name: "million", metrics: { loss: { count: POINTS, value: (s) => s / POINTS } } },
      ]);
    });

    it("answers 503 with Retry-After while every slot is held by a client that does not read, then serves again", async () => {
      const server = await startWith(dbPath, { maxInFlight: 1, maxWaitMs: 100, stallMs: 60_000 });
      const holder = await nonReadingClient(server, `/api/runs/${runId}/metrics?key=loss`);
      try {
        const refused = await fetch(`${server.url}/api/runs/${runId}/metrics?key=loss`);
        expect(refused.status).toBe(503);
        expect(refused.headers.get("retry-after")).toBe("5");
        expect(((await refused.json()) as ErrorJson).error.code).toBe("too_many_heavy_reads");
        // Light requests do not need a slot.
        const light = await fetch(`${server.url}/api/runs/${runId}/metrics?key=loss&downsample=1000`);
        expect(light.status).toBe(200);
        expect((await fetch(`${server.url}/api/experiments`)).status).toBe(200);
        // A client that goes away gives its slot back.
        holder.destroy();
        const served = await until(async () => {
          const reply = await fetch(`${server.url}/api/runs/${runId}/metrics?key=loss`);
          return reply.status === 200 ? ((await reply.json()) as { values: number[] }) : null;
        });
        expect(served.values).toHaveLength(POINTS);
        expect(served.values[POINTS - 1]).toBe((POINTS - 1) / POINTS);
      } finally {
        holder.destroy();
        await server.close();
      }
    });

    it("/api/openapi.json lists 503 too_many_heavy_reads on exactly the routes that answer it while the slots are held", async () => {
      // Every answer of more than one point needs the one slot, and a client that does not read holds it.
      const server = await startWith(dbPath, { maxInFlight: 1, heavyPoints: 1, streamAbovePoints: 1, maxWaitMs: 100 });
      const holder = await nonReadingClient(server, `/api/runs/${runId}/metrics?key=loss`);
      try {
        const pointReads: Record<string, () => Promise<Response>> = {
          "GET /api/runs/{id}/metrics": () => fetch(`${server.url}/api/runs/${runId}/metrics?key=loss&downsample=10`),
          "GET /api/runs/{id}/metrics/all": () => fetch(`${server.url}/api/runs/${runId}/metrics/all?downsample=10`),
          "POST /api/series": () =>
            post(server, "/api/series", { series: [{ run_id: runId, key: "loss" }], downsample: 10 }),
          "POST /api/groups/series": () =>
            post(server, "/api/groups/series", {
              groups: [{ label: "g", run_ids: [runId] }],
              keys: ["loss"],
              buckets: 10,
            }),
        };
        const document = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
          paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
        };
        const listed = Object.entries(document.paths).flatMap(([path, methods]) =>
          Object.entries(methods)
            .filter(([, op]) => op.responses["503"]?.description.includes("too_many_heavy_reads"))
            .map(([method]) => `${method.toUpperCase()} ${path}`),
        );
        expect(listed.sort()).toEqual(Object.keys(pointReads).sort());
        for (const [name, read] of Object.entries(pointReads)) {
          const refused = await read();
          expect([name, refused.status, refused.headers.get("retry-after")]).toEqual([name, 503, "5"]);
          expect(((await refused.json()) as ErrorJson).error.code, name).toBe("too_many_heavy_reads");
        }
      } finally {
        holder.destroy();
        await server.close();
      }
    });

    it("cuts off a client that stops reading, which frees its slot", async () => {
      const server = await startWith(dbPath, { maxInFlight: 1, heavyPoints: 50_000, maxWaitMs: 100, stallMs: 500 });
      const holder = await nonReadingClient(server, `/api/runs/${runId}/metrics?key=loss`);
      try {
        // Without the cut-off the slot stays taken for as long as the client keeps the socket open: forever.
        const status = await until(async () => {
          const reply = await post(server, "/api/series", {
            series: [{ run_id: runId, key: "loss" }],
            downsample: 100_000,
          });
          await reply.arrayBuffer();
          return reply.status === 200 ? reply.status : null;
        });
        expect(status).toBe(200);
      } finally {
        holder.destroy();
        await server.close();
      }
    });
  });
});
