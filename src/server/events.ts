/**
 * Live events for every open event stream, from one poller.
 *
 * The poller owns its own connection and asks SQLite's `PRAGMA data_version`
 * every ~150 ms whether any other connection (another process, or this
 * server's request connection) committed. Only then does it read what is new
 * since its head cursor, in one snapshot: run rows with a higher revision and
 * chunks with a higher id. A chunk that was rewritten with appended points
 * also holds points sent before, so the poller keeps every series' point
 * count at its head (loaded once, then advanced by each delta) and sends only
 * the points past it. Every stream at the head has had exactly those points,
 * so each message is rendered once and shared; a stream only filters by
 * experiment. A stream that resumes from an older cursor is caught up once,
 * on attach (whole changed chunks: the client drops the points it already
 * has by their index), and then joins the head.
 */

import type {
  ExperimentsChangedEvent,
  LiveEventName,
  MetricsUpdateEvent,
  PointsEvent,
  ReadyEvent,
  RunDeletedEvent,
  RunUpdateEvent,
} from "../contract/wire.js";
import { runView } from "../query/run-list.js";
import {
  type ChangedChunk,
  changedSeriesSpans,
  changeHead,
  chunksInRange,
  dataVersion,
  pointsInChunkRange,
  runIdentities,
  runningRuns,
  runRowsInRevisionRange,
  seriesCounts,
} from "../store/changes.js";
import { decodeFloats } from "../store/codec.js";
import { type Db, openDatabase, runRead } from "../store/connection.js";
import { DEFAULT_STALE_AFTER_S, isStale, type RunRow } from "../store/reads.js";
import { heartbeatsOf, runRowsBySeq } from "../store/run-query.js";
import { logger } from "../util/logger.js";
import { runJson } from "./json.js";

/** Position in the change history: highest chunk id and run revision already delivered. */
export interface Cursor {
  chunkId: number;
  revision: number;
}

function formatCursor(cursor: Cursor): string {
  return `${cursor.chunkId}.${cursor.revision}`;
}

/** Parses `<chunkId>.<revision>`; null when the text is not a cursor. */
export function parseCursor(text: string): Cursor | null {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(text);
  if (!match) return null;
  return { chunkId: Number(match[1]), revision: Number(match[2]) };
}

export interface EventHubOptions {
  dbPath: string;
  pollIntervalMs?: number;
  keepAliveMs?: number;
  maxClients?: number;
  staleAfterSeconds?: number;
  /** More changed points than this in one step (or one catch-up) become a `resync` event. */
  maxPointsPerDelta?: number;
  /** More changed runs than this in one step become a `resync` event. */
  maxRunsPerDelta?: number;
  /** Least time between two `metrics_update` events of one run (default 1000 ms). */
  metricsUpdateIntervalMs?: number;
}

/** Where a client's events go. write() resolves once the text is handed to the socket. */
export interface EventSink {
  write(text: string): Promise<unknown>;
}

/** One rendered event; experimentId null means every stream gets it. */
interface Message {
  experimentId: string | null;
  event: LiveEventName;
  data: string;
}

// A client whose socket does not drain is cut loose rather than buffered without bound.
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

function sseMessage(event: string, data: string, id: string): string {
  return `event: ${event}\nid: ${id}\ndata: ${data}\n\n`;
}

export class EventClient {
  cursor: Cursor = { chunkId: 0, revision: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private pendingBytes = 0;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly sink: EventSink,
    readonly experimentId: string | null,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Resolves when the stream ends (client gone, server closing, or too slow). */
  get done(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Sends the messages that lead from one cursor to the next (those of other
   * experiments left out). Only the last one carries the new cursor, so a
   * stream cut in the middle resumes from the old one and gets them all again.
   */
  send(messages: readonly Message[], from: Cursor, to: Cursor): void {
    const mine = messages.filter((m) => m.experimentId === null || this.wants(m.experimentId));
    const fromId = formatCursor(from);
    const toId = formatCursor(to);
    mine.forEach((m, i) => {
      this.enqueue(sseMessage(m.event, m.data, i === mine.length - 1 ? toId : fromId));
    });
    this.cursor = to;
  }

  /**
   * A comment to keep proxies from closing the stream, with the current
   * cursor: an id-only block moves the browser's Last-Event-ID without
   * dispatching an event, so a stream filtered to a quiet experiment does not
   * resume from far behind.
   */
  keepAlive(): void {
    this.enqueue(`: keep-alive\nid: ${formatCursor(this.cursor)}\n\n`);
  }

  enqueue(text: string): void {
    if (this.closed) return;
    this.pendingBytes += text.length;
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      logger.warn("an event stream fell too far behind and was closed; the client will reconnect");
      this.close();
      return;
    }
    this.chain = this.chain
      .then(() => this.sink.write(text))
      .then(
        () => {
          this.pendingBytes -= text.length;
        },
        () => this.close(),
      );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveClosed();
  }

  private wants(experimentId: string): boolean {
    return this.experimentId === null || this.experimentId === experimentId;
  }
}

/** Each series' changed chunks joined into one span of points. */
/** A run's `metrics_update` held back because the run had one less than an interval ago. */
interface HeldUpdate {
  experimentId: string;
  lastHeartbeat: number | null;
}

interface SeriesSpan {
  seriesId: number;
  runId: string;
  experimentId: string;
  key: string;
  startIndex: number;
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
  lastHeartbeat: number | null;
}

export class EventHub {
  private readonly pollIntervalMs: number;
  private readonly keepAliveMs: number;
  private readonly maxClients: number;
  private readonly staleAfterSeconds: number;
  private readonly maxPointsPerDelta: number;
  private readonly maxRunsPerDelta: number;
  private readonly clients = new Set<EventClient>();
  private db: Db | null = null;
  private head: Cursor = { chunkId: 0, revision: 0 };
  private lastDataVersion = -1;
  /** Every run the poller knows of, by seq, to notice deletions. */
  private knownRuns = new Map<number, { id: string; experimentId: string }>();
  /** Points of each series (by id) as of the head; streams at the head have had them all. */
  private seriesEnds = new Map<number, number>();
  /** Running runs by seq: when they last showed life, and whether streams were last told they are stale. */
  private running = new Map<number, { lastAlive: number; stale: boolean }>();
  private pollTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private pokeScheduled = false;
  private readonly metricsUpdateIntervalMs: number;
  /**
   * The original stonks' client refetches every metric of a run on each
   * `metrics_update`, so a run gets at most one per interval: when it was
   * last sent, by run id, and the updates held back until their interval ends.
   */
  private readonly lastMetricsUpdate = new Map<string, number>();
  private readonly heldMetricsUpdates = new Map<string, HeldUpdate>();

  constructor(private readonly options: EventHubOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxClients = options.maxClients ?? 64;
    this.staleAfterSeconds = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_S;
    this.maxPointsPerDelta = options.maxPointsPerDelta ?? 200_000;
    this.maxRunsPerDelta = options.maxRunsPerDelta ?? 2_000;
    this.metricsUpdateIntervalMs = options.metricsUpdateIntervalMs ?? 1000;
  }

  get isFull(): boolean {
    return this.clients.size >= this.maxClients;
  }

  /**
   * Starts a stream at `from` (or at "now" when null): sends `ready`, then
   * everything between `from` and the shared head, then live events.
   */
  attach(sink: EventSink, experimentId: string | null, from: Cursor | null): EventClient {
    const db = this.start();
    // Deliver what other streams have not had yet, so "now" is this moment and not the last poll.
    this.poll();
    const client = new EventClient(sink, experimentId);
    client.enqueue("retry: 1000\n\n");
    const head = this.head;
    const ready: Message = {
      experimentId: null,
      event: "ready",
      data: JSON.stringify({ cursor: formatCursor(head) } satisfies ReadyEvent),
    };
    const catchUp = from === null ? [] : runRead(db, () => this.catchUp(db, from, head));
    // Staleness changes with the clock, not with a revision: a client that read the
    // run list just before a run turned stale (or came back) learns it here.
    const liveness = runRead(db, () =>
      runRowsBySeq(db, [...this.running.keys()]).map((row) => this.runUpdate(db, row)),
    );
    client.send([ready, ...catchUp, ...liveness], from ?? head, head);
    this.clients.add(client);
    void client.done.then(() => this.detach(client));
    return client;
  }

  /** Checks for changes soon instead of at the next poll (after this server wrote something). */
  poke(): void {
    if (this.pokeScheduled || this.db === null) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      this.poll();
    });
  }

  close(): void {
    for (const client of [...this.clients]) client.close();
    this.stop();
  }

  private detach(client: EventClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stop();
  }

  private start(): Db {
    if (this.db !== null) return this.db;
    const db = openDatabase(this.options.dbPath, { create: false });
    this.db = db;
    this.lastDataVersion = dataVersion(db);
    runRead(db, () => {
      const head = changeHead(db);
      this.head = { chunkId: head.chunkId, revision: head.revision };
      this.knownRuns = new Map(runIdentities(db).map((r) => [r.seq, { id: r.id, experimentId: r.experiment_id }]));
      this.loadSeriesEnds(db);
      const now = Date.now() / 1000;
      this.running = new Map(
        runningRuns(db).map(([seq, lastAlive]) => [
          seq,
          { lastAlive, stale: isStale(lastAlive, now, this.staleAfterSeconds) },
        ]),
      );
    });
    this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
    this.keepAliveTimer = setInterval(() => {
      for (const client of this.clients) client.keepAlive();
    }, this.keepAliveMs);
    return db;
  }

  private stop(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    this.pollTimer = null;
    this.keepAliveTimer = null;
    this.db?.close();
    this.db = null;
  }

  private loadSeriesEnds(db: Db): void {
    this.seriesEnds = new Map(seriesCounts(db).map((s) => [s.id, s.count]));
  }

  private poll(): void {
    const db = this.db;
    if (db === null) return;
    try {
      const version = dataVersion(db);
      if (version !== this.lastDataVersion) {
        this.lastDataVersion = version;
        this.broadcastChanges(db);
      }
      this.announceStaleChanges(db);
      this.sendHeldMetricsUpdates();
    } catch (error) {
      logger.warn(`live events: reading changes failed (${(error as Error).message}); retrying`);
    }
  }

  /** Reads what changed since the head, moves the head, and sends it to every stream. */
  private broadcastChanges(db: Db): void {
    const previous = this.head;
    const messages = runRead(db, () => {
      const next = changeHead(db);
      // Revisions restart when every run was deleted; then every stored run is new.
      const fromRevision = next.revision < previous.revision ? 0 : previous.revision;
      const target = { chunkId: Math.max(previous.chunkId, next.chunkId), revision: next.revision };
      const out: Message[] = [];
      let resync = false;

      const rows = target.revision > fromRevision ? runRowsInRevisionRange(db, fromRevision, target.revision) : [];
      const created = new Set<string>();
      for (const row of rows) {
        if (!this.knownRuns.has(row.seq)) created.add(row.experiment_id);
        this.knownRuns.set(row.seq, { id: row.id, experimentId: row.experiment_id });
      }
      this.trackLiveness(db, rows);
      if (rows.length > this.maxRunsPerDelta) resync = true;
      else for (const row of rows) out.push(this.runUpdate(db, row));
      const deletions = this.noticeDeletions(db, next.runCount);
      out.push(...deletions.messages);
      // Every stream's experiment list (the sidebar) learns of new experiments and changed run counts at once.
      if (created.size > 0 || deletions.messages.length > 0 || deletions.appeared) {
        out.push({
          experimentId: null,
          event: "experiments_changed",
          data: JSON.stringify({ experiment_ids: [...created] } satisfies ExperimentsChangedEvent),
        });
      }
      if (deletions.appeared) resync = true;

      if (target.chunkId > previous.chunkId) {
        if (this.newPoints(db, previous.chunkId, target.chunkId) > this.maxPointsPerDelta) {
          resync = true;
        } else {
          const announced = new Set<string>();
          for (const span of joinSpans(chunksInRange(db, previous.chunkId, target.chunkId))) {
            const end = span.startIndex + span.values.length;
            const known = this.seriesEnds.get(span.seriesId) ?? 0;
            this.seriesEnds.set(span.seriesId, end);
            out.push(
              ...pointMessages(
                span,
                Math.min(end, Math.max(span.startIndex, known)),
                announced,
                this.metricsUpdateGate,
              ),
            );
          }
        }
      }
      if (resync || deletions.messages.length > 0) this.loadSeriesEnds(db);
      if (resync) out.push({ experimentId: null, event: "resync", data: "{}" });
      this.head = target;
      return out;
    });
    if (messages.length === 0) return;
    for (const client of this.clients) client.send(messages, previous, this.head);
  }

  /**
   * Keeps `running` current: changed rows say which runs run; heartbeats
   * move without a revision, so those of the other running runs are read.
   */
  private trackLiveness(db: Db, changedRows: RunRow[]): void {
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
    for (const [seq, heartbeat] of heartbeatsOf(db, others)) {
      present.add(seq);
      const entry = this.running.get(seq);
      if (entry !== undefined && heartbeat !== null) entry.lastAlive = heartbeat;
    }
    for (const seq of others) if (!present.has(seq)) this.running.delete(seq);
  }

  /**
   * A running run becomes stale by the clock alone (its process died), and
   * live again when its heartbeat moves: neither changes its revision, so the
   * poller watches for both and sends the run again.
   */
  private announceStaleChanges(db: Db): void {
    const now = Date.now() / 1000;
    const flipped: number[] = [];
    for (const [seq, entry] of this.running) {
      const stale = isStale(entry.lastAlive, now, this.staleAfterSeconds);
      if (stale === entry.stale) continue;
      entry.stale = stale;
      flipped.push(seq);
    }
    if (flipped.length === 0) return;
    const messages = runRead(db, () => runRowsBySeq(db, flipped).map((row) => this.runUpdate(db, row)));
    for (const client of this.clients) client.send(messages, this.head, this.head);
  }

  /** Whether a run's `metrics_update` may go now; when not, it is held and sent once the run's interval ends. */
  private readonly metricsUpdateGate = (span: SeriesSpan): boolean => {
    const now = Date.now();
    const last = this.lastMetricsUpdate.get(span.runId);
    if (last === undefined || now - last >= this.metricsUpdateIntervalMs) {
      this.lastMetricsUpdate.set(span.runId, now);
      this.heldMetricsUpdates.delete(span.runId);
      return true;
    }
    this.heldMetricsUpdates.set(span.runId, { experimentId: span.experimentId, lastHeartbeat: span.lastHeartbeat });
    return false;
  };

  private sendHeldMetricsUpdates(): void {
    if (this.heldMetricsUpdates.size === 0) return;
    const now = Date.now();
    const messages: Message[] = [];
    for (const [runId, held] of this.heldMetricsUpdates) {
      if (now - (this.lastMetricsUpdate.get(runId) ?? 0) < this.metricsUpdateIntervalMs) continue;
      this.heldMetricsUpdates.delete(runId);
      this.lastMetricsUpdate.set(runId, now);
      messages.push(metricsUpdateMessage(runId, held));
    }
    // Runs quiet for an interval need no memory: their next update goes at once either way.
    for (const [runId, last] of this.lastMetricsUpdate) {
      if (now - last >= this.metricsUpdateIntervalMs && !this.heldMetricsUpdates.has(runId)) {
        this.lastMetricsUpdate.delete(runId);
      }
    }
    if (messages.length === 0) return;
    for (const client of this.clients) client.send(messages, this.head, this.head);
  }

  /** Points past the head's series counts in chunks (after, upTo]: what a broadcast would carry. */
  private newPoints(db: Db, after: number, upTo: number): number {
    let total = 0;
    for (const [seriesId, from, to] of changedSeriesSpans(db, after, upTo)) {
      total += to - Math.max(from, Math.min(to, this.seriesEnds.get(seriesId) ?? 0));
    }
    return total;
  }

  /** What a stream resuming at `from` missed up to the head: whole changed chunks. */
  private catchUp(db: Db, from: Cursor, head: Cursor): Message[] {
    const out: Message[] = [];
    if (head.revision > from.revision) {
      const rows = runRowsInRevisionRange(db, from.revision, head.revision);
      if (rows.length > this.maxRunsPerDelta) return [{ experimentId: null, event: "resync", data: "{}" }];
      for (const row of rows) out.push(this.runUpdate(db, row));
    }
    if (head.chunkId > from.chunkId) {
      if (pointsInChunkRange(db, from.chunkId, head.chunkId) > this.maxPointsPerDelta) {
        return [...out, { experimentId: null, event: "resync", data: "{}" }];
      }
      const announced = new Set<string>();
      for (const span of joinSpans(chunksInRange(db, from.chunkId, head.chunkId))) {
        out.push(...pointMessages(span, span.startIndex, announced, this.metricsUpdateGate));
      }
    }
    return out;
  }

  private runUpdate(db: Db, row: RunRow): Message {
    const run = runJson(runView(db, row, { staleAfterSeconds: this.staleAfterSeconds }));
    return {
      experimentId: row.experiment_id,
      event: "run_update",
      data: JSON.stringify({
        run_id: run.id,
        status: run.status,
        name: run.name,
        created_at: run.created_at,
        ended_at: run.ended_at,
        run,
      } satisfies RunUpdateEvent),
    };
  }

  /**
   * Finds deleted runs by comparing identities when the run count does not
   * add up. `appeared`: runs that showed up without a new revision (only
   * when revisions were reused), which the streams cannot be told about
   * one by one.
   */
  private noticeDeletions(db: Db, runCount: number): { messages: Message[]; appeared: boolean } {
    if (runCount === this.knownRuns.size) return { messages: [], appeared: false };
    const present = new Map(runIdentities(db).map((r) => [r.seq, r]));
    const messages: Message[] = [];
    for (const [seq, known] of this.knownRuns) {
      if (present.has(seq)) continue;
      this.knownRuns.delete(seq);
      messages.push({
        experimentId: known.experimentId,
        event: "run_deleted",
        data: JSON.stringify({ run_id: known.id, experiment_id: known.experimentId } satisfies RunDeletedEvent),
      });
    }
    let appeared = false;
    for (const identity of present.values()) {
      if (this.knownRuns.has(identity.seq)) continue;
      this.knownRuns.set(identity.seq, { id: identity.id, experimentId: identity.experiment_id });
      appeared = true;
    }
    return { messages, appeared };
  }
}

function metricsUpdateMessage(runId: string, update: HeldUpdate): Message {
  return {
    experimentId: update.experimentId,
    event: "metrics_update",
    data: JSON.stringify({ run_id: runId, last_heartbeat: update.lastHeartbeat } satisfies MetricsUpdateEvent),
  };
}

/**
 * `points` for a span from series index `from` on, preceded by the run's
 * `metrics_update` the first time the run comes up (`announced` remembers)
 * if `mayAnnounce` lets it go now.
 */
function pointMessages(
  span: SeriesSpan,
  from: number,
  announced: Set<string>,
  mayAnnounce: (span: SeriesSpan) => boolean,
): Message[] {
  const skip = from - span.startIndex;
  if (skip >= span.values.length) return [];
  const out: Message[] = [];
  if (!announced.has(span.runId)) {
    announced.add(span.runId);
    if (mayAnnounce(span)) out.push(metricsUpdateMessage(span.runId, span));
  }
  out.push({
    experimentId: span.experimentId,
    event: "points",
    data: JSON.stringify({
      run_id: span.runId,
      key: span.key,
      steps: Array.from(span.steps.subarray(skip)),
      values: Array.from(span.values.subarray(skip)),
      timestamps: Array.from(span.timestamps.subarray(skip)),
      start_index: from,
    } satisfies PointsEvent),
  });
  return out;
}

/** Joins each series' consecutive changed chunks (rows come ordered by series, then index). */
function joinSpans(chunks: ChangedChunk[]): SeriesSpan[] {
  const out: SeriesSpan[] = [];
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
      runId: first.run_id,
      experimentId: first.experiment_id,
      key: first.key,
      startIndex: first.start_index,
      steps,
      values,
      timestamps,
      lastHeartbeat: first.last_heartbeat,
    });
    i = j;
  }
  return out;
}
