// Golden downsampled reads (tests/vectors/reads/downsample-reads.json): getSeries over the committed file
// tests/vectors/reads/downsample-fixture.sqlite must return exactly the points of each vector. The Python
// reader checks the same vectors (python/tests/test_query_downsample.py); neither needs the other runtime.
// The same reads on PostgreSQL, after copying the file's runs in, must return the same points.
// Regenerate `expect` from this read: STONKS_WRITE_VECTORS=1 npx vitest run tests/downsample-vectors.test.ts,
// then review the diff by hand.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyStore } from "../src/cli/migrate.js";
import { open, type StonksDatabase } from "../src/query/database.js";
import { openService } from "../src/query/service.js";
import type { DownsampledSeries } from "../src/types.js";
import { type Backend, backends } from "./support/backends.js";
import { ROOT, tempDir } from "./support/helpers.js";

const VECTORS = join(ROOT, "tests", "vectors", "reads", "downsample-reads.json");
const WRITE = process.env.STONKS_WRITE_VECTORS === "1";

interface Expected {
  steps: number[];
  values: number[];
  timestamps: number[];
  total_points: number;
  downsampled: boolean;
}

interface Read {
  why: string;
  run: string;
  key: string;
  max_points: number;
  min_step: number | null;
  max_step: number | null;
  expect?: Expected;
}

interface Vectors {
  description: string;
  file: string;
  reads: Read[];
}

const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as Vectors;

/**
 * The fixture on one backend. SQLite: a copy of the file, since opening a file migrates it to the
 * current schema and the committed one must stay as written. PostgreSQL: the file's runs copied in
 * through the service API (as `stonks migrate` copies them), so the rollups are PostgreSQL's own.
 */
function fixtureOn(backend: Backend): StonksDatabase {
  const copy = join(tempDir(), "fixture.db");
  copyFileSync(join(ROOT, "tests", "vectors", "reads", vectors.file), copy);
  if (backend.name === "sqlite") return open(copy);
  const target = backend.newTarget();
  const source = openService(copy);
  const destination = openService(target, { create: true });
  try {
    copyStore(source, destination);
  } finally {
    source.close();
    destination.close();
  }
  return open(target);
}

function asExpected(series: DownsampledSeries): Expected {
  return {
    steps: Array.from(series.steps),
    values: Array.from(series.values),
    timestamps: Array.from(series.timestamps),
    total_points: series.totalPoints,
    downsampled: series.downsampled,
  };
}

function read(db: StonksDatabase, vector: Read): Expected {
  const [series] = db.getSeries([{ runId: vector.run, key: vector.key }], {
    maxPoints: vector.max_points,
    minStep: vector.min_step ?? undefined,
    maxStep: vector.max_step ?? undefined,
  });
  return asExpected(series);
}

function writeVectors(db: StonksDatabase): void {
  const reads = vectors.reads.map((vector) => ` ${JSON.stringify({ ...vector, expect: read(db, vector) })}`);
  const head = JSON.stringify({ description: vectors.description, file: vectors.file });
  writeFileSync(VECTORS, `${head.slice(0, -1)},\n"reads": [\n${reads.join(",\n")}\n]}\n`);
}

describe.each(backends())("golden downsampled reads on $name", (backend) => {
  let db: StonksDatabase;

  beforeAll(async () => {
    await backend.start();
    db = fixtureOn(backend);
  });

  afterAll(async () => {
    // The vectors are written from the SQLite file's read, the one Python checks too.
    if (WRITE && backend.name === "sqlite") writeVectors(db);
    db?.close();
    await backend.stop();
  });

  it.each(vectors.reads.map((vector) => [`${vector.run} ${vector.key}: ${vector.why}`, vector] as const))(
    "%s",
    (_name, vector) => {
      if (WRITE) return;
      expect(vector.expect, "vector without expect: regenerate with STONKS_WRITE_VECTORS=1").toBeDefined();
      expect(read(db, vector)).toEqual(vector.expect);
    },
  );

  it.skipIf(WRITE)(
    "reads every rollup level, raw buckets and zoomed windows (the vectors cover what they claim)",
    () => {
      const downsampled = vectors.reads.filter((v) => v.expect?.downsampled).length;
      const whole = vectors.reads.filter((v) => v.expect && !v.expect.downsampled && v.expect.total_points > 0).length;
      const empty = vectors.reads.filter((v) => v.expect?.total_points === 0).length;
      expect(downsampled).toBeGreaterThanOrEqual(15);
      expect(whole).toBeGreaterThanOrEqual(3);
      expect(empty).toBeGreaterThanOrEqual(3);
    },
  );
});
