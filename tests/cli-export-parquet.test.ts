// stonks export -f parquet: runs.parquet and points.parquet of a real stonks file, read back with
// hyparquet (an independent reader of the format) value for value against what the store holds.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openService } from "../src/query/service.js";
import type { RemoteRunMeta } from "../src/store/remote.js";
import { UNKNOWN_PROVENANCE } from "../src/types.js";
import { backends } from "./support/backends.js";
import { stonks, tempDir } from "./support/helpers.js";

const T0 = 1_765_000_000.123456;
const BIG = 100_050;

function meta(overrides: Partial<RemoteRunMeta>): RemoteRunMeta {
  return {
    experiment: "vision",
    project: null,
    name: null,
    config: {},
    tags: [],
    group: null,
    jobType: null,
    notes: null,
    color: null,
    createdAt: T0,
    provenance: { ...UNKNOWN_PROVENANCE },
    status: "running",
    endedAt: null,
    lastHeartbeat: null,
    ...overrides,
  };
}

/** Two runs in "vision" (one with every field set, one with none and 100,050 points), one elsewhere. */
function seed(path: string): void {
  const db = openService(path, { create: true });
  try {
    db.upsertRemoteRun("11111111-1111-4111-8111-111111111111", {
      ...meta({
        project: "lab",
        name: 'rés, "quoted"\nnet',
        config: { lr: 0.1 + 0.2, layers: [64, 32], nested: { on: true, none: null }, text: "é🙂" },
        tags: ["baseline", "gpu, fast"],
        group: "sweep-1",
        jobType: "train",
        notes: "line 1\nline 2",
        color: "#ff8800",
        status: "completed",
        endedAt: T0 + 3600.5,
        lastHeartbeat: T0 + 3600.25,
      }),
      provenance: {
        host: "gpu-7",
        pid: 4_194_303,
        command: "python train.py --lr 0.3",
        cwd: "/home/ada/x",
        gitCommit: "0123456789abcdef0123456789abcdef01234567",
        gitDirty: false,
        sdkLanguage: "python",
        sdkVersion: "0.1.0",
      },
    });
    db.appendRemotePoints("11111111-1111-4111-8111-111111111111", [
      {
        key: "train/loss",
        start: 0,
        steps: Float64Array.from([0, 1, 2.5, 2 ** 53]),
        values: Float64Array.from([1e-300, -0.1, 1.7976931348623157e308, -5e-324]),
        times: Float64Array.from([T0, T0 + 0.000001, T0 + 1.5, T0 + 2]),
      },
      { key: "ключ/🙂", start: 0, steps: Float64Array.of(7), values: Float64Array.of(0.3), times: Float64Array.of(T0) },
    ]);
    const steps = Float64Array.from({ length: BIG }, (_, i) => i);
    db.upsertRemoteRun("22222222-2222-4222-8222-222222222222", meta({ createdAt: T0 + 10 }));
    db.appendRemotePoints("22222222-2222-4222-8222-222222222222", [
      {
        key: "x",
        start: 0,
        steps,
        values: steps.map((i) => Math.sin(i) * 1e6),
        times: steps.map((i) => T0 + i / 1000),
      },
    ]);
    db.upsertRemoteRun("33333333-3333-4333-8333-333333333333", meta({ experiment: "other" }));
  } finally {
    db.close();
  }
}

async function read(path: string) {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  return { metadata, rows: await parquetReadObjects({ file, compressors }) };
}

describe.each(backends())("stonks export -f parquet on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("stonks export -f parquet", () => {
    it("writes every run of an experiment and every point, and each value reads back exactly", async () => {
      const db = backend.newTarget();
      seed(db);
      const out = join(tempDir(), "new", "folder");
      const result = await stonks(["export", "vision", "-f", "parquet", "-o", out, "--db", db]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim()).toBe(
        `Exported 2 runs and ${(BIG + 5).toLocaleString("en-US")} points to ${join(out, "runs.parquet")} and ${join(out, "points.parquet")}`,
      );
      const service = openService(db);
      try {
        const runs = await read(join(out, "runs.parquet"));
        expect(runs.rows).toHaveLength(2);
        const [full, bare] = runs.rows;
        const view = service.runView("11111111-1111-4111-8111-111111111111");
        expect(full).toEqual({
          id: "11111111-1111-4111-8111-111111111111",
          experiment: "vision",
          project: "lab",
          name: view?.name,
          status: "completed",
          created_at: T0,
          ended_at: T0 + 3600.5,
          last_heartbeat: T0 + 3600.25,
          config: JSON.stringify(view?.config),
          group: "sweep-1",
          job_type: "train",
          notes: "line 1\nline 2",
          color: "#ff8800",
          host: "gpu-7",
          pid: 4_194_303n,
          command: "python train.py --lr 0.3",
          cwd: "/home/ada/x",
          git_commit: "0123456789abcdef0123456789abcdef01234567",
          git_dirty: false,
          sdk_language: "python",
          sdk_version: "0.1.0",
          tags: ["baseline", "gpu, fast"],
        });
        expect(JSON.parse(full?.config)).toEqual({
          lr: 0.1 + 0.2,
          layers: [64, 32],
          nested: { on: true, none: null },
          text: "é🙂",
        });
        expect(bare).toMatchObject({
          id: "22222222-2222-4222-8222-222222222222",
          // The project belongs to the experiment, which the first run put in "lab".
          project: "lab",
          name: null,
          status: "running",
          created_at: T0 + 10,
          ended_at: null,
          config: "{}",
          tags: [],
          pid: null,
          git_dirty: null,
        });

        const points = await read(join(out, "points.parquet"));
        // More points than one row group holds: the file has two.
        expect(points.metadata.row_groups.length).toBe(2);
        expect(points.rows).toHaveLength(BIG + 5);
        const expected: { run_id: string; key: string; step: number; value: number; time: number }[] = [];
        for (const runId of ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"]) {
          for (const key of service.getMetricKeys(runId)) {
            const series = service.getMetrics(runId, key);
            for (let i = 0; i < series.values.length; i++) {
              expected.push({
                run_id: runId,
                key,
                step: series.steps[i] as number,
                value: series.values[i] as number,
                time: series.timestamps[i] as number,
              });
            }
          }
        }
        expect(points.rows).toEqual(expected);
        const loss = points.rows.filter((p) => p.key === "train/loss");
        expect(loss.map((p) => p.value)).toEqual([1e-300, -0.1, 1.7976931348623157e308, -5e-324]);
        expect(loss.map((p) => p.step)).toEqual([0, 1, 2.5, 2 ** 53]);
        expect(loss.map((p) => p.time)).toEqual([T0, T0 + 0.000001, T0 + 1.5, T0 + 2]);
      } finally {
        service.close();
      }
    });

    it("a run id exports that run alone", async () => {
      const db = backend.newTarget();
      seed(db);
      const out = tempDir();
      const result = await stonks(["export", "1111", "-f", "parquet", "-o", out, "--db", db]);
      expect(result.code).toBe(0);
      expect((await read(join(out, "runs.parquet"))).rows.map((r) => r.id)).toEqual([
        "11111111-1111-4111-8111-111111111111",
      ]);
      expect((await read(join(out, "points.parquet"))).rows).toHaveLength(5);
    });

    it("without -o, with a folder that cannot be made, or with an unknown target: one line, exit 1, nothing written", async () => {
      const db = backend.newTarget();
      seed(db);
      const noFolder = await stonks(["export", "vision", "-f", "parquet", "--db", db]);
      expect(noFolder.code).toBe(1);
      expect(noFolder.stderr.trim().split("\n")).toHaveLength(1);
      expect(noFolder.stderr).toMatch(/name a folder with -o DIR/);
      const unknown = await stonks(["export", "nosuch", "-f", "parquet", "-o", join(tempDir(), "o"), "--db", db]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/No run or experiment "nosuch"/);
      const blocked = join(tempDir(), "file");
      await stonks(["export", "1111", "-o", blocked, "--db", db]);
      const underFile = await stonks(["export", "vision", "-f", "parquet", "-o", join(blocked, "sub"), "--db", db]);
      expect(underFile.code).toBe(1);
      expect(underFile.stderr.trim().split("\n")).toHaveLength(1);
      expect(underFile.stderr).toMatch(/Cannot write .*Choose another folder with -o\./);
      expect(existsSync(join(blocked, "sub"))).toBe(false);
      const badFormat = await stonks(["export", "1111", "-f", "xml", "--db", db]);
      expect(badFormat.stderr).toMatch(/--format must be csv, json or parquet; got "xml"/);
    });
  });
});
