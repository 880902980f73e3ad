// Live events over SSE: a writer in another process, incremental points,
// resuming with Last-Event-ID, edits and deletions, filters and limits.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorJson, PointsEvent } from "../src/contract/wire.js";
import { EventHub } from "../src/server/events.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { getRunRow } from "../src/store/reads.js";
import { touchHeartbeat } from "../src/store/writes.js";
import { backends } from "./support/backends.js";
import { FIXTURES, tempDb, tempDir } from "./support/helpers.js";
import { appendToRun, populateRuns, readEvents, type SseEvent } from "./support/server-support.js";

function points(event: SseEvent): PointsEvent {
  return JSON.parse(event.data) as PointsEvent;
}

const isPointsOf = (runId: string) => (e: SseEvent) => e.event === "points" && points(e).run_id === runId;

/** The live-writer fixture: a training script in its own process, driven line by line. */
function startWriter(dbPath: string, experiment: string) {
  const child = spawn(process.execPath, [join(FIXTURES, "live-writer.mjs")], {
    env: { ...process.env, STONKS_DB: dbPath, WRITER_EXPERIMENT: experiment, STONKS_LOG_LEVEL: "error" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const waitFor = async (prefix: string, from: number): Promise<string> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const line = lines.slice(from).find((l) => l.startsWith(prefix));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`writer never printed "${prefix}"; it printed ${lines.join(" | ")}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return {
    lines,
    /** Sends a command and waits for the line it answers with. */
    async command(text: string, answer: string): Promise<string> {
      const from = lines.length;
      child.stdin.write(`${text}\n`);
      return waitFor(answer, from);
    },
    started: () => waitFor("started ", 0),
    /** Ends its input, so the script can exit. */
    endInput: () => child.stdin.end(),
    kill: () => child.kill(),
    done: new Promise<number | null>((resolve) => child.on("close", resolve)),
  };
}

describe.each(backends())("live events on $name", (backend) => {
  let server: RunningServer;
  let dbPath: string;

  beforeAll(async () => {
    await backend.start();
    dbPath = backend.newTarget();
    populateRuns(dbPath, [{ experiment: "quiet", name: "q", status: "completed" }]);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir(), maxEventStreams: 6 });
  });

  afterAll(async () => {
    await server?.close();
    await backend.stop();
  });

  it("starts at now and resumes from Last-Event-ID or ?cursor= without gaps", async () => {
    const [runId] = populateRuns(dbPath, [{ experiment: "resume", name: "r", metrics: { loss: [0, 1, 2] } }]);
    const stream = await readEvents(`${server.url}/api/events?experiment_id=resume`);
    await stream.next((e) => e.event === "ready");
    appendToRun(dbPath, runId, "loss", [3, 4], [3, 4]);
    const live = points(await stream.next(isPointsOf(runId)));
    // A stream that starts at "now" gets only what was written after it started.
    expect([live.start_index, live.steps]).toEqual([3, [3, 4]]);
    const lastId = stream.events[stream.events.length - 1].id;
    stream.close();

    // While no stream is open, points keep coming (one chunk holds up to 1,024, so cross a chunk border).
    const more = Array.from({ length: 1100 }, (_, i) => 5 + i);
    appendToRun(dbPath, runId, "loss", more, more);

    for (const resume of [
      () => readEvents(`${server.url}/api/events?experiment_id=resume`, { "Last-Event-ID": lastId }),
      () => readEvents(`${server.url}/api/events?experiment_id=resume&cursor=${lastId}`),
    ]) {
      const resumed = await resume();
      try {
        await resumed.next((e) => e.event === "ready");
        const caughtUp = new Map<number, number>();
        const deadline = Date.now() + 5000;
        while (caughtUp.size < 1105 - 5 && Date.now() < deadline) {
          await resumed.next(isPointsOf(runId), 5000);
          for (const e of resumed.events.filter(isPointsOf(runId))) {
            const p = points(e);
            p.steps.forEach((step, i) => {
              caughtUp.set(p.start_index + i, step);
            });
          }
        }
        // Every point written while away arrives, at its index (repeats of earlier ones are allowed).
        for (let index = 5; index < 1105; index++) expect(caughtUp.get(index)).toBe(index);
      } finally {
        resumed.close();
      }
    }
  });

  it("announces edits, new runs and deletions, only for the chosen experiment", async () => {
    const [target] = populateRuns(dbPath, [{ experiment: "edits", name: "before", status: "completed" }]);
    const [elsewhere] = populateRuns(dbPath, [{ experiment: "other", name: "x", status: "completed" }]);
    const filtered = await readEvents(`${server.url}/api/events?experiment_id=edits`);
    const everything = await readEvents(`${server.url}/api/events`);
    try {
      await filtered.next((e) => e.event === "ready");
      await everything.next((e) => e.event === "ready");
      await fetch(`${server.url}/api/runs/${target}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "after", color: "#123456" }),
      });
      const update = await filtered.next((e) => e.event === "run_update" && JSON.parse(e.data).run_id === target);
      expect(JSON.parse(update.data)).toMatchObject({
        run_id: target,
        name: "after",
        status: "completed",
        run: { color: "#123456", name: "after" },
      });
      const [created] = populateRuns(dbPath, [{ experiment: "edits", name: "new" }]);
      const started = await filtered.next((e) => e.event === "run_update" && JSON.parse(e.data).run_id === created);
      expect(JSON.parse(started.data).status).toBe("running");

      await fetch(`${server.url}/api/runs/${elsewhere}`, { method: "DELETE" });
      await fetch(`${server.url}/api/runs/${created}`, { method: "DELETE" });
      const deleted = await filtered.next((e) => e.event === "run_deleted");
      expect(JSON.parse(deleted.data)).toMatchObject({ run_id: created });
      await everything.next((e) => e.event === "run_deleted" && JSON.parse(e.data).run_id === elsewhere);
      // The filtered stream never hears about the other experiment.
      expect(filtered.events.some((e) => e.data.includes(elsewhere))).toBe(false);
    } finally {
      filtered.close();
      everything.close();
    }
  });

  it("refuses streams beyond the limit with 503 JSON, and accepts again once one closes", async () => {
    const open = [];
    for (let i = 0; i < 6; i++) {
      const stream = await readEvents(`${server.url}/api/events`);
      await stream.next((e) => e.event === "ready");
      open.push(stream);
    }
    const refused = await fetch(`${server.url}/api/events`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as ErrorJson).error.code).toBe("too_many_connections");
    open[0].close();
    const deadline = Date.now() + 5000;
    let accepted = 503;
    while (accepted === 503 && Date.now() < deadline) {
      const attempt = await readEvents(`${server.url}/api/events`);
      accepted = attempt.status;
      attempt.close();
      if (accepted === 503) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(accepted).toBe(200);
    for (const stream of open) stream.close();
  });

  it("replaces a flood of points by one resync event, then continues with exact points", async () => {
    const floodDb = backend.newTarget();
    const [runId] = populateRuns(floodDb, [{ experiment: "flood", name: "f", metrics: { loss: [0] } }]);
    const hub = new EventHub({ dbPath: floodDb, pollIntervalMs: 20, maxPointsPerDelta: 100 });
    let text = "";
    const client = hub.attach(
      {
        write: async (chunk) => {
          text += chunk;
        },
      },
      null,
      null,
    );
    const waitFor = async (needle: string) => {
      const deadline = Date.now() + 5000;
      while (!text.includes(needle) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(text).toContain(needle);
    };
    try {
      const many = Array.from({ length: 500 }, (_, i) => i + 1);
      appendToRun(floodDb, runId, "loss", many, many);
      await waitFor("event: resync");
      expect(text).not.toContain("event: points");
      appendToRun(floodDb, runId, "loss", [501], [501]);
      await waitFor("event: points");
      const data = JSON.parse(text.slice(text.indexOf("event: points")).split("data: ")[1].split("\n")[0]);
      expect([data.start_index, data.steps]).toEqual([501, [501]]);
    } finally {
      client.close();
      hub.close();
    }
  });

  it("sends the run again when it turns stale, and when its heartbeat comes back", async () => {
    const staleDb = backend.newTarget();
    const [runId] = populateRuns(staleDb, [{ experiment: "hb", name: "quiet-process", heartbeat: Date.now() / 1000 }]);
    const staleServer = await startServer({ dbPath: staleDb, port: 0, uiDir: tempDir(), staleAfterSeconds: 1 });
    const stream = await readEvents(`${staleServer.url}/api/events`);
    try {
      await stream.next((e) => e.event === "ready");
      const isRun = (stale: boolean) => (e: SseEvent) =>
        e.event === "run_update" && JSON.parse(e.data).run_id === runId && JSON.parse(e.data).run.stale === stale;
      // No writes at all: the clock alone makes the run stale.
      await stream.next(isRun(true), 5000);
      const db = openDatabase(staleDb);
      try {
        const row = getRunRow(db, runId);
        runImmediate(db, () => touchHeartbeat(db, row?.seq ?? -1, Date.now() / 1000));
      } finally {
        db.close();
      }
      const back = await stream.next(isRun(false), 5000);
      expect(JSON.parse(back.data).status).toBe("running");
    } finally {
      stream.close();
      await staleServer.close();
    }
  });

  it("tells a stream that starts after a run went stale, right after ready", async () => {
    const staleDb = backend.newTarget();
    const [runId] = populateRuns(staleDb, [{ experiment: "hb", name: "died", heartbeat: Date.now() / 1000 - 30 }]);
    const staleServer = await startServer({ dbPath: staleDb, port: 0, uiDir: tempDir(), staleAfterSeconds: 1 });
    // A client that read the run list while it was still live must not miss the change.
    const stream = await readEvents(`${staleServer.url}/api/events`);
    try {
      await stream.next((e) => e.event === "ready");
      const update = await stream.next((e) => e.event === "run_update" && JSON.parse(e.data).run_id === runId, 2000);
      expect(JSON.parse(update.data).run.stale).toBe(true);
    } finally {
      stream.close();
      await staleServer.close();
    }
  });

  it("sends keep-alive comments that carry the cursor", async () => {
    const quietServer = await startServer({
      dbPath: backend.newTarget(),
      port: 0,
      uiDir: tempDir(),
      eventKeepAliveMs: 100,
    });
    const stream = await readEvents(`${quietServer.url}/api/events`);
    try {
      const deadline = Date.now() + 5000;
      while (!stream.raw().includes(": keep-alive\nid: 0.0\n") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(stream.raw()).toContain(": keep-alive\nid: 0.0\n");
    } finally {
      stream.close();
      await quietServer.close();
    }
  });
});

// The SDK process writes the SQLite file itself (an SDK logs to a PostgreSQL-backed server over HTTP: remote-*.test.ts).
describe("live events from an SDK process writing the SQLite file", () => {
  let server: RunningServer;
  let dbPath: string;

  beforeAll(async () => {
    dbPath = tempDb();
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server.close();
  });

  it("delivers points flushed by a writer in another process, each point once", async () => {
    const writer = startWriter(dbPath, "live");
    const runId = (await writer.started()).split(" ")[1];
    const stream = await readEvents(`${server.url}/api/events`);
    try {
      expect(stream.status).toBe(200);
      await stream.next((e) => e.event === "ready");
      const flushed = await writer.command("log 5", "flushed ");

      expect(flushed).toMatch(/^flushed /);
      // How soon it follows the flush is measured by bench/api_live.mjs, not asserted here.
      const first = await stream.next(isPointsOf(runId), 10_000);
      expect(points(first)).toEqual({
        run_id: runId,
        key: "train/loss",
        steps: [0, 1, 2, 3, 4],
        values: [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5],
        timestamps: expect.any(Array),
        start_index: 0,
      });
      const update = stream.events.find((e) => e.event === "metrics_update");
      expect(JSON.parse(update?.data ?? "{}")).toMatchObject({ run_id: runId, last_heartbeat: expect.any(Number) });

      // The next flush rewrites the same chunk; only the new points travel.
      const seen = stream.events.length;
      await writer.command("log 3", "flushed ");
      const second = await stream.next(isPointsOf(runId), 3000, seen);
      expect([points(second).start_index, points(second).steps]).toEqual([5, [5, 6, 7]]);

      await writer.command("finish", "finished");
      const finished = await stream.next((e) => e.event === "run_update" && JSON.parse(e.data).status === "completed");
      const data = JSON.parse(finished.data);
      expect(data).toMatchObject({ run_id: runId, name: "live-writer", ended_at: expect.any(Number) });
      expect(data.run.summary["train/loss"]).toMatchObject({ count: 8, last_step: 7 });
      writer.endInput();
      expect(await writer.done).toBe(0);
      // Every event carries the cursor as its id.
      expect(stream.events.every((e) => /^\d+\.\d+$/.test(e.id))).toBe(true);
    } finally {
      stream.close();
      writer.kill();
    }
  });
});
