/**
 * Shared by the `stonks migrate` tests (SQLite and PostgreSQL): a store with
 * a bit of everything, written through the service API so any backend can
 * hold it, and a comparison of two stores field by field and point by point.
 */
import { spawn } from "node:child_process";
import { expect } from "vitest";
import { openService, type StonksService } from "../../src/query/service.js";
import type { Provenance } from "../../src/types.js";
import { CLI, ROOT } from "./helpers.js";

const PROVENANCE: Provenance = {
  host: "gpu-7",
  pid: 31337,
  command: "python train.py --lr 0.1",
  cwd: "/home/ada/lab",
  gitCommit: "0123abcd",
  gitDirty: true,
  sdkLanguage: "python",
  sdkVersion: "0.1.0",
};

const T0 = 1_765_000_000;

function series(count: number, value: (i: number) => number, step: (i: number) => number = (i) => i) {
  return {
    steps: Float64Array.from({ length: count }, (_, i) => step(i)),
    values: Float64Array.from({ length: count }, (_, i) => value(i)),
    timestamps: Float64Array.from({ length: count }, (_, i) => T0 + i / 10),
  };
}

/**
 * Projects, experiments (one left empty), finished and running runs with
 * edits, series of many chunks, out of order and with extreme values,
 * odd keys, workspaces and tokens (one revoked). Returns the run ids.
 */
export function populateVariedStore(service: StonksService): string[] {
  const ids: string[] = [];
  ids.push(
    service.writeRecordedRun({
      experiment: "vision",
      name: "resnet-baseline",
      config: { lr: 0.1, layers: [2, 2, 2], optimizer: { name: "sgd", momentum: 0.9 } },
      tags: ["baseline", "sweep"],
      group: "resnet",
      jobType: "train",
      notes: "first try",
      color: "#e4572e",
      createdAt: T0,
      provenance: PROVENANCE,
      metrics: {
        "train/loss": series(25_000, (i) => 1 / (1 + i)),
        "val/acc": series(
          300,
          (i) => i / 300,
          (i) => i * 100,
        ),
        "weird,key with spaces/ü": series(5, (i) => [Number.MIN_VALUE, Number.MAX_VALUE, -0, -1e308, 4][i]),
        ["__proto__"]: series(3, (i) => i),
      },
      status: "completed",
      lastActive: T0 + 3600,
    }),
  );
  ids.push(
    service.writeRecordedRun({
      experiment: "vision",
      name: "out-of-order",
      config: {},
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      color: null,
      createdAt: T0 + 10,
      provenance: { ...PROVENANCE, gitDirty: null, pid: null },
      metrics: {
        loss: series(
          1000,
          (i) => Math.sin(i),
          (i) => (i * 7919) % 1000,
        ),
      },
      status: "failed",
      lastActive: T0 + 20,
    }),
  );
  ids.push(
    service.writeRecordedRun({
      experiment: "speech",
      name: "still-running",
      config: { seed: 3 },
      tags: ["live"],
      group: null,
      jobType: "eval",
      notes: null,
      color: null,
      createdAt: T0 + 30,
      provenance: PROVENANCE,
      metrics: { wer: series(50, (i) => 1 - i / 100) },
      status: "running",
      lastActive: T0 + 40,
    }),
  );
  // A run in a project: the project, and the experiment's link to it, come along.
  const inProject = "run-in-project-0001";
  service.upsertRemoteRun(inProject, {
    experiment: "nlp",
    project: "research",
    name: "bert-small",
    config: { dropout: 0.1 },
    tags: [],
    group: null,
    jobType: null,
    notes: null,
    color: null,
    createdAt: T0 + 50,
    provenance: PROVENANCE,
    status: "interrupted",
    endedAt: T0 + 90,
    lastHeartbeat: T0 + 90,
  });
  const points = series(2_000, (i) => i * 0.5);
  service.appendRemotePoints(inProject, [
    { key: "loss", start: 0, steps: points.steps, values: points.values, times: points.timestamps },
  ]);
  ids.push(inProject);
  // Edits a person made in the dashboard.
  service.editRun(ids[1], { name: "renamed", tags: ["bad-seed"], notes: "diverged at 400", color: "#123456" });
  // An experiment left without runs.
  const doomed = service.writeRecordedRun({
    experiment: "empty-now",
    name: null,
    config: {},
    tags: [],
    group: null,
    jobType: null,
    notes: null,
    color: null,
    createdAt: T0 + 60,
    provenance: PROVENANCE,
    metrics: {},
    status: "completed",
    lastActive: T0 + 60,
  });
  service.deleteRuns([doomed]);
  const vision = service.getExperiment("vision");
  if (vision === null) throw new Error("no vision experiment");
  service.saveWorkspace(vision.id, "losses", { charts: [{ key: "train/loss", log: true }], smoothing: 0.6 });
  service.saveWorkspace(vision.id, "Ünïcode", { charts: [] });
  service.tokens().create("read", "dashboard");
  service.tokens().create("admin", null);
  service.tokens().create("write", "old-ci");
  service.tokens().revoke("old-ci");
  return ids;
}

/** Adds `runs` finished runs of `keys` × `points` points each to an experiment "bulk". */
export function populateBulk(service: StonksService, runs: number, keys: number, points: number): void {
  for (let r = 0; r < runs; r++) {
    const metrics: Record<string, ReturnType<typeof series>> = {};
    for (let k = 0; k < keys; k++) metrics[`metric/${k}`] = series(points, (i) => Math.cos(i + r * 31 + k));
    service.writeRecordedRun({
      experiment: "bulk",
      name: `bulk-${r}`,
      config: { r },
      tags: [],
      group: null,
      jobType: null,
      notes: null,
      color: null,
      createdAt: T0 + 1000 + r,
      provenance: PROVENANCE,
      metrics,
      status: "completed",
      lastActive: T0 + 2000 + r,
    });
  }
}

/** Opens, fills with populate, closes. */
export function withService<T>(target: string, use: (service: StonksService) => T): T {
  const service = openService(target, { create: true });
  try {
    return use(service);
  } finally {
    service.close();
  }
}

function bytes(array: Float64Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** Everything a store holds that `stonks migrate` copies, in a form to compare (points as raw bytes: -0 is not 0). */
export function snapshot(target: string): unknown {
  const service = openService(target, { readonly: true });
  try {
    const projects = service.listProjects().map(({ id, name, createdAt, experimentCount }) => ({
      id,
      name,
      createdAt,
      experimentCount,
    }));
    const experiments = service.listExperiments().map((experiment) => ({
      ...experiment,
      workspaces: service.listWorkspaces(experiment.id),
    }));
    const runs = service
      .listRuns()
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(({ revision: _revision, stale: _stale, ...run }) => {
        const state = service.runSyncState(run.id);
        const series = Object.entries(state?.series ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, count]) => {
            const points = service.readPointRange(run.id, key, 0, count);
            return {
              key,
              count,
              steps: bytes(points.steps).toString("base64"),
              values: bytes(points.values).toString("base64"),
              times: bytes(points.timestamps).toString("base64"),
            };
          });
        return { ...run, status: state?.status, series, summaries: service.getSummaries(run.id) };
      });
    const tokens = service.tokensWithHashes();
    return { projects, experiments, runs, tokens };
  } finally {
    service.close();
  }
}

/** The two stores hold the same projects, experiments, runs, points, workspaces and tokens. */
export function expectSameStores(from: string, to: string): void {
  const expected = snapshot(from);
  expect(snapshot(to)).toEqual(expected);
}

/** Numbers of the one-line summary `stonks migrate` prints. */
export function parseSummary(line: string): {
  experiments: number;
  runs: number;
  points: number;
  skippedPoints: number;
} {
  const match =
    /^copied (\d+) experiments, (\d+) runs(?: \(\d+ continued\))?, (\d+) points, .*; skipped \(already there\) \d+ experiments, \d+ runs, (\d+) points$/.exec(
      line.trim(),
    );
  if (match === null) throw new Error(`not a migrate summary: ${line}`);
  return {
    experiments: Number(match[1]),
    runs: Number(match[2]),
    points: Number(match[3]),
    skippedPoints: Number(match[4]),
  };
}

/**
 * Starts `stonks migrate FROM TO` and SIGKILLs it once TO holds at least
 * `atPoints` points; returns the points TO held then. Fails when the process
 * ends first (with what it said).
 */
export async function killMigrateMidway(from: string, to: string, atPoints: number): Promise<number> {
  const child = spawn(process.execPath, [CLI, "migrate", from, to], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  let ended: string | null = null;
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (code, signal) => {
      ended = `exited with ${code ?? signal}`;
      resolve(signal);
    }),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (ended !== null) throw new Error(`migrate ${ended} before it was killed: ${output}`);
    let points = 0;
    try {
      points = withService(to, (service) => service.counts().points);
    } catch {
      // TO is not made yet.
    }
    if (points >= atPoints) break;
    if (Date.now() > deadline) throw new Error(`migrate copied fewer than ${atPoints} points in 60 s: ${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return withService(to, (service) => service.counts().points);
}
