/**
 * The writer thread: the one owner of this process's database connections.
 * It drains the shared ring, and writes when 100 points are buffered, every
 * 5 seconds, or when asked to flush, in short BEGIN IMMEDIATE transactions.
 * A failed write keeps every point and is retried; nothing is dropped.
 * The loop never yields to the event loop, so a busy main thread cannot
 * delay the 5-second flush.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { checkpointIfLarge, type Db, openDatabase, runImmediate } from "../store/connection.js";
import {
  appendPoints,
  ensureSeries,
  finishRun,
  insertRun,
  mergeRunConfig,
  type NewRun,
  resumeRun,
  runExists,
  touchHeartbeat,
  updateGitProvenance,
} from "../store/writes.js";
import { logger } from "../util/logger.js";
import {
  type ControlMessage,
  Ctrl,
  FLUSH_EVERY_POINTS,
  FLUSH_INTERVAL_MS,
  HEARTBEAT_INTERVAL_MS,
  RECORD_FIELDS,
  RING_RECORDS,
  type StartReply,
} from "./protocol.js";

interface Ports {
  ctrl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  control: MessagePort;
  replies: MessagePort;
  errors: MessagePort;
}

const ports = workerData as Ports;
const ctrl = new Int32Array(ports.ctrl);
const ring = new Float64Array(ports.ring);
const MASK = RING_RECORDS - 1;
const MAX_RETRY_DELAY_MS = 5000;

interface SeriesSlot {
  dbPath: string;
  runSeq: number;
  key: string;
  seriesId: number | null;
  steps: number[];
  values: number[];
  times: number[];
}

interface ActiveRun {
  dbPath: string;
  seq: number;
}

type PendingOp = Exclude<ControlMessage, { op: "start" } | { op: "series" }>;

const databases = new Map<string, Db>();
const slots: SeriesSlot[] = [];
/** Slots holding points not yet written, so a write never scans every series ever logged. */
const dirty = new Set<SeriesSlot>();
/** Runs of this process still running: they get heartbeats. */
const activeRuns = new Map<string, ActiveRun>();
let pendingOps: PendingOp[] = [];
let pendingPoints = 0;
let lastHeartbeat = 0;
let failingSince: number | null = null;
let lastFailureWarning = 0;
let retryDelay = 100;

function database(path: string): Db {
  let db = databases.get(path);
  if (!db) {
    db = openDatabase(path);
    databases.set(path, db);
  }
  return db;
}

function runKey(dbPath: string, seq: number): string {
  return `${dbPath}\u0000${seq}`;
}

function reply(message: StartReply): void {
  ports.replies.postMessage(message);
  Atomics.add(ctrl, Ctrl.Reply, 1);
  Atomics.notify(ctrl, Ctrl.Reply);
}

function startRun(message: Extract<ControlMessage, { op: "start" }>): void {
  // Whatever was logged before this start (a previous run's tail) goes first.
  writePending(Date.now());
  try {
    const db = database(message.dbPath);
    const now = Date.now() / 1000;
    const run: NewRun = {
      experimentName: message.experiment,
      name: message.name,
      config: message.config,
      tags: message.tags,
      group: message.group,
      jobType: message.jobType,
      notes: message.notes,
      now,
      provenance: {
        host: message.provenance.host,
        pid: message.provenance.pid,
        command: message.provenance.command,
        cwd: message.provenance.cwd,
        gitCommit: null,
        gitDirty: null,
        sdkLanguage: "typescript",
        sdkVersion: message.provenance.sdkVersion,
      },
    };
    const resume = message.resume;
    const started = runImmediate(db, () =>
      resume === null ? insertRun(db, run) : resumeRun(db, message.experiment, resume, run),
    );
    activeRuns.set(runKey(message.dbPath, started.seq), { dbPath: message.dbPath, seq: started.seq });
    reply({ ok: true, ...started });
  } catch (error) {
    const err = error as Error;
    reply({ ok: false, error: err.message, kind: err.name });
  }
}

function drainMessages(): void {
  for (;;) {
    const received = receiveMessageOnPort(ports.control);
    if (received === undefined) return;
    const message = received.message as ControlMessage;
    if (message.op === "start") {
      startRun(message);
    } else if (message.op === "series") {
      slots[message.slot] = {
        dbPath: message.dbPath,
        runSeq: message.runSeq,
        key: message.key,
        seriesId: null,
        steps: [],
        values: [],
        times: [],
      };
    } else {
      pendingOps.push(message);
    }
  }
}

function drainRing(): void {
  const head = Atomics.load(ctrl, Ctrl.Head);
  let tail = Atomics.load(ctrl, Ctrl.Tail);
  while (tail !== head) {
    const at = (tail & MASK) * RECORD_FIELDS;
    const slotIndex = ring[at];
    let slot = slots[slotIndex];
    if (slot === undefined) {
      // The series message is always posted before its first point.
      drainMessages();
      slot = slots[slotIndex];
    }
    if (slot.values.length === 0) dirty.add(slot);
    slot.steps.push(ring[at + 1]);
    slot.values.push(ring[at + 2]);
    slot.times.push(ring[at + 3]);
    pendingPoints++;
    tail = (tail + 1) | 0;
  }
  Atomics.store(ctrl, Ctrl.Tail, tail);
}

function reportFailure(error: Error, now: number): void {
  failingSince ??= now;
  Atomics.add(ctrl, Ctrl.Errors, 1);
  ports.errors.postMessage(error.message);
  if (now - lastFailureWarning > 30_000) {
    lastFailureWarning = now;
    logger.warn(
      `could not write ${pendingPoints} buffered points (${error.message}); they are kept in memory and retried.`,
    );
  }
}

/** Writes every buffered point and pending operation; returns false when a write failed. */
function writePending(nowMs: number): boolean {
  const heartbeatDue = nowMs - lastHeartbeat >= HEARTBEAT_INTERVAL_MS;
  const paths = new Set<string>();
  for (const slot of dirty) paths.add(slot.dbPath);
  for (const op of pendingOps) paths.add(op.dbPath);
  if (heartbeatDue) for (const run of activeRuns.values()) paths.add(run.dbPath);
  let ok = true;
  for (const path of paths) {
    try {
      writeDatabase(path, nowMs / 1000, heartbeatDue);
    } catch (error) {
      ok = false;
      reportFailure(error as Error, nowMs);
    }
  }
  if (heartbeatDue && ok) lastHeartbeat = nowMs;
  if (ok && failingSince !== null) {
    logger.warn(`writes recovered after ${Math.round((nowMs - failingSince) / 1000)} s; no point was lost.`);
    failingSince = null;
    lastFailureWarning = 0;
  }
  return ok;
}

function writeDatabase(path: string, now: number, heartbeatDue: boolean): void {
  const db = database(path);
  const mine = [...dirty].filter((slot) => slot.dbPath === path);
  const ops = pendingOps.filter((op) => op.dbPath === path);
  const created = new Map<SeriesSlot, number>();
  const dropped = new Set<number>();
  runImmediate(db, () => {
    const exists = new Map<number, boolean>();
    for (const slot of mine) {
      let alive = exists.get(slot.runSeq);
      if (alive === undefined) {
        alive = runExists(db, slot.runSeq);
        exists.set(slot.runSeq, alive);
      }
      if (!alive) {
        dropped.add(slot.runSeq);
        continue;
      }
      const seriesId = slot.seriesId ?? ensureSeries(db, slot.runSeq, slot.key);
      if (slot.seriesId === null) created.set(slot, seriesId);
      appendPoints(
        db,
        seriesId,
        Float64Array.from(slot.steps),
        Float64Array.from(slot.values),
        Float64Array.from(slot.times),
      );
    }
    for (const op of ops) {
      if (op.op === "config") mergeRunConfig(db, op.runSeq, op.patch);
      else if (op.op === "git") updateGitProvenance(db, op.runSeq, op.commit, op.dirty);
      else finishRun(db, op.runSeq, op.status, now);
    }
    if (heartbeatDue) {
      for (const run of activeRuns.values()) if (run.dbPath === path) touchHeartbeat(db, run.seq, now);
    }
  });
  for (const [slot, id] of created) slot.seriesId = id;
  for (const slot of mine) {
    dirty.delete(slot);
    pendingPoints -= slot.values.length;
    slot.steps = [];
    slot.values = [];
    slot.times = [];
  }
  for (const seq of dropped) {
    logger.warn(`run ${seq} was deleted from ${path} while logging; its new points were discarded.`);
  }
  pendingOps = pendingOps.filter((op) => op.dbPath !== path);
  for (const op of ops) if (op.op === "finish") activeRuns.delete(runKey(path, op.runSeq));
  checkpointIfLarge(db);
}

function loop(): never {
  // Not a value the counter holds yet, so the first wait returns at once and
  // handles whatever the main thread sent while this thread was booting.
  let seenSignal = Atomics.load(ctrl, Ctrl.Signal) - 1;
  let nextTimedFlush = Date.now() + FLUSH_INTERVAL_MS;
  let retryAt = 0;
  for (;;) {
    const now = Date.now();
    const deadline = failingSince !== null ? Math.min(retryAt, nextTimedFlush) : nextTimedFlush;
    // Announce the sleep before re-checking the signal, so a wake-up in between is never missed.
    Atomics.store(ctrl, Ctrl.Sleeping, 1);
    Atomics.wait(ctrl, Ctrl.Signal, seenSignal, Math.max(1, deadline - now));
    Atomics.store(ctrl, Ctrl.Sleeping, 0);
    seenSignal = Atomics.load(ctrl, Ctrl.Signal);
    const flushRequested = Atomics.load(ctrl, Ctrl.FlushRequested);
    const flushWanted = flushRequested !== Atomics.load(ctrl, Ctrl.FlushDone);
    drainMessages();
    drainRing();
    const wake = Date.now();
    const timed = wake >= nextTimedFlush;
    if (timed) nextTimedFlush = wake + FLUSH_INTERVAL_MS;
    const retrying = failingSince !== null;
    const due = flushWanted || timed || (retrying ? wake >= retryAt : pendingPoints >= FLUSH_EVERY_POINTS);
    let ok = true;
    if (due) {
      ok = writePending(wake);
      if (ok) {
        retryDelay = 100;
      } else {
        retryAt = wake + retryDelay;
        retryDelay = Math.min(MAX_RETRY_DELAY_MS, retryDelay * 2);
      }
    }
    if (flushWanted) {
      Atomics.store(ctrl, Ctrl.FlushFailed, ok ? 0 : 1);
      Atomics.store(ctrl, Ctrl.FlushDone, flushRequested);
      Atomics.notify(ctrl, Ctrl.FlushDone);
    }
  }
}

loop();
