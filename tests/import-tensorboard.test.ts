// stonks import tensorboard: the event files tests/fixtures/interop/tensorboard/generate.py wrote with
// the real tensorboardX and torch.utils.tensorboard, read through the built CLI into a real stonks file.
// Expected values come from the generator's formulas.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeEvent } from "../src/interop/tensorboard/messages.js";
import { crc32c, maskedCrc32c, readRecords } from "../src/interop/tensorboard/records.js";
import { foreignRunId } from "../src/query/import-foreign.js";
import { openService } from "../src/query/service.js";
import { FIXTURES, stonks, tempDb, tempDir } from "./support/helpers.js";

const LOGDIR = join(FIXTURES, "interop", "tensorboard", "runs");
const T0 = 1_765_000_000;
const RUNS = ["adam", "sgd", "sweep/lr_0.01", "restarted"];
const STEPS = Array.from({ length: 10 }, (_, s) => s);
const EVEN = STEPS.filter((s) => s % 2 === 0);
const loss = (i: number, s: number) => 1 / (s + 1) + i;
const acc = (i: number, s: number) => i + s / 10;
const wall = (i: number, s: number) => T0 + 100 * i + s;

/** TF1 simple_value and the DT_FLOAT tensors are float32; sgd's eval/acc is a DT_DOUBLE tensor. */
function stored(run: string, tag: "train/loss" | "eval/acc", value: number): number {
  return run === "sgd" && tag === "eval/acc" ? value : Math.fround(value);
}

function eventFile(dir: string): string {
  const name = readdirSync(dir).find((n) => n.includes("tfevents"));
  if (name === undefined) throw new Error(`no event file in ${dir}`);
  return join(dir, name);
}

/** Byte offsets of the records of a TFRecord file. */
function recordOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += 16 + Number(bytes.readBigUInt64LE(at))) offsets.push(at);
  return offsets;
}

describe("stonks import tensorboard", () => {
  it("imports every run directory with its scalars, wall times, hparams and restarts; a second import adds nothing", async () => {
    const db = tempDb();
    const first = await stonks(["import", "tensorboard", LOGDIR, "--db", db]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe(
      `Imported 1 experiment, 4 runs, 60 points from tensorboard ${LOGDIR} into ${db}; skipped 0 runs already there and 0 points that cannot be stored.`,
    );
    const service = openService(db);
    try {
      expect(service.listExperiments().map((e) => e.name)).toEqual(["runs"]);
      for (const [i, name] of RUNS.entries()) {
        const id = foreignRunId("tensorboard", name);
        const run = service.runView(id);
        expect(run).toMatchObject({ name, status: "completed", tags: [], group: null });
        // The writers' clock started each run one second before its first point (see generate.py).
        expect(run?.createdAt).toBe(wall(i, 0) - 1);
        expect(run?.endedAt).toBe(wall(i, 9));
        expect(run?.provenance.sdkLanguage).toBe("tensorboard");
        expect(service.getMetricKeys(id).sort()).toEqual(["eval/acc", "train/loss"]);
        const lossSeries = service.getMetrics(id, "train/loss");
        expect(Array.from(lossSeries.steps)).toEqual(STEPS);
        expect(Array.from(lossSeries.values)).toEqual(STEPS.map((s) => stored(name, "train/loss", loss(i, s))));
        expect(Array.from(lossSeries.timestamps)).toEqual(STEPS.map((s) => wall(i, s)));
        const accSeries = service.getMetrics(id, "eval/acc");
        expect(Array.from(accSeries.steps)).toEqual(EVEN);
        expect(Array.from(accSeries.values)).toEqual(EVEN.map((s) => stored(name, "eval/acc", acc(i, s))));
        expect(Array.from(accSeries.timestamps)).toEqual(EVEN.map((s) => wall(i, s)));
      }
      expect(service.runView(foreignRunId("tensorboard", "adam"))?.config).toEqual({
        lr: 0.001,
        optimizer: "adam",
        layers: 3,
        dropout: true,
      });
      // torch.utils.tensorboard writes a boolean hparam as a number.
      expect(service.runView(foreignRunId("tensorboard", "sgd"))?.config).toEqual({
        lr: 0.1,
        optimizer: "sgd",
        layers: 2,
        dropout: 0,
      });
      expect(service.runView(foreignRunId("tensorboard", "sweep/lr_0.01"))?.config).toEqual({});
    } finally {
      service.close();
    }
    const second = await stonks(["import", "tensorboard", LOGDIR, "--db", db]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Imported 0 experiments, 0 runs, 0 points .* skipped 4 runs already there/);
    const after = openService(db);
    try {
      expect(after.counts()).toMatchObject({ runs: 4, points: 60 });
    } finally {
      after.close();
    }
  });

  it("--dry-run counts and writes nothing; --experiment renames", async () => {
    const db = tempDb();
    const dry = await stonks(["import", "tensorboard", LOGDIR, "--db", db, "--dry-run", "--experiment", "moved"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Would import 1 experiment, 4 runs, 60 points from tensorboard .* Nothing was written/);
    expect(existsSync(db)).toBe(false);
    await stonks(["import", "tensorboard", LOGDIR, "--db", db, "--experiment", "moved"]);
    const service = openService(db);
    try {
      expect(service.listExperiments().map((e) => e.name)).toEqual(["moved"]);
    } finally {
      service.close();
    }
  });

  it("a missing directory, or one without event files, is one line and exit 1", async () => {
    const missing = await stonks(["import", "tensorboard", join(tempDir(), "nope"), "--db", tempDb()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/is not a directory; pass the TensorBoard log directory/);
    const empty = tempDir();
    writeFileSync(join(empty, "notes.txt"), "no events here");
    const none = await stonks(["import", "tensorboard", empty, "--db", tempDb()]);
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toMatch(
      /No TensorBoard event files under .* \(files named events\.out\.tfevents\.\*\); pass the log directory\./,
    );
  });

  it("a record whose data fails its CRC is skipped with a warning; the rest of the file still comes across", async () => {
    const logdir = join(tempDir(), "broken");
    mkdirSync(join(logdir, "run"), { recursive: true });
    const source = eventFile(join(LOGDIR, "sweep", "lr_0.01"));
    const bytes = readFileSync(source);
    const offsets = recordOffsets(bytes);
    // The records are: file version, then one per logged scalar in order (loss 0, acc 0, loss 1, ...).
    const secondPoint = offsets[2] as number;
    bytes[secondPoint + 12 + 3] ^= 0xff;
    writeFileSync(join(logdir, "run", "events.out.tfevents.1.host"), bytes);
    const db = tempDb();
    const result = await stonks(["import", "tensorboard", logdir, "--db", db]);
    expect(result.code).toBe(0);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(new RegExp(`record at byte ${secondPoint} fails its CRC check; skipped it\\.$`)),
    ]);
    expect(result.stdout).toMatch(/Imported 1 experiment, 1 run, 14 points/);
    const service = openService(db);
    try {
      const accSeries = service.getMetrics(foreignRunId("tensorboard", "run"), "eval/acc");
      expect(Array.from(accSeries.steps)).toEqual([2, 4, 6, 8]);
    } finally {
      service.close();
    }
  });

  it("a length that fails its CRC ends that file with a warning; a record cut short at the end is left quietly", async () => {
    const source = eventFile(join(LOGDIR, "adam"));
    const bytes = readFileSync(source);
    const offsets = recordOffsets(bytes);
    const dir = tempDir();
    const badLength = Buffer.from(bytes);
    const at = offsets[5] as number;
    badLength[at] ^= 0x01;
    writeFileSync(join(dir, "bad-length"), badLength);
    const problems: { offset: number; kind: string }[] = [];
    const intact: Uint8Array[] = [];
    for await (const record of readRecords(join(dir, "bad-length"), (p) => problems.push(p))) intact.push(record);
    expect(problems).toEqual([{ offset: at, kind: "length-crc" }]);
    expect(intact).toHaveLength(5);
    writeFileSync(join(dir, "cut"), bytes.subarray(0, bytes.length - 3));
    const cut: Uint8Array[] = [];
    const cutProblems: unknown[] = [];
    for await (const record of readRecords(join(dir, "cut"), (p) => cutProblems.push(p))) cut.push(record);
    expect(cutProblems).toEqual([]);
    expect(cut).toHaveLength(offsets.length - 1);
    expect(decodeEvent(cut[0] as Uint8Array).fileVersion).toBe("brain.Event:2");
  });

  it("computes CRC32C and its TFRecord mask as TensorFlow does", () => {
    // The CRC32C check value (RFC 3720) and the masked CRC TFRecord stores for an empty length field.
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    const zeros = new Uint8Array(8);
    const crc = crc32c(zeros);
    expect(maskedCrc32c(zeros)).toBe((((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
  });

  it("copies of the fixture under a nested folder keep their relative names", async () => {
    const logdir = join(tempDir(), "lab");
    cpSync(join(LOGDIR, "sweep"), join(logdir, "deep", "er"), { recursive: true });
    const db = tempDb();
    const result = await stonks(["import", "tensorboard", logdir, "--db", db]);
    expect(result.code).toBe(0);
    const service = openService(db);
    try {
      expect(service.listExperiments().map((e) => e.name)).toEqual(["lab"]);
      expect(service.runView(foreignRunId("tensorboard", "deep/er/lr_0.01"))?.name).toBe("deep/er/lr_0.01");
    } finally {
      service.close();
    }
  });

  it("reads TF2 tensor scalars as TensorFlow's own writer stores them: tensor_content, plugin metadata on the first value only", async () => {
    // TensorFlow's C++ summary writer (tf.summary.scalar in TF2) is not installed here; these records
    // follow its layout: DT_FLOAT and DT_DOUBLE tensors with the value in tensor_content.
    const root = protobuf.Root.fromJSON({
      nested: {
        Event: {
          fields: {
            wallTime: { type: "double", id: 1 },
            step: { type: "int64", id: 2 },
            summary: { type: "Summary", id: 5 },
          },
        },
        Summary: { fields: { value: { rule: "repeated", type: "Value", id: 1 } } },
        Value: {
          fields: {
            tag: { type: "string", id: 1 },
            tensor: { type: "Tensor", id: 8 },
            metadata: { type: "Metadata", id: 9 },
          },
        },
        Metadata: { fields: { pluginData: { type: "PluginData", id: 1 } } },
        PluginData: { fields: { pluginName: { type: "string", id: 1 } } },
        Tensor: {
          fields: {
            dtype: { type: "int32", id: 1 },
            tensorShape: { type: "Shape", id: 2 },
            tensorContent: { type: "bytes", id: 4 },
          },
        },
        Shape: { fields: {} },
      },
    });
    const Event = root.lookupType("Event");
    const frame = (data: Uint8Array): Buffer => {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(data.length));
      const crcs = Buffer.alloc(8);
      crcs.writeUInt32LE(maskedCrc32c(length), 0);
      crcs.writeUInt32LE(maskedCrc32c(data), 4);
      return Buffer.concat([length, crcs.subarray(0, 4), data, crcs.subarray(4)]);
    };
    const records: Buffer[] = [];
    for (let step = 0; step < 3; step++) {
      const float = Buffer.alloc(4);
      float.writeFloatLE(0.5 + step);
      const double = Buffer.alloc(8);
      double.writeDoubleLE(0.1 * step);
      const metadata = step === 0 ? { pluginData: { pluginName: "scalars" } } : undefined;
      const event = Event.create({
        wallTime: T0 + step,
        step,
        summary: {
          value: [
            { tag: "f32", tensor: { dtype: 1, tensorShape: {}, tensorContent: float }, metadata },
            { tag: "f64", tensor: { dtype: 2, tensorShape: {}, tensorContent: double }, metadata },
            { tag: "not-a-scalar", tensor: { dtype: 1, tensorShape: {}, tensorContent: float } },
          ],
        },
      });
      records.push(frame(Event.encode(event).finish()));
    }
    const logdir = tempDir();
    writeFileSync(join(logdir, "events.out.tfevents.1.host.v2"), Buffer.concat(records));
    const db = tempDb();
    const result = await stonks(["import", "tensorboard", logdir, "--db", db]);
    expect(result.code).toBe(0);
    const service = openService(db);
    try {
      const id = foreignRunId("tensorboard", ".");
      expect(service.getMetricKeys(id).sort()).toEqual(["f32", "f64"]);
      expect(Array.from(service.getMetrics(id, "f32").values)).toEqual([0.5, 1.5, 2.5]);
      expect(Array.from(service.getMetrics(id, "f64").values)).toEqual([0, 0.1, 0.2]);
      expect(Array.from(service.getMetrics(id, "f64").timestamps)).toEqual([T0, T0 + 1, T0 + 2]);
    } finally {
      service.close();
    }
  });
});
