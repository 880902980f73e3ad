// The change feed against a real database (a SQLite file, a PostgreSQL
// database) written by the real writer functions on a second connection:
// every kind of delta, resync when the cursor falls too far behind, replay
// from an older cursor, subscribers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ChangeBatch,
  type ChangeDelta,
  ChangeFeed,
  type OpenChangeFeedOptions,
  type PointSpan,
} from "../src/query/change-feed.js";
import type { ChangeSource } from "../src/query/change-source.js";
import { RunTables } from "../src/query/run-list.js";
import { deleteRuns } from "../src/store/admin.js";
import { type Db, openDatabase, runImmediate } from "../src/store/connection.js";
import {
  appendPoints,
  ensureSeries,
  finishRun,
  insertRun,
  type StartedRun,
  setRunTagsOrNotes,
  touchHeartbeat,
} from "../src/store/writes.js";
import { backends } from "./support/backends.js";
import { PROVENANCE } from "./support/server-support.js";

const open: { close(): void }[] = [];

afterEach(() => {
  for (const thing of open.splice(0).reverse()) thing.close();
});

/** A writer on its own connection, as a training process would be. */
function writer(path: string) {
  const db = openDatabase(path);
  open.push(db);
  return {
    db,
    startRun(experiment: string, name: string, now = Date.now() / 1000): StartedRun {
      return runImmediate(db, () =>
        insertRun(db, {
          experimentName: experiment,
          name,
          config: { lr: 0.1 },
          tags: [],
          group: null,
          jobType: null,
          notes: null,
          now,
          provenance: PROVENANCE,
        }),
      );
    },
    log(run: StartedRun, key: string, from: number, count: number): void {
      const steps = Float64Array.from({ length: count }, (_, i) => from + i);
      runImmediate(db, () =>
        appendPoints(
          db,
          ensureSeries(db, run.seq, key),
          steps,
          steps.map((s) => s * 10),
          steps.map((s) => 1_700_000_000 + s),
        ),
      );
    },
    write<T>(fn: (db: Db) => T): T {
      return runImmediate(db, () => fn(db));
    },
  };
}

function feedOn(path: string, options: OpenChangeFeedOptions = {}): ChangeFeed {
  const feed = ChangeFeed.open(path, options);
  open.push(feed);
  return feed;
}

function only<K extends ChangeDelta["kind"]>(deltas: ChangeDelta[], kind: K): Extract<ChangeDelta, { kind: K }> {
  const found = deltas.filter((d) => d.kind === kind);
  expect(found, `one ${kind} delta in ${JSON.stringify(deltas.map((d) => d.kind))}`).toHaveLength(1);
  return found[0] as Extract<ChangeDelta, { kind: K }>;
}

const kinds = (deltas: ChangeDelta[]) => deltas.map((d) => d.kind);

function spanSummary(span: PointSpan) {
  return {
    key: span.key,
    startIndex: span.startIndex,
    newFromIndex: span.newFromIndex,
    endIndex: span.endIndex,
    steps: span.points === undefined ? undefined : Array.from(span.points.steps),
  };
}

describe.each(backends())("the change feed on $name", (backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe("change feed", () => {
    it("starts at what is committed and reports nothing until something changes", () => {
      const path = backend.newTarget();
      const w = writer(path);
      w.startRun("exp", "before");
      const feed = feedOn(path);
      expect(feed.cursor).toEqual({ chunkId: 0, revision: 1 });
      expect(feed.pull()).toEqual([]);
    });

    it("reports created and changed runs as run views, and experiments that gained runs", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const feed = feedOn(path);

      const run = w.startRun("exp", "first");
      const created = feed.pull();
      expect(kinds(created)).toEqual(["runsChanged", "experimentsChanged"]);
      expect(only(created, "runsChanged").runs).toMatchObject([
        {
          id: run.id,
          seq: run.seq,
          experimentId: run.experimentId,
          name: "first",
          status: "running",
          config: { lr: 0.1 },
        },
      ]);
      expect(only(created, "experimentsChanged").withNewRuns).toEqual([run.experimentId]);

      w.write((db) => setRunTagsOrNotes(db, run.seq, { field: "tags", tags: ["best"] }));
      const edited = feed.pull();
      expect(kinds(edited)).toEqual(["runsChanged"]);
      expect(only(edited, "runsChanged").runs).toMatchObject([{ id: run.id, tags: ["best"] }]);
      expect(feed.cursor.revision).toBe(2);
    });

    it("reports deleted runs by id and experiment", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const gone = w.startRun("exp", "gone");
      const kept = w.startRun("exp", "kept");
      const feed = feedOn(path);

      deleteRuns(w.db, [gone.id]);
      const deltas = feed.pull();
      expect(kinds(deltas)).toEqual(["runsDeleted", "experimentsChanged"]);
      expect(only(deltas, "runsDeleted").runs).toEqual([
        { runSeq: gone.seq, runId: gone.id, experimentId: gone.experimentId },
      ]);
      expect(only(deltas, "experimentsChanged").withNewRuns).toEqual([]);
      // Deleted once, reported once; the other run stays known.
      expect(feed.pull()).toEqual([]);
      deleteRuns(w.db, [kept.id]);
      expect(only(feed.pull(), "runsDeleted").runs.map((r) => r.runId)).toEqual([kept.id]);
    });

    it("reports new points once: only those past the cursor, though the tail chunk is rewritten", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const run = w.startRun("exp", "r");
      const feed = feedOn(path, { readPoints: true });

      w.log(run, "loss", 0, 5);
      const first = only(feed.pull(), "pointsAdded").spans;
      expect(first.map(spanSummary)).toEqual([
        { key: "loss", startIndex: 0, newFromIndex: 0, endIndex: 5, steps: [0, 1, 2, 3, 4] },
      ]);
      expect(first[0]).toMatchObject({ runId: run.id, runSeq: run.seq, experimentId: run.experimentId });

      w.log(run, "loss", 5, 3);
      const second = only(feed.pull(), "pointsAdded").spans;
      // The chunk holds all 8 points; the feed says which 3 are new.
      expect(second.map(spanSummary)).toEqual([
        { key: "loss", startIndex: 0, newFromIndex: 5, endIndex: 8, steps: [0, 1, 2, 3, 4, 5, 6, 7] },
      ]);
      expect(feed.pull()).toEqual([]);
    });

    it("without readPoints, says which series grew and which chunks changed, without their points", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const run = w.startRun("exp", "r");
      w.log(run, "loss", 0, 2);
      const feed = feedOn(path);
      w.log(run, "loss", 2, 1030);
      w.log(run, "acc", 0, 1);
      const spans = only(feed.pull(), "pointsAdded").spans;
      expect(spans.map(spanSummary).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: "acc", startIndex: 0, newFromIndex: 0, endIndex: 1, steps: undefined },
        { key: "loss", startIndex: 0, newFromIndex: 0, endIndex: 1032, steps: undefined },
      ]);
    });

    it("reports moved heartbeats, and liveness flips by the clock without any write", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const now = Date.now() / 1000;
      const run = w.startRun("exp", "alive", now);
      const feed = feedOn(path, { staleAfterSeconds: 5 });
      expect(feed.checkLiveness()).toEqual([]);
      expect(feed.runningRuns()).toMatchObject([{ id: run.id, stale: false }]);

      // The process died half a minute ago: its last heartbeat is old.
      w.write((db) => touchHeartbeat(db, run.seq, now - 30));
      const beats = only(feed.pull(), "heartbeats").beats;
      expect(beats).toEqual([
        { runSeq: run.seq, runId: run.id, experimentId: run.experimentId, lastHeartbeat: now - 30 },
      ]);
      expect(feed.checkLiveness()).toMatchObject([{ id: run.id, stale: true, lastHeartbeat: now - 30 }]);
      expect(feed.checkLiveness()).toEqual([]);

      w.write((db) => touchHeartbeat(db, run.seq, Date.now() / 1000));
      feed.pull();
      expect(feed.checkLiveness()).toMatchObject([{ id: run.id, stale: false, status: "running" }]);

      // A finished run is no longer watched.
      w.write((db) => finishRun(db, run.seq, "completed", Date.now() / 1000 - 60));
      expect(only(feed.pull(), "runsChanged").runs).toMatchObject([{ id: run.id, status: "completed" }]);
      expect(feed.runningRuns()).toEqual([]);
    });

    it("says resync instead of a flood of points, then goes on with exact points", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const run = w.startRun("exp", "flood");
      w.log(run, "loss", 0, 1);
      const feed = feedOn(path, { readPoints: true, maxPointsPerDelta: 100 });

      w.log(run, "loss", 1, 500);
      const deltas = feed.pull();
      expect(kinds(deltas)).toEqual(["resync"]);
      expect(only(deltas, "resync").reason).toBe("too_many_points");

      w.log(run, "loss", 501, 1);
      const spans = only(feed.pull(), "pointsAdded").spans;
      expect(spans.map((s) => [s.newFromIndex, s.endIndex])).toEqual([[501, 502]]);
    });

    it("says resync instead of a flood of changed runs, still telling the experiment list", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const feed = feedOn(path, { maxRunsPerDelta: 2 });
      const runs = ["a", "b", "c"].map((name) => w.startRun("many", name));
      const deltas = feed.pull();
      expect(kinds(deltas)).toEqual(["experimentsChanged", "resync"]);
      expect(only(deltas, "resync").reason).toBe("too_many_runs");
      expect(only(deltas, "experimentsChanged").withNewRuns).toEqual([runs[0].experimentId]);
      // The runs are known now: deleting one is reported.
      deleteRuns(w.db, [runs[1].id]);
      expect(only(feed.pull(), "runsDeleted").runs.map((r) => r.runId)).toEqual([runs[1].id]);
    });

    it("replays from an older cursor: changed runs and whole chunks, or resync past the limits", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const run = w.startRun("exp", "r");
      w.log(run, "loss", 0, 3);
      const feed = feedOn(path, { readPoints: true, maxPointsPerDelta: 1000 });
      const old = feed.cursor;
      w.log(run, "loss", 3, 2);
      w.write((db) => setRunTagsOrNotes(db, run.seq, { field: "notes", notes: "n" }));
      feed.pull();

      const replayed = feed.replay(old);
      expect(kinds(replayed)).toEqual(["runsChanged", "pointsAdded"]);
      expect(only(replayed, "runsChanged").runs).toMatchObject([{ id: run.id, notes: "n" }]);
      expect(only(replayed, "pointsAdded").spans.map(spanSummary)).toEqual([
        { key: "loss", startIndex: 0, newFromIndex: 0, endIndex: 5, steps: [0, 1, 2, 3, 4] },
      ]);
      // Replay does not move the cursor.
      expect(feed.pull()).toEqual([]);
      expect(kinds(feed.replay({ chunkId: 0, revision: 0 }))).toEqual(["runsChanged", "pointsAdded"]);

      w.log(run, "loss", 5, 2000);
      feed.pull();
      expect(kinds(feed.replay(old))).toEqual(["runsChanged", "resync"]);
    });

    it("tells subscribers what another connection committed, found by the change source (file polling, LISTEN)", async () => {
      const path = backend.newTarget();
      const w = writer(path);
      const feed = feedOn(path, { pollIntervalMs: 20 });
      const batches: ChangeBatch[] = [];
      const unsubscribe = feed.subscribe((batch) => batches.push(batch));
      const from = feed.cursor;
      const run = w.startRun("exp", "polled");
      const deadline = Date.now() + 5000;
      while (batches.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      unsubscribe();
      expect(batches).toHaveLength(1);
      expect(batches[0].from).toEqual(from);
      expect(batches[0].to).toEqual(feed.cursor);
      expect(only(batches[0].deltas, "runsChanged").runs.map((r) => r.id)).toEqual([run.id]);
    });

    it("publishes as soon as a pushing source says something was committed", () => {
      const path = backend.newTarget();
      const w = writer(path);
      // A source that is told of commits (as LISTEN/NOTIFY or remote ingest would be) instead of polling.
      const listeners = new Set<() => void>();
      const pushing: ChangeSource = {
        watch(changed) {
          listeners.add(changed);
          return () => listeners.delete(changed);
        },
      };
      const db = openDatabase(path, { create: false });
      open.push(db);
      const feed = new ChangeFeed(db, { source: pushing });
      open.push(feed);
      const batches: ChangeBatch[] = [];
      const unsubscribe = feed.subscribe((batch) => batches.push(batch));
      const run = w.startRun("exp", "pushed");
      for (const changed of listeners) changed();
      expect(batches.map((b) => kinds(b.deltas))).toEqual([["runsChanged", "experimentsChanged"]]);
      expect(only(batches[0].deltas, "runsChanged").runs[0].id).toBe(run.id);
      unsubscribe();
      expect(listeners.size).toBe(0);
    });
  });

  describe("run tables over the change feed", () => {
    it("apply edits, new points, heartbeats, new runs and deletions between queries", () => {
      const path = backend.newTarget();
      const w = writer(path);
      const a = w.startRun("exp", "a", 1_700_000_000);
      const other = w.startRun("other", "o", 1_700_000_000);
      const db = openDatabase(path, { create: false });
      open.push(db);
      const tables = new RunTables(db);
      const page = () => tables.query(a.experimentId, {}).runs;
      expect(page().map((r) => r.name)).toEqual(["a"]);

      w.log(a, "loss", 0, 3);
      w.write((db) => setRunTagsOrNotes(db, a.seq, { field: "tags", tags: ["t"] }));
      w.write((db) => touchHeartbeat(db, a.seq, 1_700_000_100));
      const b = w.startRun("exp", "b", 1_700_000_050);
      w.log(other, "loss", 0, 1);
      expect(page()).toMatchObject([
        { name: "b", summary: {} },
        { name: "a", tags: ["t"], lastHeartbeat: 1_700_000_100, summary: { loss: { count: 3, last: 20 } } },
      ]);

      deleteRuns(w.db, [b.id]);
      expect(page().map((r) => r.name)).toEqual(["a"]);
      expect(tables.query(other.experimentId, {}).runs).toMatchObject([{ name: "o", summary: { loss: { count: 1 } } }]);
    });
  });
});
