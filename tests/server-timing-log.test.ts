// STONKS_TIMING_LOG: the opt-in log of how long the server took to accept each points batch (bench/remote_many.mjs).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/server/index.js";
import { UNKNOWN_PROVENANCE } from "../src/types.js";
import { encodeB64F64 } from "../src/util/b64f64.js";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";

const column = (values: number[]) => encodeB64F64(Float64Array.from(values));

async function logOneBatch(server: RunningServer): Promise<void> {
  const id = randomUUID();
  const put = await fetch(`${server.url}/api/runs/${id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      experiment: "timing",
      project: null,
      name: "r",
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      color: null,
      createdAt: 1_700_000_000,
      provenance: { ...UNKNOWN_PROVENANCE },
      status: "running",
      endedAt: null,
      lastHeartbeat: 1_700_000_000,
    }),
  });
  expect(put.status).toBe(201);
  const points = await fetch(`${server.url}/api/runs/${id}/points`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      series: [{ key: "loss", start: 0, steps: column([0, 1]), values: column([1, 2]), times: column([5, 6]) }],
    }),
  });
  expect(points.status).toBe(200);
  const sync = await fetch(`${server.url}/api/runs/${id}/sync`);
  expect(sync.status).toBe(200);
}

describe.each(backends())("STONKS_TIMING_LOG on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("STONKS_TIMING_LOG", () => {
    let server: RunningServer | null = null;

    afterEach(async () => {
      delete process.env.STONKS_TIMING_LOG;
      await server?.close();
      server = null;
    });

    it("writes one line per points batch: when, milliseconds to accept it, status", async () => {
      const log = join(tempDir(), "timing.log");
      process.env.STONKS_TIMING_LOG = log;
      server = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: tempDir() });
      await logOneBatch(server);
      await logOneBatch(server);
      const lines = readFileSync(log, "utf8").trim().split("\n");
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        const [at, ms, status] = line.split(" ");
        expect(Math.abs(Number(at) - Date.now())).toBeLessThan(60_000);
        expect(Number(ms)).toBeGreaterThanOrEqual(0);
        expect(status).toBe("200");
      }
    });
  });
});
