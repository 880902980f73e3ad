// The routes and shapes the original stonks' REST client and dashboard use, and projects, against a real server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExperimentJson, ProjectJson, RunJson } from "../src/contract/wire.js";
import { type RunningServer, startServer } from "../src/server/index.js";
import { openDatabase, runImmediate } from "../src/store/connection.js";
import { ensureProject } from "../src/store/projects.js";
import { tempDb, tempDir } from "./support/helpers.js";
import { appendToRun, populateRuns, readEvents } from "./support/server-support.js";

interface Reply<T> {
  status: number;
  body: T;
}

interface ErrorJson {
  error: { code: string; message: string };
}

async function call<T = ErrorJson>(server: RunningServer, path: string, init: RequestInit = {}): Promise<Reply<T>> {
  const response = await fetch(server.url + path, init);
  return { status: response.status, body: (await response.json()) as T };
}

function patch(body: unknown): RequestInit {
  return { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

/** Puts experiments into a project (created by name when new), as the SDKs do when an experiment is first created. */
function linkProject(dbPath: string, project: string, experiments: string[]): string {
  const db = openDatabase(dbPath);
  try {
    return runImmediate(db, () => {
      const id = ensureProject(db, project, 1_700_000_000);
      for (const name of experiments) {
        db.prepare("UPDATE experiments SET project_id = ? WHERE name = ?").run(id, name);
      }
      return id;
    });
  } finally {
    db.close();
  }
}

interface SeriesJson {
  key: string;
  steps: number[];
  values: (number | null)[];
  values_min?: (number | null)[];
  values_max?: (number | null)[];
  timestamps: number[];
}

describe("projects", () => {
  let server: RunningServer;
  let vision: string;
  let audio: string;

  beforeAll(async () => {
    const dbPath = tempDb();
    populateRuns(dbPath, [
      { experiment: "resnet", status: "completed" },
      { experiment: "vit", status: "completed" },
      { experiment: "wav2vec", status: "completed" },
      { experiment: "loose", status: "completed" },
    ]);
    vision = linkProject(dbPath, "vision", ["resnet", "vit"]);
    audio = linkProject(dbPath, "audio", ["wav2vec"]);
    linkProject(dbPath, "empty", []);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server.close();
  });

  it("GET /api/projects lists every project by name with its experiment count", async () => {
    const reply = await call<ProjectJson[]>(server, "/api/projects");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual([
      { id: audio, name: "audio", created_at: 1_700_000_000, experiment_count: 1 },
      { id: expect.any(String), name: "empty", created_at: 1_700_000_000, experiment_count: 0 },
      { id: vision, name: "vision", created_at: 1_700_000_000, experiment_count: 2 },
    ]);
  });

  it("experiments carry project_id, in the list and alone", async () => {
    const list = await call<ExperimentJson[]>(server, "/api/experiments");
    expect(list.body.map((e) => [e.name, e.project_id])).toEqual([
      ["loose", null],
      ["resnet", vision],
      ["vit", vision],
      ["wav2vec", audio],
    ]);
    const one = await call<ExperimentJson>(server, "/api/experiments/vit");
    expect(one.body).toMatchObject({ name: "vit", project_id: vision, run_count: 1 });
  });

  it("?project_id= keeps the experiments of that project; an unknown id gives an empty list", async () => {
    const filtered = await call<ExperimentJson[]>(server, `/api/experiments?project_id=${vision}`);
    expect(filtered.body.map((e) => e.name)).toEqual(["resnet", "vit"]);
    expect((await call<ExperimentJson[]>(server, "/api/experiments?project_id=nope")).body).toEqual([]);
  });

  it("an empty or overlong project_id is a 400 with a JSON error", async () => {
    for (const value of ["", "x".repeat(513)]) {
      const reply = await call(server, `/api/experiments?project_id=${value}`);
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe("bad_request");
    }
  });
});

describe("GET /api/runs/{id}/metrics/all", () => {
  let server: RunningServer;
  let plain: string;
  let ranked: string;
  let big: string;

  beforeAll(async () => {
    const dbPath = tempDb();
    [plain, ranked, big] = populateRuns(dbPath, [
      { status: "completed", metrics: { "train/loss": [4, 3, 2, 1], acc: [0.1, 0.2] } },
      {
        status: "completed",
        metrics: {
          "rank_0/loss": [1, 2, 3],
          "rank_1/loss": [3, 4, 5, 6],
          "rank_10/loss": [5, 6, Number.NaN],
          // The run logged "lr" itself, so its per-rank keys are not combined into it.
          lr: [0.5],
          "rank_0/lr": [9],
          "rank_x/loss": [7],
        },
      },
      { status: "completed", metrics: { wave: { count: 1000, value: (s) => Math.sin(s / 10) } } },
    ]);
    server = await startServer({
      dbPath,
      port: 0,
      uiDir: tempDir(),
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it("answers every key as {key, steps, values, timestamps}", async () => {
    const reply = await call<Record<string, SeriesJson>>(server, `/api/runs/${plain}/metrics/all`);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(["acc", "train/loss"]);
    expect(reply.body["train/loss"]).toEqual({
      key: "train/loss",
      steps: [0, 1, 2, 3],
      values: [4, 3, 2, 1],
      timestamps: [1_700_000_000, 1_700_000_001, 1_700_000_002, 1_700_000_003],
    });
    expect(reply.body.acc).toMatchObject({ key: "acc", steps: [0, 1], values: [0.1, 0.2] });
  });

  it("combines rank_N/ keys per step into mean, values_min and values_max, unless the key itself was logged", async () => {
    const reply = await call<Record<string, SeriesJson>>(server, `/api/runs/${ranked}/metrics/all`);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(["loss", "lr", "rank_x/loss"]);
    expect(reply.body.loss).toEqual({
      key: "loss",
      steps: [0, 1, 2, 3],
      // Step 2: rank_10 logged NaN, which is left out of the mean like the original's missing values.
      values: [3, 4, 4, 6],
      values_min: [1, 2, 3, 6],
      values_max: [5, 6, 5, 6],
      timestamps: [1_700_000_000, 1_700_000_001, 1_700_000_002, 1_700_000_003],
    });
    expect(reply.body.lr).toEqual({ key: "lr", steps: [0], values: [0.5], timestamps: [1_700_000_000] });
  });

  it("downsample=N keeps at most N points per key, spanning the whole series", async () => {
    const reply = await call<Record<string, SeriesJson>>(server, `/api/runs/${big}/metrics/all?downsample=100`);
    expect(reply.status).toBe(200);
    const wave = reply.body.wave;
    expect(wave.steps.length).toBeLessThanOrEqual(100);
    expect(wave.steps.length).toBeGreaterThan(10);
    expect(wave.steps[0]).toBe(0);
    // The store's downsampler keeps each bucket's extremes; the last bucket ends at the last step.
    expect(wave.steps.at(-1)).toBeGreaterThan(900);
    expect(wave.steps).toEqual([...wave.steps].sort((x, y) => x - y));
    expect(wave.values.length).toBe(wave.steps.length);
    expect(wave.timestamps.length).toBe(wave.steps.length);
  });

  it("downsamples a combined rank series with one choice of points for mean, min and max", async () => {
    const reply = await call<Record<string, SeriesJson>>(server, `/api/runs/${ranked}/metrics/all?downsample=2`);
    expect(reply.body.loss).toEqual({
      key: "loss",
      steps: [0, 3],
      values: [3, 6],
      values_min: [1, 6],
      values_max: [5, 6],
      timestamps: [1_700_000_000, 1_700_000_003],
    });
  });

  it("a bad downsample is a 400 and an unknown run a 404, as JSON errors", async () => {
    for (const value of ["1", "abc", "100001"]) {
      const reply = await call(server, `/api/runs/${plain}/metrics/all?downsample=${value}`);
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe("bad_request");
    }
    const missing = await call(server, "/api/runs/no-such-run/metrics/all");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });
});

describe("point limit of /metrics/all", () => {
  let server: RunningServer;
  let runId: string;

  beforeAll(async () => {
    const dbPath = tempDb();
    [runId] = populateRuns(dbPath, [
      {
        status: "completed",
        metrics: {
          a: { count: 600, value: (s) => s },
          "rank_0/b": { count: 300, value: (s) => s },
          "rank_1/b": { count: 300, value: (s) => s },
        },
      },
    ]);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir(), heavyReads: { maxPointsPerResponse: 1000 } });
  });

  afterAll(async () => {
    await server.close();
  });

  it("counts downsampled plain keys and every point of rank keys against the limit", async () => {
    const whole = await call(server, `/api/runs/${runId}/metrics/all`);
    expect(whole.status).toBe(400);
    expect(whole.body.error.code).toBe("too_many_points");
    expect(whole.body.error.message).toContain("1200 points");
    expect(whole.body.error.message).toContain("downsample");
    // 100 of a + 600 rank points read to combine b: within 1000.
    const fitting = await call<Record<string, SeriesJson>>(server, `/api/runs/${runId}/metrics/all?downsample=100`);
    expect(fitting.status).toBe(200);
    expect(Object.keys(fitting.body).sort()).toEqual(["a", "b"]);
    expect(fitting.body.b.steps.length).toBeLessThanOrEqual(100);
  });
});

describe("PATCH as the original client sends it", () => {
  let server: RunningServer;
  let runId: string;

  beforeAll(async () => {
    const dbPath = tempDb();
    [runId] = populateRuns(dbPath, [{ name: "kept", tags: ["a", "b"], notes: "n", status: "completed" }]);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir() });
  });

  afterAll(async () => {
    await server.close();
  });

  it("{} changes nothing and answers the run", async () => {
    const before = await call<RunJson>(server, `/api/runs/${runId}`);
    const reply = await call<RunJson>(server, `/api/runs/${runId}`, patch({}));
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(before.body);
  });

  it('{"tags": null} clears the tags and leaves the rest', async () => {
    const reply = await call<RunJson>(server, `/api/runs/${runId}`, patch({ tags: null }));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ tags: [], name: "kept", notes: "n" });
  });

  it("a name of 256 characters is stored; 257 is a 400", async () => {
    const long = "n".repeat(256);
    const ok = await call<RunJson>(server, `/api/runs/${runId}`, patch({ name: long }));
    expect(ok.status).toBe(200);
    expect(ok.body.name).toBe(long);
    const tooLong = await call(server, `/api/runs/${runId}`, patch({ name: `${long}x` }));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toContain("256");
  });
});

describe("metrics_update", () => {
  let server: RunningServer;
  let dbPath: string;
  let runId: string;

  beforeAll(async () => {
    dbPath = tempDb();
    [runId] = populateRuns(dbPath, [{ metrics: { loss: [1] } }]);
    server = await startServer({ dbPath, port: 0, uiDir: tempDir(), pollIntervalMs: 50 });
  });

  afterAll(async () => {
    await server.close();
  });

  it("comes at most once per run per second while every batch still arrives as points, and the last batch is announced", async () => {
    const stream = await readEvents(`${server.url}/api/events`);
    try {
      await stream.next((e) => e.event === "ready");
      // 20 batches 100 ms apart: each is seen by its own poll (every 50 ms).
      for (let i = 1; i <= 20; i++) {
        appendToRun(dbPath, runId, "loss", [i], [i]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const lastPoints = await stream.next((e) => e.event === "points" && JSON.parse(e.data).steps.includes(20));
      const lastPointsAt = stream.events.indexOf(lastPoints);
      // The update held back for the last batches goes out once its second is over.
      await stream.next((e) => e.event === "metrics_update", 3000, lastPointsAt);
      const pointSteps = stream.events
        .filter((e) => e.event === "points")
        .flatMap((e) => JSON.parse(e.data).steps as number[]);
      expect(pointSteps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const updates = stream.events.filter((e) => e.event === "metrics_update");
      // Two seconds of batches: without the limit every one of the 20 would bring one.
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates.length).toBeLessThanOrEqual(4);
      expect(updates.every((e) => JSON.parse(e.data).run_id === runId)).toBe(true);
    } finally {
      stream.close();
    }
  });
});
