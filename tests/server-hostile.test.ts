// Malformed and hostile input at every route: the server answers 4xx, never
// leaks files, never changes data by accident, and keeps serving.

import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorJson, RunJson } from "../src/contract/wire.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";
import { populateRuns } from "./support/server-support.js";

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request exactly as written: no URL normalisation, any header, any body, optionally chunked. */
function raw(
  server: RunningServer,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && !options.chunked)
      headers["Content-Length"] = String(Buffer.byteLength(options.body));
    const req = request({ host: "127.0.0.1", port: server.port, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The server may answer (413) and close before the whole body is sent.
    req.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "EPIPE" || error.code === "ECONNRESET"
        ? resolve({ status: 413, headers: {}, body: "" })
        : reject(error),
    );
    if (options.body !== undefined) {
      if (options.chunked) {
        const body = Buffer.from(options.body);
        for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      } else {
        req.write(options.body);
      }
    }
    req.end();
  });
}

function expectJsonError(reply: RawReply, status: number | [number, number]): void {
  const [low, high] = typeof status === "number" ? [status, status] : status;
  expect(reply.status, reply.body.slice(0, 200)).toBeGreaterThanOrEqual(low);
  expect(reply.status, reply.body.slice(0, 200)).toBeLessThanOrEqual(high);
  const body = JSON.parse(reply.body) as ErrorJson;
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
}

const SECRET = "top secret content 9f8e7d";

const NASTY_STRINGS = [
  "' OR '1'='1",
  '"; DROP TABLE runs; --',
  "1; DELETE FROM experiments",
  "%",
  "_",
  "\\",
  "../../etc/passwd",
  "🚀 ünïcödé 名前",
  "\u0000",
  "\u202e reversed",
  "x".repeat(600),
  "null",
  "[]",
];

describe.each(backends())("hostile input on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("hostile input", () => {
    let server: RunningServer;
    let runId: string;
    let otherId: string;
    let root: string;

    beforeAll(async () => {
      root = tempDir();
      const ui = join(root, "ui");
      mkdirSync(join(ui, "assets"), { recursive: true });
      writeFileSync(join(ui, "index.html"), "<html>app</html>");
      writeFileSync(join(root, "secret.txt"), SECRET);
      const dbPath = backend.newTarget();
      [runId, otherId] = populateRuns(dbPath, [
        { name: "target", config: { lr: 0.1 }, status: "completed", metrics: { loss: [3, 2, 1] } },
        { name: "other", status: "completed" },
      ]);
      server = await startServer({ dbPath, port: 0, uiDir: ui });
    });

    afterAll(async () => {
      await server.close();
    });

    async function expectIntact(): Promise<void> {
      const experiments = await raw(server, "GET", "/api/experiments");
      expect(experiments.status).toBe(200);
      expect(JSON.parse(experiments.body)).toHaveLength(1);
      const run = JSON.parse((await raw(server, "GET", `/api/runs/${runId}`)).body) as RunJson;
      expect([run.name, run.tags]).toEqual(["target", []]);
      const runs = await raw(server, "GET", "/api/experiments/exp/runs");
      expect(runs.headers["x-total-count"]).toBe("2");
    }

    it("refuses bodies that are not JSON, not objects, or not sent as JSON", async () => {
      const json = { "Content-Type": "application/json" };
      for (const body of ["{", "{'name': 'x'}", "", "undefined", '{"name": "x"', "\u0000", "[1,2", "1e999999"]) {
        expectJsonError(await raw(server, "PATCH", `/api/runs/${runId}`, { headers: json, body }), 400);
        expectJsonError(await raw(server, "POST", "/api/series", { headers: json, body }), 400);
      }
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
        const headers: Record<string, string> = type === "" ? {} : { "Content-Type": type };
        const reply = await raw(server, "PATCH", `/api/runs/${runId}`, { headers, body: '{"name":"hacked"}' });
        expectJsonError(reply, 415);
      }
      await expectIntact();
    });

    it("refuses wrong types, out-of-range numbers and unknown fields in bodies", async () => {
      const json = { "Content-Type": "application/json" };
      const patches: unknown[] = [
        { name: ["x"] },
        { name: { $ne: null } },
        { tags: [null] },
        { tags: [{}] },
        { tags: "a,b" },
        { color: 0xffffff },
        { color: "#fffffff" },
        { color: "#ggg000" },
        { notes: 12 },
        { constructor: { prototype: { polluted: true } } },
        { id: "new-id" },
        { revision: 1e308 },
      ];
      for (const body of patches) {
        const reply = await raw(server, "PATCH", `/api/runs/${runId}`, { headers: json, body: JSON.stringify(body) });
        expectJsonError(reply, 400);
      }
      // Written as text: an object literal's __proto__ sets its prototype, and JSON.stringify would send {} (no change, 200).
      const protoPatch = '{"__proto__": {"name": "x"}}';
      expectJsonError(await raw(server, "PATCH", `/api/runs/${runId}`, { headers: json, body: protoPatch }), 400);
      const seriesBodies: unknown[] = [
        {},
        { series: [] },
        { series: "all" },
        { series: [{ run_id: runId }] },
        { series: [{ run_id: 5, key: "loss" }] },
        { series: [{ run_id: runId, key: "loss" }], downsample: 0 },
        { series: [{ run_id: runId, key: "loss" }], downsample: 1.5 },
        { series: [{ run_id: runId, key: "loss" }], downsample: -10 },
        { series: [{ run_id: runId, key: "loss" }], downsample: 1e12 },
        { series: [{ run_id: runId, key: "loss" }], downsample: "100" },
        { series: [{ run_id: runId, key: "loss" }], min_step: "0" },
        { series: [{ run_id: runId, key: "loss" }], min_step: 10, max_step: 1 },
        { series: [{ run_id: runId, key: "loss" }], extra: true },
        { series: [{ run_id: runId, key: "loss", extra: 1 }] },
      ];
      for (const body of seriesBodies) {
        const reply = await raw(server, "POST", "/api/series", { headers: json, body: JSON.stringify(body) });
        expectJsonError(reply, 400);
      }
      // JSON has no Infinity, but a huge exponent parses to it.
      const infinite = '{"series":[{"run_id":"x","key":"loss"}],"min_step":1e400}';
      expectJsonError(await raw(server, "POST", "/api/series", { headers: json, body: infinite }), 400);
      await expectIntact();
    });

    it("treats SQL metacharacters and odd unicode in ids, keys and queries as plain text", async () => {
      for (const text of NASTY_STRINGS) {
        const encoded = encodeURIComponent(text);
        // Ids over 512 characters are refused (400) before any lookup.
        expectJsonError(await raw(server, "GET", `/api/runs/${encoded}`), [400, 404]);
        expectJsonError(await raw(server, "GET", `/api/experiments/${encoded}`), [400, 404]);
        expectJsonError(await raw(server, "DELETE", `/api/runs/${encoded}`), [400, 404]);
        expectJsonError(await raw(server, "DELETE", `/api/experiments/${encoded}`), [400, 404]);
        const metrics = await raw(server, "GET", `/api/runs/${runId}/metrics?key=${encoded}`);
        expect(metrics.status).toBe(200);
        expect(JSON.parse(metrics.body).values).toEqual([]);
        const search = await raw(server, "GET", `/api/experiments/exp/runs?q=${encoded}&tag=${encoded}`);
        // Tags longer than 200 characters are refused; anything shorter simply matches nothing.
        expect(search.status).toBe(text.length > 200 ? 400 : 200);
        if (search.status === 200) expect(JSON.parse(search.body)).toEqual([]);
        // The text as a field in backquotes and as a quoted value: a well-formed expression that matches nothing.
        const expression = `\`config.${text}\` = "${text.replace(/[\\"]/g, "\\$&")}"`;
        const where = await raw(server, "GET", `/api/experiments/exp/runs?where=${encodeURIComponent(expression)}`);
        // Expressions longer than 1,000 characters are refused.
        expect(where.status).toBe(expression.length > 1000 ? 400 : 200);
        if (where.status === 200) expect(JSON.parse(where.body)).toEqual([]);
        // Written bare, most of these are not an expression: a 400 that says where, never a crash.
        const bareText = `config.${text}=${text}`;
        const bare = await raw(server, "GET", `/api/experiments/exp/runs?where=${encodeURIComponent(bareText)}`);
        if (bare.status !== 200) expectJsonError(bare, 400);
        if (bare.status !== 200 && bareText.length <= 1000)
          expect(JSON.parse(bare.body).error.column).toBeGreaterThan(0);
        const series = await raw(server, "POST", "/api/series", {
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ series: [{ run_id: text, key: text }] }),
        });
        expect(series.status).toBe(text.length > 512 ? 400 : 200);
      }
      await expectIntact();
    });

    it("refuses bad query parameters with 400", async () => {
      const bad = [
        "/api/experiments/exp/runs?limit=-1",
        "/api/experiments/exp/runs?limit=0",
        "/api/experiments/exp/runs?limit=1e3",
        "/api/experiments/exp/runs?limit=99999999999999999999",
        "/api/experiments/exp/runs?limit=abc",
        "/api/experiments/exp/runs?offset=-5",
        "/api/experiments/exp/runs?offset=0x10",
        "/api/experiments/exp/runs?status=deleted",
        "/api/experiments/exp/runs?status=running,nope",
        "/api/experiments/exp/runs?order=sideways",
        "/api/experiments/exp/runs?sort=password",
        "/api/experiments/exp/runs?sort=metric.",
        "/api/experiments/exp/runs?where=lr",
        "/api/experiments/exp/runs?where=config.lr%3Eabc",
        "/api/experiments/exp/runs?where=secret%3D1",
        `/api/experiments/exp/runs?${Array.from({ length: 21 }, () => "where=config.lr%3E0").join("&")}`,
        `/api/experiments/exp/runs?q=${"x".repeat(1001)}`,
        `/api/runs/${runId}/metrics?key=loss&downsample=1`,
        `/api/runs/${runId}/metrics?key=loss&downsample=NaN`,
        `/api/runs/${runId}/metrics?key=loss&downsample=100000000`,
        `/api/runs/${runId}/metrics?key=`,
        "/api/events?cursor=abc",
        "/api/events?cursor=1.2.3",
        "/api/events?cursor=-1.0",
      ];
      for (const path of bad) expectJsonError(await raw(server, "GET", path), 400);
      expectJsonError(await raw(server, "GET", "/api/events", { headers: { "Last-Event-ID": "'; DROP" } }), 400);
      expectJsonError(await raw(server, "GET", "/api/events?experiment_id=nope"), 404);
      await expectIntact();
    });

    it("refuses bodies over 1 MiB with 413, with and without Content-Length", async () => {
      const huge = JSON.stringify({ notes: "x".repeat(2 * 1024 * 1024) });
      const json = { "Content-Type": "application/json" };
      const declared = await raw(server, "PATCH", `/api/runs/${runId}`, { headers: json, body: huge });
      expect(declared.status).toBe(413);
      const chunked = await raw(server, "POST", "/api/series", { headers: json, body: huge, chunked: true });
      expect(chunked.status).toBe(413);
      await expectIntact();
    });

    it("never serves a file outside the dashboard folder", async () => {
      const attempts = [
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/assets/..\\..\\secret.txt",
        "/%252e%252e/secret.txt",
        `/${"..%2f".repeat(20)}etc/passwd`,
        "/secret.txt%00.html",
        "//secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%E0%A4%A",
        "/C:/secret.txt",
      ];
      for (const path of attempts) {
        const reply = await raw(server, "GET", path);
        expect(reply.body, path).not.toContain(SECRET);
        expect(reply.status, path).toBeLessThan(500);
        if (reply.status === 200) expect(reply.body, path).toBe("<html>app</html>");
      }
      const post = await raw(server, "POST", "/index.html", { body: "x" });
      expect(post.status).toBe(405);
    });

    it("survives random bodies on every writing route", async () => {
      let state = 12345;
      const random = () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      };
      const atoms: unknown[] = [null, true, 0, -1, 1e308, -0, "", "x", "#ffffff", [], {}, ...NASTY_STRINGS];
      const value = (depth: number): unknown => {
        const pick = random();
        if (depth > 2 || pick < 0.6) return atoms[Math.floor(random() * atoms.length)];
        if (pick < 0.8) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
        const keys = ["name", "tags", "notes", "color", "series", "run_id", "key", "downsample", "min_step", "x"];
        return Object.fromEntries(
          Array.from({ length: Math.floor(random() * 4) }, () => [
            keys[Math.floor(random() * keys.length)],
            value(depth + 1),
          ]),
        );
      };
      const statuses = new Set<number>();
      for (let i = 0; i < 150; i++) {
        const body = JSON.stringify(value(0));
        for (const [method, path] of [
          ["POST", "/api/series"],
          ["PATCH", "/api/runs/nope"],
        ]) {
          const reply = await raw(server, method, path, { headers: { "Content-Type": "application/json" }, body });
          expect(reply.status, body).toBeLessThan(500);
          statuses.add(reply.status);
        }
      }
      expect([...statuses].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
      await expectIntact();
    });

    it("keeps text holding U+0000: as sent on SQLite, as U+FFFD on PostgreSQL (whose text cannot hold it)", async () => {
      const stored = backend.name === "sqlite" ? "\u0000" : "\uFFFD";
      const reply = await raw(server, "PATCH", `/api/runs/${otherId}`, {
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ notes: "a\u0000b", tags: ["t\u0000"] }),
      });
      expect(reply.status, reply.body).toBe(200);
      const read = JSON.parse((await raw(server, "GET", `/api/runs/${otherId}`)).body) as RunJson;
      // Tags are stored as JSON text, where U+0000 is an escape: kept as sent on both.
      expect([read.notes, read.tags]).toEqual([`a${stored}b`, ["t\u0000"]]);
      await expectIntact();
    });

    it("answers unknown methods and paths under /api with JSON 404", async () => {
      expectJsonError(await raw(server, "POST", `/api/runs/${runId}`), 404);
      expectJsonError(await raw(server, "POST", "/api/experiments"), 404);
      expectJsonError(await raw(server, "GET", "/api/runs"), 404);
      expectJsonError(await raw(server, "GET", `/api/${"a/".repeat(500)}`), 404);
      await expectIntact();
    });
  });
});
