/**
 * The writer thread: the one owner of this process's database connections.
 * It drains the shared ring, and writes when 100 points are buffered, every
 * 5 seconds, or when asked to flush, in BEGIN IMMEDIATE transactions of at
 * most MAX_POINTS_PER_TRANSACTION points. A failed write keeps every point and
 * is retried; points are dropped (and counted) only past MAX_PENDING_POINTS,
 * or when the database file was removed or replaced under the run.
 * The loop never yields to the event loop, so a busy main thread cannot
 * delay the 5-second flush.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { checkpointIfLarge, type Db, openDatabase, runImmediate } from "../store/connection.js";
import {
  appendPoints,
  ensureSeries,
  finishRun,
  mergeRunConfig,
  type NewRun,
  runExists,
  setRunTagsOrNotes,
  startRunRow,
  touchHeartbeat,
  updateGitProvenance,
} from "../store/writes.js";
import { logger } from "../util/logger.js";
import { nextBatch } from "./batches.js";
import {
  type ControlMessage,
  Ctrl,
  FLUSH_EVERY_POINTS,
  FLUSH_INTERVAL_MS,
  HEARTBEAT_INTERVAL_MS,
  MAX_PENDING_POINTS,
  RECORD_FIELDS,
  RING_RECORDS,
  type StartReply,
  type UnwrittenPoints,
} from "./protocol.js";

interface Ports {
  ctrl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  control: MessagePort;
  replies: MessagePort;
  errors: MessagePort;
  unwritten: MessagePort;
}

const ports = workerData as Ports;
const ctrl = new Int32Array(ports.ctrl);
const ring = new Float64Array(ports.ring);
const MASK = RING_RECORDS - 1;
const MAX_RETRY_DELAY_MS = 5000;
/** Each kind of warning prints at most once per this window; the ones held back are counted and reported. */
const WARNING_WINDOW_MS = 30_000;

interface RunState {
  id: string;
  dbPath: string;
  seq: number;
  /** Still running in this process: it gets heartbeats. */
  active: boolean;
  /** Its database file was removed or replaced: its points are discarded. */
  lost: boolean;
  /** Points discarded since the file was lost. */
  discarded: number;
  /** Points dropped because more than MAX_PENDING_POINTS were waiting. */
  dropped: number;
  /** Its row was deleted from the database (warned once). */
  deleted: boolean;
}

interface SeriesSlot {
  dbPath: string;
  runSeq: number;
  run: RunState;
  key: string;
  seriesId: number | null;
  steps: number[];
  values: number[];
  times: number[];
}

interface OpenDatabase {
  db: Db;
  /** The file right after it was opened (absolute path, device, inode), to notice it being removed or replaced; null in memory. */
  identity: { path: string; dev: number; ino: number } | null;
}

type PendingOp = Exclude<ControlMessage, { op: "start" } | { op: "series" }>;

const databases = new Map<string, OpenDatabase>();
const slots: SeriesSlot[] = [];
/** Slots holding points not yet written, so a write never scans every series ever logged. */
const dirty = new Set<SeriesSlot>();
/** Runs this process started or resumed, by runKey. */
const runs = new Map<string, RunState>();
let pendingOps: PendingOp[] = [];
let pendingPoints = 0;
let dropping = false;
let lastHeartbeat = 0;
let failingSince: number | null = null;
let retryDelay = 100;

interface WarningState {
  last: number;
  held: number;
  lastHeld: string;
}
const warnings = new Map<string, WarningState>();

/** Warns through the logger, at most once per kind per WARNING_WINDOW_MS; held-back ones are counted and reported later. */
function warn(kind: string, message: string): void {
  const now = Date.now();
  let state = warnings.get(kind);
  if (state === undefined) {
    state = { last: Number.NEGATIVE_INFINITY, held: 0, lastHeld: "" };
    warnings.set(kind, state);
  }
  if (now - state.last < WARNING_WINDOW_MS) {
    state.held++;
    state.lastHeld = message;
    return;
  }
  const held = state.held > 0 ? ` (${state.held} more "${kind}" warnings were held back before this one)` : "";
  state.last = now;
  state.held = 0;
  logger.warn(`${message}${held}`);
}

/** Reports the warnings held back by the rate limit, so none is lost silently. */
function reportHeldWarnings(): void {
  for (const [kind, state] of warnings) {
    if (state.held === 0) continue;
    logger.warn(
      `${state.held} more "${kind}" warnings were held back (at most one per ${WARNING_WINDOW_MS / 1000} s); the last: ${state.lastHeld}`,
    );
    state.held = 0;
    state.last = Date.now();
  }
}

function database(path: string): Db {
  let open = databases.get(path);
  if (!open) {
    const db = openDatabase(path);
    // Absolute, so a later process.chdir() does not make the file look gone.
    const absolute = resolve(path);
    const stat = path === ":memory:" ? null : statSync(absolute);
    open = { db, identity: stat === null ? null : { path: absolute, dev: stat.dev, ino: stat.ino } };
    databases.set(path, open);
  }
  return open.db;
}

function runKey(dbPath: string, seq: number): string {
  return `${dbPath}\u0000${seq}`;
}

function reply(message: StartReply): void {
  ports.replies.postMessage(message);
  Atomics.add(ctrl, Ctrl.Reply, 1);
  Atomics.notify(ctrl, Ctrl.Reply);
}

/** Makes a strict run's next call throw WriteError with this message. */
function signalError(message: string): void {
  Atomics.add(ctrl, Ctrl.Errors, 1);
  ports.errors.postMessage(message);
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
      runId: message.runId,
      project: message.project,
    };
    const started = runImmediate(db, () => startRunRow(db, message.resume, run));
    runs.set(runKey(message.dbPath, started.seq), {
      id: started.id,
      dbPath: message.dbPath,
      seq: started.seq,
      active: true,
      lost: false,
      discarded: 0,
      dropped: 0,
      deleted: false,
    });
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
        run: runs.get(runKey(message.dbPath, message.runSeq))!,
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
    tail = (tail + 1) | 0;
    if (slot.run.lost) {
      slot.run.discarded++;
      continue;
    }
    if (pendingPoints >= MAX_PENDING_POINTS) {
      dropPoint(slot.run);
      continue;
    }
    if (slot.values.length === 0) dirty.add(slot);
    slot.steps.push(ring[at + 1]);
    slot.values.push(ring[at + 2]);
    slot.times.push(ring[at + 3]);
    pendingPoints++;
  }
  Atomics.store(ctrl, Ctrl.Tail, tail);
}

function dropPoint(run: RunState): void {
  run.dropped++;
  if (dropping) return;
  dropping = true;
  warn(
    "dropping points",
    `more than ${MAX_PENDING_POINTS} points are waiting to be written (set by STONKS_MAX_PENDING_POINTS); new points are dropped and counted until the writes catch up.`,
  );
}

function reportFailure(path: string, error: Error, now: number): void {
  failingSince ??= now;
  signalError(`a write to ${path} failed (${error.message}); the points are kept and retried`);
  warn(
    "could not write",
    `could not write ${pendingPoints} buffered points to ${path} (${error.message}); they are kept in memory and retried.`,
  );
}

/**
 * R10: the path no longer names the file this process opened (removed, or
 * replaced by another file). Writing on would put points in a file nobody can
 * read, or into someone else's runs.
 */
function fileIsGone(open: OpenDatabase): boolean {
  const identity = open.identity;
  if (identity === null) return false;
  try {
    const stat = statSync(identity.path);
    return stat.dev !== identity.dev || stat.ino !== identity.ino;
  } catch {
    return true;
  }
}

function checkFiles(): void {
  for (const [path, open] of databases) if (fileIsGone(open)) loseDatabase(path, open);
}

function loseDatabase(path: string, open: OpenDatabase): void {
  databases.delete(path);
  try {
    open.db.close();
  } catch {
    // A connection to an unlinked file may fail to close cleanly; it is never used again.
  }
  for (const run of runs.values()) {
    if (run.dbPath !== path || !run.active || run.lost) continue;
    run.lost = true;
    const message = `the database file ${path} was removed or replaced while run ${run.id} was logging; the points logged after this are discarded`;
    logger.warn(`${message}.`);
    signalError(message);
  }
  for (const slot of [...dirty]) {
    if (!slot.run.lost) continue;
    slot.run.discarded += slot.values.length;
    clearSlot(slot, slot.values.length);
  }
  settleLostOps();
}

/** Operations of runs whose file is gone: nothing to write; a finish reports what was discarded. */
function settleLostOps(): void {
  pendingOps = pendingOps.filter((op) => {
    const run = runs.get(runKey(op.dbPath, op.runSeq));
    if (run === undefined || !run.lost) return true;
    if (op.op === "finish") {
      run.active = false;
      logger.warn(
        `run ${run.id}: ${run.discarded} points logged after its database file ${run.dbPath} was removed or replaced were discarded; its status there was not updated.`,
      );
      runs.delete(runKey(op.dbPath, op.runSeq));
    }
    return false;
  });
}

/** The first `count` numbers as floats, without an intermediate copy when that is all of them. */
function head(numbers: number[], count: number): Float64Array {
  return Float64Array.from(count === numbers.length ? numbers : numbers.slice(0, count));
}

function clearSlot(slot: SeriesSlot, count: number): void {
  pendingPoints -= count;
  if (count >= slot.values.length) {
    slot.steps = [];
    slot.values = [];
    slot.times = [];
    dirty.delete(slot);
  } else {
    slot.steps.splice(0, count);
    slot.values.splice(0, count);
    slot.times.splice(0, count);
  }
}

/**
 * Writes every buffered point and pending operation (only the heartbeats when
 * `everything` is false); returns false when a write failed.
 */
function writePending(nowMs: number, everything = true): boolean {
  const heartbeatDue = nowMs - lastHeartbeat >= HEARTBEAT_INTERVAL_MS;
  if (heartbeatDue) checkFiles();
  settleLostOps();
  const paths = new Set<string>();
  if (everything) {
    for (const slot of dirty) paths.add(slot.dbPath);
    for (const op of pendingOps) paths.add(op.dbPath);
  }
  if (heartbeatDue) for (const run of runs.values()) if (run.active && !run.lost) paths.add(run.dbPath);
  let ok = true;
  for (const path of paths) {
    try {
      if (everything) writeDatabase(path, nowMs / 1000, heartbeatDue);
      else writeHeartbeats(path, nowMs / 1000);
    } catch (error) {
      ok = false;
      reportFailure(path, error as Error, nowMs);
    }
  }
  if (heartbeatDue && ok) lastHeartbeat = nowMs;
  if (ok && paths.size > 0) {
    Atomics.add(ctrl, Ctrl.Written, 1);
    Atomics.notify(ctrl, Ctrl.Written);
  }
  if (pendingPoints < MAX_PENDING_POINTS) dropping = false;
  if (ok && failingSince !== null) {
    warn(
      "writes recovered",
      `writes recovered after ${Math.round((nowMs - failingSince) / 1000)} s; no buffered point was lost.`,
    );
    failingSince = null;
  }
  return ok;
}

function writeHeartbeats(path: string, now: number): void {
  const db = database(path);
  runImmediate(db, () => {
    for (const run of runs.values())
      if (run.dbPath === path && run.active && !run.lost) touchHeartbeat(db, run.seq, now);
  });
}

/** Writes the path's backlog in bounded transactions, committing each; ops and heartbeats go with the last. */
function writeDatabase(path: string, now: number, heartbeatDue: boolean): void {
  const db = database(path);
  const ops = pendingOps.filter((op) => op.dbPath === path);
  for (;;) {
    const batch = nextBatch([...dirty].filter((slot) => slot.dbPath === path));
    const created = new Map<SeriesSlot, number>();
    const deleted = new Set<RunState>();
    runImmediate(db, () => {
      const exists = new Map<RunState, boolean>();
      for (const { series: slot, count } of batch.parts) {
        let alive = exists.get(slot.run);
        if (alive === undefined) {
          alive = runExists(db, slot.runSeq);
          exists.set(slot.run, alive);
        }
        if (!alive) {
          deleted.add(slot.run);
          continue;
        }
        const seriesId = slot.seriesId ?? ensureSeries(db, slot.runSeq, slot.key);
        if (slot.seriesId === null) created.set(slot, seriesId);
        appendPoints(db, seriesId, head(slot.steps, count), head(slot.values, count), head(slot.times, count));
      }
      if (!batch.complete) return;
      for (const op of ops) {
        if (op.op === "config") mergeRunConfig(db, op.runSeq, op.patch);
        else if (op.op === "git") updateGitProvenance(db, op.runSeq, op.commit, op.dirty);
        else if (op.op === "tags") setRunTagsOrNotes(db, op.runSeq, { field: "tags", tags: op.tags });
        else if (op.op === "notes") setRunTagsOrNotes(db, op.runSeq, { field: "notes", notes: op.notes });
        else finishRun(db, op.runSeq, op.status, now);
      }
      if (heartbeatDue) {
        for (const run of runs.values()) {
          if (run.dbPath === path && run.active && !run.lost) touchHeartbeat(db, run.seq, now);
        }
      }
    });
    for (const [slot, id] of created) slot.seriesId = id;
    for (const { series: slot, count } of batch.parts) clearSlot(slot, count);
    // Between commits, so a backlog written in many transactions keeps the log bounded too.
    checkpointIfLarge(db);
    for (const run of deleted) {
      if (run.deleted) continue;
      run.deleted = true;
      warn("run deleted", `run ${run.id} was deleted from ${path} while logging; its new points are discarded.`);
    }
    if (batch.complete) break;
  }
  pendingOps = pendingOps.filter((op) => op.dbPath !== path);
  for (const op of ops) if (op.op === "finish") finishedRun(runKey(path, op.runSeq));
}

/** A finished run: report what it lost and the warnings held back. */
function finishedRun(key: string): void {
  const run = runs.get(key);
  if (run === undefined) return;
  run.active = false;
  runs.delete(key);
  if (run.dropped > 0) {
    logger.warn(
      `run ${run.id}: ${run.dropped} points were dropped because more than ${MAX_PENDING_POINTS} were waiting to be written.`,
    );
  }
  reportHeldWarnings();
}

/** What is not in the database yet, per run: the main thread says it at exit. */
function reportUnwritten(): void {
  const byRun = new Map<RunState, UnwrittenPoints>();
  const entry = (run: RunState) => {
    let found = byRun.get(run);
    if (found === undefined) {
      found = { runId: run.id, dbPath: run.dbPath, pending: 0, dropped: run.dropped };
      byRun.set(run, found);
    }
    return found;
  };
  for (const slot of dirty) entry(slot.run).pending += slot.values.length;
  for (const run of runs.values()) if (run.dropped > 0) entry(run);
  ports.unwritten.postMessage([...byRun.values()]);
}

function loop(): never {
  // Not a value the counter holds yet, so the first wait returns at once and
  // handles whatever the main thread sent while this thread was booting.
  let seenSignal = Atomics.load(ctrl, Ctrl.Signal) - 1;
  let nextTimedFlush = Date.now() + FLUSH_INTERVAL_MS;
  let retryAt = 0;
  for (;;) {
    const now = Date.now();
    // Heartbeats (and the check that the file is still there) keep their 5 s even with a longer
    // STONKS_FLUSH_INTERVAL; while writes fail, the retry ticks carry them.
    const heartbeatAt =
      failingSince === null && runs.size > 0 ? lastHeartbeat + HEARTBEAT_INTERVAL_MS : Number.POSITIVE_INFINITY;
    const deadline = Math.min(failingSince !== null ? Math.min(retryAt, nextTimedFlush) : nextTimedFlush, heartbeatAt);
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
    if (due || wake >= heartbeatAt) {
      ok = writePending(wake, due);
      if (ok) {
        retryDelay = 100;
      } else {
        retryAt = wake + retryDelay;
        retryDelay = Math.min(MAX_RETRY_DELAY_MS, retryDelay * 2);
      }
    }
    if (flushWanted) {
      if (!ok) reportUnwritten();
      Atomics.store(ctrl, Ctrl.FlushFailed, ok ? 0 : 1);
      Atomics.store(ctrl, Ctrl.FlushDone, flushRequested);
      Atomics.notify(ctrl, Ctrl.FlushDone);
    }
  }
}

loop();
