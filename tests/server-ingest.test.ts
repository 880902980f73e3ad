// The write API (PUT /api/runs/{id}, points, heartbeat, sync) against a real server and database file.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PointsBatchReply, RunSyncReply, RunUpsertBody, RunUpsertReply } from "../src/contract/ingest.js";
import type { ErrorJson, MetricPointsJson, PointsEvent, RunJson } from "../src/contract/wire.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { encodeB64F64 } from "../src/util/b64f64.js";
import { backends } from "./support/backends.js";
import { tempDir } from "./support/helpers.js";
import { readEvents } from "./support/server-support.js";

interface Reply<T> {
  status: number;
  body: T;
}

async function send<T = ErrorJson>(server: RunningServer, method: string, path: string, body?: unknown) {
  const response = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as T } satisfies Reply<T>;
}

function meta(overrides: Partial<RunUpsertBody> = {}): RunUpsertBody {
  return {
    experiment: "remote",
    project: "team",
    name: "gpu-box",
    config: { lr: 0.01 },
    tags: ["remote"],
    group: null,
    jobType: "train",
    notes: null,
    color: null,
    createdAt: 1_700_000_000,
    provenance: {
      host: "gpu-7",
      pid: 99,
      command: "python train.py",
      cwd: "/work",
      gitCommit: null,
      gitDirty: null,
      sdkLanguage: "python",
      sdkVersion: "0.1.0",
    },
    status: "running",
    endedAt: null,
    lastHeartbeat: 1_700_000_001,
    ...overrides,
  };
}

function column(values: number[]): string {
  return encodeB64F64(Float64Array.from(values));
}

/** A batch of one series: points [start, start + steps.length), value = step / 10. */
function batch(key: string, start: number, steps: number[]) {
  return {
    key,
    start,
    steps: column(steps),
    values: column(steps.map((s) => s / 10)),
    times: column(steps.map((s) => 1_700_000_000 + s)),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe.each(backends())("the write API on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("write API", () => {
    let server: RunningServer;

    beforeAll(async () => {
      server = await startServer({ dbPath: backend.newTarget(), port: 0, uiDir: tempDir() });
    });

    afterAll(async () => {
      await server.close();
    });

    it("creates a run with the sender's id, then updates it in place and answers the stored counts", async () => {
      const id = randomUUID();
      const created = await send<RunUpsertReply>(server, "PUT", `/api/runs/${id}`, meta());
      expect(created).toEqual({ status: 201, body: { id, series: {} } });
      const run = await send<RunJson>(server, "GET", `/api/runs/${id}`);
      expect(run.body).toMatchObject({
        id,
        name: "gpu-box",
        status: "running",
        config: { lr: 0.01 },
        tags: ["remote"],
        job_type: "train",
        created_at: 1_700_000_000,
        last_heartbeat: 1_700_000_001,
        provenance: { host: "gpu-7", pid: 99, sdk_language: "python" },
      });

      await send(server, "POST", `/api/runs/${id}/points`, { series: [batch("loss", 0, [0, 1, 2])] });
      const updated = await send<RunUpsertReply>(
        server,
        "PUT",
        `/api/runs/${id}`,
        meta({
          config: { lr: 0.02 },
          tags: [],
          notes: "n",
          status: "completed",
          endedAt: 1_700_000_050,
          lastHeartbeat: 5,
        }),
      );
      expect(updated).toEqual({ status: 200, body: { id, series: { loss: 3 } } });
      const after = await send<RunJson>(server, "GET", `/api/runs/${id}`);
      // The body's fields replace the stored ones, but a heartbeat never goes back.
      expect(after.body).toMatchObject({
        status: "completed",
        config: { lr: 0.02 },
        tags: [],
        notes: "n",
        ended_at: 1_700_000_050,
        last_heartbeat: 1_700_000_001,
      });
      const sync = await send<RunSyncReply>(server, "GET", `/api/runs/${id}/sync`);
      expect(sync.body).toEqual({ series: { loss: 3 }, status: "completed", revision: expect.any(Number) });
      // The same body again changes nothing, not even the revision.
      await send(
        server,
        "PUT",
        `/api/runs/${id}`,
        meta({ config: { lr: 0.02 }, tags: [], notes: "n", status: "completed", endedAt: 1_700_000_050 }),
      );
      expect((await send<RunSyncReply>(server, "GET", `/api/runs/${id}/sync`)).body.revision).toBe(sync.body.revision);
    });

    it("stores every point once however batches overlap, repeat or come after a gap", async () => {
      const id = randomUUID();
      await send(server, "PUT", `/api/runs/${id}`, meta());
      const post = (series: ReturnType<typeof batch>[]) =>
        send<PointsBatchReply>(server, "POST", `/api/runs/${id}/points`, { series });

      expect((await post([batch("a", 0, range(0, 5)), batch("b", 0, [0])])).body).toEqual({
        series: { a: 5, b: 1 },
        gaps: {},
      });
      // Resent after a timeout: already stored, nothing doubled.
      expect((await post([batch("a", 0, range(0, 5))])).body).toEqual({ series: { a: 5 }, gaps: {} });
      // Overlapping: only points 5..7 are new.
      expect((await post([batch("a", 3, range(3, 8))])).body).toEqual({ series: { a: 8 }, gaps: {} });
      // Past the stored count: nothing of that series is written, the answer says where to resend from.
      expect((await post([batch("a", 10, range(10, 12)), batch("b", 1, [1, 2])])).body).toEqual({
        series: { a: 8, b: 3 },
        gaps: { a: 8 },
      });
      expect((await post([batch("new", 4, [4])])).body).toEqual({ series: { new: 0 }, gaps: { new: 0 } });
      // More than one chunk (1,024 points) in one batch.
      expect((await post([batch("a", 8, range(8, 3000))])).body.series).toEqual({ a: 3000 });
      // The shippers' largest batch, 50,000 points: a 1.6 MB body, over the 1 MiB other routes take.
      expect((await post([batch("big", 0, range(0, 50_000))])).body.series).toEqual({ big: 50_000 });

      const points = await send<MetricPointsJson>(server, "GET", `/api/runs/${id}/metrics?key=a`);
      expect(points.body.steps).toEqual(range(0, 3000));
      expect(points.body.values).toEqual(range(0, 3000).map((s) => s / 10));
      expect(points.body.timestamps).toEqual(range(0, 3000).map((s) => 1_700_000_000 + s));
      expect((await send<RunSyncReply>(server, "GET", `/api/runs/${id}/sync`)).body.series).toEqual({
        a: 3000,
        b: 3,
        big: 50_000,
      });
    });

    it("takes heartbeats of running runs forward only", async () => {
      const id = randomUUID();
      await send(server, "PUT", `/api/runs/${id}`, meta());
      expect((await send(server, "POST", `/api/runs/${id}/heartbeat`, { at: 1_700_000_100 })).status).toBe(204);
      expect((await send(server, "POST", `/api/runs/${id}/heartbeat`, { at: 1_700_000_050 })).status).toBe(204);
      expect((await send<RunJson>(server, "GET", `/api/runs/${id}`)).body.last_heartbeat).toBe(1_700_000_100);
      // A finished run keeps the heartbeat it finished with, as a local one does.
      await send(
        server,
        "PUT",
        `/api/runs/${id}`,
        meta({ status: "completed", endedAt: 1_700_000_200, lastHeartbeat: 1_700_000_200 }),
      );
      expect((await send(server, "POST", `/api/runs/${id}/heartbeat`, { at: 1_700_000_300 })).status).toBe(204);
      expect((await send<RunJson>(server, "GET", `/api/runs/${id}`)).body.last_heartbeat).toBe(1_700_000_200);
    });

    it("shows a remote run on the live stream as a local one: run_update, then points", async () => {
      const stream = await readEvents(`${server.url}/api/events`);
      try {
        await stream.next((e) => e.event === "ready");
        const id = randomUUID();
        await send(server, "PUT", `/api/runs/${id}`, meta({ experiment: "live-remote" }));
        const update = await stream.next((e) => e.event === "run_update" && JSON.parse(e.data).run_id === id);
        expect(JSON.parse(update.data)).toMatchObject({ run_id: id, status: "running", name: "gpu-box" });
        await send(server, "POST", `/api/runs/${id}/points`, { series: [batch("loss", 0, [0, 1, 2])] });
        const points = await stream.next((e) => e.event === "points" && JSON.parse(e.data).run_id === id);
        expect(JSON.parse(points.data) as PointsEvent).toEqual({
          run_id: id,
          key: "loss",
          steps: [0, 1, 2],
          values: [0, 0.1, 0.2],
          timestamps: [1_700_000_000, 1_700_000_001, 1_700_000_002],
          start_index: 0,
        });
      } finally {
        stream.close();
      }
    });

    it("tells proxies not to buffer the live stream", async () => {
      const controller = new AbortController();
      const response = await fetch(`${server.url}/api/events`, { signal: controller.signal });
      controller.abort();
      expect([response.headers.get("content-type"), response.headers.get("x-accel-buffering")]).toEqual([
        "text/event-stream",
        "no",
      ]);
    });

    it("answers JSON 4xx for every bad input", async () => {
      const id = randomUUID();
      await send(server, "PUT", `/api/runs/${id}`, meta());
      const points = (series: unknown) => send(server, "POST", `/api/runs/${id}/points`, { series });
      const good = batch("k", 0, [0, 1]);
      const cases: [Promise<Reply<ErrorJson>>, number, RegExp][] = [
        [points([{ ...good, steps: "not base64!" }]), 400, /series "k": steps is not base64/],
        [points([{ ...good, values: "AAAA" }]), 400, /values is not base64 of little-endian float64/],
        [points([{ ...good, values: column([1]) }]), 400, /hold 2, 1 and 2/],
        [points([{ ...good, values: column([1, Number.NaN]) }]), 400, /values\[1\] is NaN/],
        [points([{ ...good, times: column([Number.POSITIVE_INFINITY, 1]) }]), 400, /times\[0\] is Infinity/],
        [points([{ ...good, start: -1 }]), 400, /start/],
        [points([{ ...good, start: 1.5 }]), 400, /start/],
        [points([{ ...good, key: "" }]), 400, /key/],
        [points([batch("x".repeat(1001), 0, [1])]), 400, /at most 1000 characters/],
        [points([batch("big", 0, range(0, 100_001))]), 413, /at most 100000 points/],
        [points("nope"), 400, /series/],
        [send(server, "POST", `/api/runs/${randomUUID()}/points`, { series: [good] }), 404, /No run/],
        [send(server, "POST", `/api/runs/${randomUUID()}/heartbeat`, { at: 1 }), 404, /No run/],
        [send(server, "GET", `/api/runs/${randomUUID()}/sync`), 404, /No run/],
        [send(server, "POST", `/api/runs/${id}/heartbeat`, { at: "soon" }), 400, /at/],
        [send(server, "PUT", `/api/runs/${id}`, meta({ status: "paused" as "running" })), 400, /status/],
        [send(server, "PUT", `/api/runs/${id}`, { ...meta(), experiment: "" }), 400, /experiment/],
        [send(server, "PUT", `/api/runs/${id}`, { ...meta(), provenance: undefined }), 400, /provenance/],
        [send(server, "PUT", `/api/runs/${id}`, { ...meta(), createdAt: null }), 400, /createdAt/],
      ];
      for (const [reply, status, message] of cases) {
        const { status: got, body } = await reply;
        expect({ got, code: typeof body.error.code }).toEqual({ got: status, code: "string" });
        expect(body.error.message).toMatch(message);
      }
      // Nothing of a refused batch was stored.
      expect((await send<RunSyncReply>(server, "GET", `/api/runs/${id}/sync`)).body.series).toEqual({});
    });
  });
});
