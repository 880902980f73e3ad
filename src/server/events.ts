/**
 * Live events for every open event stream, from one poller.
 *
 * The poller owns its own connection and asks SQLite's `PRAGMA data_version`
 * every ~150 ms whether any other connection (another process, or this
 * server's request connection) committed. Only then does it read what is new
 * since its head cursor, in one snapshot: run rows with a higher revision and
 * chunks with a higher id. The resulting messages are shared by all streams;
 * each stream only filters them by experiment and skips points it already
 * sent. A stream that resumes from an older cursor is caught up once, on
 * attach, and then joins the shared head.
 */

import { runView } from "../query/run-list.js";
import {
  type ChangedChunk,
  changeHead,
  chunksInRange,
  dataVersion,
  pointsInChunkRange,
  runIdentities,
  runRowsInRevisionRange,
} from "../store/changes.js";
import { decodeFloats } from "../store/codec.js";
import { type Db, openDatabase, runRead } from "../store/connection.js";
import type { RunRow } from "../store/reads.js";
import { logger } from "../util/logger.js";
import { runJson } from "./json.js";

/** Position in the change history: highest chunk id and run revision already delivered. */
export interface Cursor {
  chunkId: number;
  revision: number;
}

export function formatCursor(cursor: Cursor): string {
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
}

/** Where a client's events go. write() resolves once the text is handed to the socket. */
export interface EventSink {
  write(text: string): Promise<unknown>;
}

interface SeriesDelta {
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

interface RunMessage {
  experimentId: string;
  event: "run_update" | "run_deleted";
  data: string;
}

/** What changed between two cursors, before it is cut to each client's filter. */
interface Delta {
  runs: RunMessage[];
  series: SeriesDelta[];
  resync: boolean;
}

// A client whose socket does not drain is cut loose rather than buffered without bound.
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class EventClient {
  /** Points of each series (by series id) this stream has already sent: indices [0, sent). */
  readonly sent = new Map<number, number>();
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

  get isClosed(): boolean {
    return this.closed;
  }

  wants(experimentId: string): boolean {
    return this.experimentId === null || this.experimentId === experimentId;
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

  /**
   * Sends the events that lead from one cursor to the next. Only the last one
   * carries the new cursor, so a stream cut in the middle resumes from the
   * old one and gets them all again.
   */
  send(events: EventPair[], from: Cursor, to: Cursor): void {
    const fromId = formatCursor(from);
    const toId = formatCursor(to);
    events.forEach(([event, data], i) => {
      this.enqueue(sseMessage(event, data, i === events.length - 1 ? toId : fromId));
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveClosed();
  }
}

/** An event's name and its JSON data. */
type EventPair = [event: string, data: string];

function sseMessage(event: string, data: string, id: string): string {
  return `event: ${event}\nid: ${id}\ndata: ${data}\n\n`;
}

function sliceFrom(array: Float64Array, from: number): number[] {
  return Array.from(array.subarray(from));
}

export class EventHub {
  private readonly pollIntervalMs: number;
  private readonly keepAliveMs: number;
  private readonly maxClients: number;
  private readonly staleAfterSeconds: number | undefined;
  private readonly maxPointsPerDelta: number;
  private readonly maxRunsPerDelta: number;
  private readonly clients = new Set<EventClient>();
  private db: Db | null = null;
  private head: Cursor = { chunkId: 0, revision: 0 };
  private lastDataVersion = -1;
  /** Every run the poller knows of, by seq, to notice deletions. */
  private knownRuns = new Map<number, { id: string; experimentId: string }>();
  private pollTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private pokeScheduled = false;

  constructor(private readonly options: EventHubOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxClients = options.maxClients ?? 64;
    this.staleAfterSeconds = options.staleAfterSeconds;
    this.maxPointsPerDelta = options.maxPointsPerDelta ?? 200_000;
    this.maxRunsPerDelta = options.maxRunsPerDelta ?? 2_000;
  }

  get clientCount(): number {
    return this.clients.size;
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
    const client = new EventClient(sink, experimentId);
    client.enqueue("retry: 1000\n\n");
    const head = this.head;
    const catchUp =
      from === null
        ? []
        : this.renderFor(
            client,
            runRead(db, () => this.readDelta(db, from, head, false)),
          );
    client.send([["ready", JSON.stringify({ cursor: formatCursor(head) })], ...catchUp], from ?? head, head);
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

  private poll(): void {
    const db = this.db;
    if (db === null) return;
    try {
      const version = dataVersion(db);
      if (version === this.lastDataVersion) return;
      this.lastDataVersion = version;
      this.broadcastChanges(db);
    } catch (error) {
      logger.warn(`live events: reading changes failed (${(error as Error).message}); retrying`);
    }
  }

  private broadcastChanges(db: Db): void {
    const previous = this.head;
    const delta = runRead(db, () => {
      const next = changeHead(db);
      // Revisions restart when every run was deleted; then every stored run is new.
      const from = next.revision < previous.revision ? { ...previous, revision: 0 } : previous;
      const target = { chunkId: Math.max(previous.chunkId, next.chunkId), revision: next.revision };
      const changes = this.readDelta(db, from, target, true);
      this.noticeMembershipChanges(db, next.runCount, changes);
      this.head = target;
      return changes;
    });
    if (delta.runs.length === 0 && delta.series.length === 0 && !delta.resync) return;
    for (const client of this.clients) client.send(this.renderFor(client, delta), previous, this.head);
  }

  /** Everything between two cursors. trackRuns: also record new runs for deletion detection. */
  private readDelta(db: Db, from: Cursor, to: Cursor, trackRuns: boolean): Delta {
    const delta: Delta = { runs: [], series: [], resync: false };
    if (to.revision > from.revision) {
      const rows = runRowsInRevisionRange(db, from.revision, to.revision);
      if (rows.length > this.maxRunsPerDelta) delta.resync = true;
      for (const row of rows) {
        if (trackRuns) this.knownRuns.set(row.seq, { id: row.id, experimentId: row.experiment_id });
        if (!delta.resync) delta.runs.push(this.runUpdate(db, row));
      }
    }
    if (to.chunkId > from.chunkId) {
      if (pointsInChunkRange(db, from.chunkId, to.chunkId) > this.maxPointsPerDelta) {
        delta.resync = true;
      } else {
        delta.series = groupBySeries(chunksInRange(db, from.chunkId, to.chunkId));
      }
    }
    return delta;
  }

  private runUpdate(db: Db, row: RunRow): RunMessage {
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
      }),
    };
  }

  /** Finds deleted runs (and runs that appeared without a new revision) by comparing identities. */
  private noticeMembershipChanges(db: Db, runCount: number, delta: Delta): void {
    if (runCount === this.knownRuns.size) return;
    const present = new Map(runIdentities(db).map((r) => [r.seq, r]));
    for (const [seq, known] of this.knownRuns) {
      if (present.has(seq)) continue;
      this.knownRuns.delete(seq);
      delta.runs.push({
        experimentId: known.experimentId,
        event: "run_deleted",
        data: JSON.stringify({ run_id: known.id, experiment_id: known.experimentId }),
      });
    }
    const missing = [...present.values()].filter((r) => !this.knownRuns.has(r.seq));
    for (const identity of missing) {
      this.knownRuns.set(identity.seq, { id: identity.id, experimentId: identity.experiment_id });
    }
    if (missing.length > 0) delta.resync = true;
  }

  /** The (event, data) pairs of a delta for one client: its experiment only, points it has not had yet. */
  private renderFor(client: EventClient, delta: Delta): EventPair[] {
    const out: EventPair[] = [];
    for (const message of delta.runs) {
      if (client.wants(message.experimentId)) out.push([message.event, message.data]);
    }
    if (delta.resync) {
      client.sent.clear();
      out.push(["resync", "{}"]);
      return out;
    }
    const announced = new Set<string>();
    for (const series of delta.series) {
      if (!client.wants(series.experimentId)) continue;
      const end = series.startIndex + series.values.length;
      const from = Math.max(series.startIndex, client.sent.get(series.seriesId) ?? series.startIndex);
      if (from >= end) continue;
      if (!announced.has(series.runId)) {
        announced.add(series.runId);
        out.push(["metrics_update", JSON.stringify({ run_id: series.runId, last_heartbeat: series.lastHeartbeat })]);
      }
      const skip = from - series.startIndex;
      out.push([
        "points",
        JSON.stringify({
          run_id: series.runId,
          key: series.key,
          steps: sliceFrom(series.steps, skip),
          values: sliceFrom(series.values, skip),
          timestamps: sliceFrom(series.timestamps, skip),
          start_index: from,
        }),
      ]);
      client.sent.set(series.seriesId, end);
    }
    return out;
  }
}

/** Joins each series' consecutive changed chunks into one span of points. */
function groupBySeries(chunks: ChangedChunk[]): SeriesDelta[] {
  const out: SeriesDelta[] = [];
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
