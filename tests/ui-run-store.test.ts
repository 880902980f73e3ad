/**
 * The dashboard's run store against a real server: run rows stay apart from
 * metric summaries, so live points change the summaries and leave every run
 * object (and the key lists) as they were, which is what lets components
 * memoise on them without signature strings.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunJson } from "../src/contract/wire.js";
import type { RunningServer } from "../src/server/index.js";
import { type RunsSnapshot, RunsStore } from "../ui/src/state/run-store.js";
import { populate, serve, tempDir } from "./support/ui-support.js";

const NOW = Date.now() / 1000;
const tmp = tempDir("stonks-ui-run-store-");
const dbPath = `${tmp.dir}/stonks.db`;
let server: RunningServer;
let ids: string[];
let store: RunsStore;

beforeAll(async () => {
  ids = populate(dbPath, [
    {
      experiment: "live",
      name: "a",
      createdAt: NOW - 20,
      heartbeat: NOW,
      config: { lr: 0.1 },
      metrics: { loss: [3, 2] },
    },
    { experiment: "live", name: "b", createdAt: NOW - 10, status: "completed", config: { lr: 0.2 } },
  ]).map((run) => run.id);
  server = await serve(dbPath);
  // The page's store fetches through the dashboard's API client; this one reads the same route directly.
  store = new RunsStore(async (experiment) => {
    const response = await fetch(`${server.url}/api/experiments/${experiment}/runs`);
    return (await response.json()) as RunJson[];
  });
  await store.load("live");
});

afterAll(async () => {
  await server?.close();
  tmp.remove();
});

/** Resolves with the next snapshot the store emits. */
function nextSnapshot(): Promise<RunsSnapshot> {
  return new Promise((resolve) => {
    const stop = store.subscribe(() => {
      stop();
      resolve(store.getSnapshot());
    });
  });
}

describe("run store", () => {
  it("keeps run rows without summaries, newest first, and the summaries beside them", () => {
    const snapshot = store.getSnapshot();
    expect(snapshot.status).toBe("ready");
    expect(snapshot.runs.map((r) => r.name)).toEqual(["b", "a"]);
    expect(snapshot.runs.every((r) => !("summary" in r))).toBe(true);
    expect(snapshot.summaries.get(ids[0])?.loss).toMatchObject({ last: 2, min: 2, max: 3, count: 2 });
    expect(snapshot.keys).toEqual({ configKeys: ["lr"], metricKeys: ["loss"] });
  });

  it("takes live points into the summaries and leaves the runs and key lists as they were", async () => {
    const before = store.getSnapshot();
    const emitted = nextSnapshot();
    store.points({
      run_id: ids[0],
      key: "loss",
      steps: [2, 3],
      values: [1, 0.5],
      timestamps: [NOW, NOW],
      start_index: 2,
    });
    const after = await emitted;
    expect(after.summaries.get(ids[0])?.loss).toMatchObject({ last: 0.5, min: 0.5, max: 3, count: 4, last_step: 3 });
    expect(after.runs).toBe(before.runs);
    expect(after.byId).toBe(before.byId);
    expect(after.metricKeys).toBe(before.metricKeys);
    expect(after.keys).toBe(before.keys);
  });

  it("changes the key lists when a run logs a new key, still not the runs", async () => {
    const before = store.getSnapshot();
    const emitted = nextSnapshot();
    store.points({ run_id: ids[0], key: "acc", steps: [0], values: [0.9], timestamps: [NOW], start_index: 0 });
    const after = await emitted;
    expect(after.metricKeys.get(ids[0])).toEqual(["acc", "loss"]);
    expect(after.metricKeys.get(ids[1])).toBe(before.metricKeys.get(ids[1]));
    expect(after.keys.metricKeys).toEqual(["acc", "loss"]);
    expect(after.runs).toBe(before.runs);
  });

  it("keeps heartbeats beside the runs", async () => {
    const before = store.getSnapshot();
    const emitted = nextSnapshot();
    store.metricsUpdate({ run_id: ids[0], last_heartbeat: NOW + 5 });
    const after = await emitted;
    expect(after.heartbeats.get(ids[0])).toBe(NOW + 5);
    expect(after.runs).toBe(before.runs);
  });

  it("replaces a run's row and summaries when the server sends the run again", async () => {
    const reply = (await (await fetch(`${server.url}/api/runs/${ids[1]}`)).json()) as RunJson;
    const before = store.getSnapshot();
    store.upsert({ ...reply, name: "b2" });
    const after = store.getSnapshot();
    expect(after.byId.get(ids[1])?.name).toBe("b2");
    expect(after.byId.get(ids[0])).toBe(before.byId.get(ids[0]));
    expect(after.runs.map((r) => r.name)).toEqual(["b2", "a"]);
  });
});
