/**
 * One change feed: everything committed to a database since a cursor, as
 * typed deltas that consumers apply (the run tables) or render (the live
 * events), instead of each keeping its own cursor over revisions, chunk ids,
 * heartbeats and deletions.
 *
 * The cursor is the highest chunk id and run revision already read. A pull
 * reads, in one snapshot, run rows with a higher revision and chunks with a
 * higher id. A chunk rewritten with appended points also holds points read
 * before, so the feed keeps every series' point count at its cursor (loaded
 * once, then advanced by each pull) and reports only the points past it.
 * Deletions and heartbeats move no counter: a run count that does not add up
 * reveals deletions, and the heartbeats of running runs are read on every
 * pull. When more changed than a consumer should take in one step, the feed
 * says `resync` (start again from a fresh read) instead.
 *
 * Pulling is the consumer's choice (the run tables pull before each query);
 * subscribers are told instead, whenever the feed's ChangeSource says that
 * something may have been committed, and whenever a running run turns stale
 * or alive by the clock alone.
 */
import {
  type ChangedChunk,
  type ChangedSeries,
  changedSeries,
  changeHead,
  chunksInRange,
  heartbeatsOf,
  pointsInChunkRange,
  runIdentities,
  runningRuns,
  runRowsBySeq,
  runRowsInRevisionRange,
  seriesCounts,
} from "../store/changes.js";
import { decodeFloats } from "../store/codec.js";
import { type Db, openDatabase, runRead } from "../store/connection.js";
import { DEFAULT_STALE_AFTER_S, isStale, type RunRow } from "../store/reads.js";
import { logger } from "../util/logger.js";
import { type ChangeSource, changeSourceFor } from "./change-source.js";
import type { RunView } from "./run-filter.js";
import { toRunViews } from "./run-view.js";

/** Position in the change history: highest chunk id and run revision already read. */
export interface FeedCursor {
  chunkId: number;
  revision: number;
}

/** A run whose row is gone. */
export interface DeletedRun {
  runSeq: number;
  runId: string;
  experimentId: string;
}

/** A running run's heartbeat moved (its revision did not). */
export interface Heartbeat {
  runSeq: number;
  runId: string;
  experimentId: string;
  lastHeartbeat: number;
}

/** The points of a span, from its startIndex on. */
export interface SpanPoints {
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
}

/**
 * New points of one series: the changed chunks, of which [newFromIndex,
 * endIndex) had not been read before. Only a feed that reads points keeps
 * every series' point count to know that; without, newFromIndex is startIndex.
 */
export interface PointSpan {
  seriesId: number;
  runSeq: number;
  runId: string;
  experimentId: string;
  key: string;
  /** Series index of the first point of the changed chunks. */
  startIndex: number;
  /** Series index past the last point. */
  endIndex: number;
  /** First index past the feed's previous cursor (startIndex when replaying whole chunks). */
  newFromIndex: number;
  /** The run's heartbeat when the chunks were read. */
  lastHeartbeat: number | null;
  /** The points from startIndex on; only from a feed that reads points. */
  points?: SpanPoints;
}

export type ResyncReason = "too_many_runs" | "too_many_points" | "runs_reappeared";

/** One kind of change, in the order a pull reports them. */
export type ChangeDelta =
  /** Heartbeats of running runs that moved. */
  | { kind: "heartbeats"; beats: Heartbeat[] }
  /** Runs created or changed (their revision moved), as of now. */
  | { kind: "runsChanged"; runs: RunView[] }
  | { kind: "runsDeleted"; runs: DeletedRun[] }
  /** Runs were created or deleted: experiments' run counts moved; `withNewRuns` also lists experiments that may be new. */
  | { kind: "experimentsChanged"; withNewRuns: string[] }
  | { kind: "pointsAdded"; spans: PointSpan[] }
  /** Running runs that turned stale, or alive again, with no revision moving. */
  | { kind: "livenessChanged"; runs: RunView[] }
  /** Too much changed to say piece by piece: read everything again. */
  | { kind: "resync"; reason: ResyncReason };

/** What subscribers are told: the deltas that lead from one cursor to the next. */
export interface ChangeBatch {
  deltas: ChangeDelta[];
  from: FeedCursor;
  to: FeedCursor;
}

export type ChangeSubscriber = (batch: ChangeBatch) => void;

export interface ChangeFeedOptions {
  /** Seconds without a heartbeat after which a running run is stale (default 60). */
  staleAfterSeconds?: number;
  /** More new points than this in one pull (or one replay) become a `resync` (default 200,000). */
  maxPointsPerDelta?: number;
  /** More changed runs than this in one pull (or one replay) become a `resync` (default 2,000). */
  maxRunsPerDelta?: number;
  /** Whether point spans carry their points (default false: only which series grew, and by which indexes). */
  readPoints?: boolean;
  /** Where subscribers' changes come from; without one, only publish() tells them. */
  source?: ChangeSource;
  /** How often subscribers' running runs are checked for turning stale (default 150 ms). */
  livenessCheckMs?: number;
}

export interface OpenChangeFeedOptions extends Omit<ChangeFeedOptions, "source"> {
  /** How often a SQLite file is asked whether another connection committed (default 150 ms). */
  pollIntervalMs?: number;
}

export class ChangeFeed {
  private readonly staleAfterSeconds: number;
  private readonly maxPointsPerDelta: number;
  private readonly maxRunsPerDelta: number;
  private readonly readPoints: boolean;
  private readonly livenessCheckMs: number;
  private head: FeedCursor = { chunkId: 0, revision: 0 };
  /** Every run at the cursor, by seq, to notice deletions. */
  private knownRuns = new Map<number, { id: string; experimentId: string }>();
  /** Points of each series (by id) at the cursor; kept only by a feed that reads points. */
  private seriesEnds: Map<number, number> | null = null;
  /** Running runs by seq: when they last showed life, and whether they were last reported stale. */
  private running = new Map<number, { lastAlive: number; stale: boolean }>();
  private readonly subscribers = new Set<ChangeSubscriber>();
  private stopFollowing: (() => void) | null = null;
  private ownedConnection: Db | null = null;
  /** Whether the last read of changes failed (logged once per outage). */
  private failing = false;

  /** A feed over a connection the caller keeps open, starting at what is committed now. */
  constructor(
    private readonly db: Db,
    private readonly options: ChangeFeedOptions = {},
  ) {
    this.staleAfterSeconds = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
    this.maxPointsPerDelta = options.maxPointsPerDelta ?? 200_000;
    this.maxRunsPerDelta = options.maxRunsPerDelta ?? 2_000;
    this.readPoints = options.readPoints ?? false;
    this.livenessCheckMs = options.livenessCheckMs ?? 150;
    runRead(db, () => {
      const head = changeHead(db);
      this.head = { chunkId: head.chunkId, revision: head.revision };
      this.knownRuns = new Map(runIdentities(db).map(([seq, id, experimentId]) => [seq, { id, experimentId }]));
      this.loadSeriesEnds();
      const now = Date.now() / 1000;
      this.running = new Map(
        runningRuns(db).map(([seq, lastAlive]) => [
          seq,
          { lastAlive, stale: isStale(lastAlive, now, this.staleAfterSeconds) },
        ]),
      );
    });
  }

  /** A feed on its own connection, told of other connections' commits by polling (SQLite) or by LISTEN (PostgreSQL). */
  static open(dbPath: string, options: OpenChangeFeedOptions = {}): ChangeFeed {
    const db = openDatabase(dbPath, { create: false });
    try {
      const feed = new ChangeFeed(db, {
        ...options,
        source: changeSourceFor(dbPath, db, options.pollIntervalMs ?? 150),
      });
      feed.ownedConnection = db;
      return feed;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** What the feed has read up to. */
  get cursor(): FeedCursor {
    return this.head;
  }

  /** Reads what was committed since the cursor, in one snapshot, and moves the cursor past it. */
  pull(): ChangeDelta[] {
    return runRead(this.db, () => this.readChanges());
  }

  /**
   * What a consumer at the older cursor `from` missed up to this feed's
   * cursor, without moving it: changed runs and whole changed chunks (points
   * before the consumer's cursor come again). Deletions cannot be replayed.
   */
  replay(from: FeedCursor): ChangeDelta[] {
    const head = this.head;
    return runRead(this.db, () => {
      const deltas: ChangeDelta[] = [];
      if (head.revision > from.revision) {
        const rows = runRowsInRevisionRange(this.db, from.revision, head.revision);
        if (rows.length > this.maxRunsPerDelta) return [{ kind: "resync", reason: "too_many_runs" }];
        if (rows.length > 0) deltas.push({ kind: "runsChanged", runs: this.views(rows) });
      }
      if (head.chunkId > from.chunkId) {
        if (pointsInChunkRange(this.db, from.chunkId, head.chunkId) > this.maxPointsPerDelta) {
          deltas.push({ kind: "resync", reason: "too_many_points" });
          return deltas;
        }
        const spans = this.spans(from.chunkId, head.chunkId);
        if (spans.length > 0) deltas.push({ kind: "pointsAdded", spans });
      }
      return deltas;
    });
  }

  /** Every running run as of now: what a consumer that starts now needs to show liveness right. */
  runningRuns(): RunView[] {
    return runRead(this.db, () => this.views(runRowsBySeq(this.db, [...this.running.keys()])));
  }

  /**
   * Running runs that turned stale by the clock alone (their process died),
   * or alive again since their heartbeat moved: neither moves a revision.
   */
  checkLiveness(): RunView[] {
    const now = Date.now() / 1000;
    const flipped: number[] = [];
    for (const [seq, entry] of this.running) {
      const stale = isStale(entry.lastAlive, now, this.staleAfterSeconds);
      if (stale === entry.stale) continue;
      entry.stale = stale;
      flipped.push(seq);
    }
    if (flipped.length === 0) return [];
    return runRead(this.db, () => this.views(runRowsBySeq(this.db, flipped)));
  }

  /**
   * Tells `subscriber` of every change from now on. The first subscriber
   * starts watching the source and the clock; the last one leaving stops them.
   */
  subscribe(subscriber: ChangeSubscriber): () => void {
    this.subscribers.add(subscriber);
    if (this.stopFollowing === null) this.follow();
    return () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.unfollow();
    };
  }

  /** Pulls now and tells subscribers (after this process committed, or when a pushing source has news). */
  publish(): void {
    const from = this.head;
    let deltas: ChangeDelta[];
    try {
      deltas = this.pull();
    } catch (error) {
      this.readFailed(error as Error);
      return;
    }
    this.readWorked();
    if (deltas.length > 0) this.notify({ deltas, from, to: this.head });
  }

  close(): void {
    this.subscribers.clear();
    this.unfollow();
    this.ownedConnection?.close();
    this.ownedConnection = null;
  }

  private follow(): void {
    const stopSource = this.options.source?.watch(() => this.publish());
    const clock = setInterval(() => this.publishLiveness(), this.livenessCheckMs);
    this.stopFollowing = () => {
      stopSource?.();
      clearInterval(clock);
    };
  }

  private unfollow(): void {
    this.stopFollowing?.();
    this.stopFollowing = null;
  }

  private publishLiveness(): void {
    let runs: RunView[];
    try {
      runs = this.checkLiveness();
    } catch (error) {
      this.readFailed(error as Error);
      return;
    }
    this.readWorked();
    if (runs.length > 0) this.notify({ deltas: [{ kind: "livenessChanged", runs }], from: this.head, to: this.head });
  }

  /** Says so once when reads start failing (the database went away), not at every tick while they fail. */
  private readFailed(error: Error): void {
    if (this.failing) return;
    this.failing = true;
    logger.warn(`live events: reading changes failed (${error.message}); retrying`);
  }

  private readWorked(): void {
    if (!this.failing) return;
    this.failing = false;
    logger.info("live events: reading changes works again");
  }

  private notify(batch: ChangeBatch): void {
    for (const subscriber of [...this.subscribers]) subscriber(batch);
  }

  private readChanges(): ChangeDelta[] {
    const db = this.db;
    const previous = this.head;
    const next = changeHead(db);
    // Revisions restart when every run was deleted; then every stored run is new.
    const fromRevision = next.revision < previous.revision ? 0 : previous.revision;
    const target = { chunkId: Math.max(previous.chunkId, next.chunkId), revision: next.revision };
    const deltas: ChangeDelta[] = [];
    let resync: ResyncReason | null = null;

    const rows = target.revision > fromRevision ? runRowsInRevisionRange(db, fromRevision, target.revision) : [];
    const withNewRuns = new Set<string>();
    for (const row of rows) {
      if (!this.knownRuns.has(row.seq)) withNewRuns.add(row.experiment_id);
      this.knownRuns.set(row.seq, { id: row.id, experimentId: row.experiment_id });
    }
    const beats = this.trackLiveness(rows);
    if (beats.length > 0) deltas.push({ kind: "heartbeats", beats });
    if (rows.length > this.maxRunsPerDelta) resync = "too_many_runs";
    else if (rows.length > 0) deltas.push({ kind: "runsChanged", runs: this.views(rows) });
    const deletions = this.noticeDeletions(next.runCount);
    if (deletions.deleted.length > 0) deltas.push({ kind: "runsDeleted", runs: deletions.deleted });
    if (withNewRuns.size > 0 || deletions.deleted.length > 0 || deletions.appeared) {
      deltas.push({ kind: "experimentsChanged", withNewRuns: [...withNewRuns] });
    }
    if (deletions.appeared) resync = "runs_reappeared";

    if (target.chunkId > previous.chunkId) {
      const changed = changedSeries(db, previous.chunkId, target.chunkId);
      if (this.newPoints(changed) > this.maxPointsPerDelta) {
        resync ??= "too_many_points";
      } else {
        const spans: PointSpan[] = [];
        for (const span of this.readPoints ? this.spans(previous.chunkId, target.chunkId) : changed.map(toSpan)) {
          const known = this.pointsAtCursor(span.seriesId, span.startIndex);
          this.seriesEnds?.set(span.seriesId, span.endIndex);
          span.newFromIndex = Math.min(span.endIndex, Math.max(span.startIndex, known));
          if (span.newFromIndex < span.endIndex) spans.push(span);
        }
        if (spans.length > 0) deltas.push({ kind: "pointsAdded", spans });
      }
    }
    if (resync !== null || deletions.deleted.length > 0) this.loadSeriesEnds();
    if (resync !== null) deltas.push({ kind: "resync", reason: resync });
    this.head = target;
    return deltas;
  }

  private views(rows: readonly RunRow[]): RunView[] {
    return toRunViews(this.db, rows, Date.now() / 1000, this.staleAfterSeconds);
  }

  private loadSeriesEnds(): void {
    if (this.readPoints) this.seriesEnds = new Map(seriesCounts(this.db));
  }

  /** Points a series had at the cursor, as far as the feed knows (`unknown` when it keeps no counts). */
  private pointsAtCursor(seriesId: number, unknown: number): number {
    return this.seriesEnds === null ? unknown : (this.seriesEnds.get(seriesId) ?? 0);
  }

  /** Points past the cursor's series counts: what a pull would report. */
  private newPoints(changed: readonly ChangedSeries[]): number {
    let total = 0;
    for (const series of changed) {
      const known = this.pointsAtCursor(series.series_id, series.start_index);
      total += series.end_index - Math.max(series.start_index, Math.min(series.end_index, known));
    }
    return total;
  }

  /** Spans of the chunks with id in (after, upTo], whole (newFromIndex = startIndex). */
  private spans(after: number, upTo: number): PointSpan[] {
    return this.readPoints
      ? joinSpans(chunksInRange(this.db, after, upTo))
      : changedSeries(this.db, after, upTo).map(toSpan);
  }

  /**
   * Keeps `running` current: changed rows say which runs run; heartbeats
   * move without a revision, so those of the other running runs are read.
   */
  private trackLiveness(changedRows: readonly RunRow[]): Heartbeat[] {
    const now = Date.now() / 1000;
    for (const row of changedRows) {
      if (row.status !== "running") {
        this.running.delete(row.seq);
        continue;
      }
      const lastAlive = row.last_heartbeat ?? row.created_at;
      this.running.set(row.seq, { lastAlive, stale: isStale(lastAlive, now, this.staleAfterSeconds) });
    }
    const changed = new Set(changedRows.map((row) => row.seq));
    const others = [...this.running.keys()].filter((seq) => !changed.has(seq));
    const present = new Set<number>();
    const beats: Heartbeat[] = [];
    for (const [seq, heartbeat] of heartbeatsOf(this.db, others)) {
      present.add(seq);
      const entry = this.running.get(seq);
      const run = this.knownRuns.get(seq);
      if (entry === undefined || heartbeat === null || heartbeat === entry.lastAlive) continue;
      entry.lastAlive = heartbeat;
      if (run !== undefined)
        beats.push({ runSeq: seq, runId: run.id, experimentId: run.experimentId, lastHeartbeat: heartbeat });
    }
    for (const seq of others) if (!present.has(seq)) this.running.delete(seq);
    return beats;
  }

  /**
   * Finds deleted runs by comparing identities when the run count does not
   * add up. `appeared`: runs that showed up without a new revision (only
   * when revisions were reused), which cannot be reported one by one.
   */
  private noticeDeletions(runCount: number): { deleted: DeletedRun[]; appeared: boolean } {
    if (runCount === this.knownRuns.size) return { deleted: [], appeared: false };
    const present = new Map(runIdentities(this.db).map(([seq, id, experimentId]) => [seq, { id, experimentId }]));
    const deleted: DeletedRun[] = [];
    for (const [seq, known] of this.knownRuns) {
      if (present.has(seq)) continue;
      this.knownRuns.delete(seq);
      this.running.delete(seq);
      deleted.push({ runSeq: seq, runId: known.id, experimentId: known.experimentId });
    }
    let appeared = false;
    for (const [seq, identity] of present) {
      if (this.knownRuns.has(seq)) continue;
      this.knownRuns.set(seq, identity);
      appeared = true;
    }
    return { deleted, appeared };
  }
}

function toSpan(series: ChangedSeries): PointSpan {
  return {
    seriesId: series.series_id,
    runSeq: series.run_seq,
    runId: series.run_id,
    experimentId: series.experiment_id,
    key: series.key,
    startIndex: series.start_index,
    endIndex: series.end_index,
    newFromIndex: series.start_index,
    lastHeartbeat: series.last_heartbeat,
  };
}

/** Joins each series' consecutive changed chunks into one span with its points (rows come by series, then index). */
function joinSpans(chunks: readonly ChangedChunk[]): PointSpan[] {
  const out: PointSpan[] = [];
  let i = 0;
  while (i < chunks.length) {
    let j = i + 1;
    while (
      j < chunks.length &&
      chunks[j].series_id === chunks[i].series_id &&
      chunks[j].start_index === chunks[j - 1].start_index + chunks[j - 1].count
    ) {
      j++;
    }
    const group = chunks.slice(i, j);
    const total = group.reduce((n, c) => n + c.count, 0);
    const steps = new Float64Array(total);
    const values = new Float64Array(total);
    const timestamps = new Float64Array(total);
    let at = 0;
    for (const chunk of group) {
      steps.set(decodeFloats(chunk.steps), at);
      values.set(decodeFloats(chunk.vals), at);
      timestamps.set(decodeFloats(chunk.times), at);
      at += chunk.count;
    }
    const first = group[0];
    out.push({
      seriesId: first.series_id,
      runSeq: first.run_seq,
      runId: first.run_id,
      experimentId: first.experiment_id,
      key: first.key,
      startIndex: first.start_index,
      endIndex: first.start_index + total,
      newFromIndex: first.start_index,
      lastHeartbeat: first.last_heartbeat,
      points: { steps, values, timestamps },
    });
    i = j;
  }
  return out;
}
