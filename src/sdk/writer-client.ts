/**
 * The main-thread side of the process-wide writer: owns the worker, the shared
 * ring and the exit/signal hooks that drain it. Run objects talk to it; the
 * hot path (push) writes four floats into shared memory and nothing else.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { StonksError, WriteError } from "../errors.js";
import type { FinishStatus } from "../types.js";
import { logger } from "../util/logger.js";
import {
  type ControlMessage,
  CTRL_SLOTS,
  Ctrl,
  FLUSH_EVERY_POINTS,
  type ImportReply,
  MAX_PENDING_POINTS,
  RECORD_FIELDS,
  RING_RECORDS,
  type ShipMessage,
  type StartReply,
  type UnwrittenPoints,
} from "./protocol.js";

const MASK = RING_RECORDS - 1;
/** Points kept in memory while the ring is full, before counted drops begin. */
const OVERFLOW_CAP = MAX_PENDING_POINTS;
const OVERFLOW_BLOCK = 1 << 16;
const START_TIMEOUT_MS = 30_000;
/** A resume waits this long for its run to be read from the server. */
const IMPORT_TIMEOUT_MS = 60_000;
/** At exit, failed shipping passes in a row, none acknowledging a point, after which the server counts as away. */
const EXIT_FAILED_PASSES = 3;
/** How long the exit hooks keep retrying a failing write: 30 s, or STONKS_EXIT_TIMEOUT seconds. */
const EXIT_FLUSH_TIMEOUT_MS =
  Number(process.env.STONKS_EXIT_TIMEOUT) > 0 ? Number(process.env.STONKS_EXIT_TIMEOUT) * 1000 : 30_000;

/** Called by the exit hooks so unfinished runs record their final status first. */
export interface ExitParticipant {
  onProcessExit(status: FinishStatus): void;
}

/** Flags meant for the main script (node --input-type=module -e ...) break a worker's boot. */
function workerExecArgv(): string[] {
  return process.execArgv.filter((flag) => !/^--(input-type|eval|print)\b|^-[ep]$/.test(flag));
}

export class WriterClient {
  private readonly ctrl: Int32Array;
  private readonly ring: Float64Array;
  private readonly worker: Worker;
  private readonly control: MessageChannel;
  private readonly replies: MessageChannel;
  private readonly errors: MessageChannel;
  private readonly unwritten: MessageChannel;
  /** Run id of each series slot, to say at exit whose points were not written. */
  private readonly slotRuns: string[] = [];
  private head = 0;
  private cachedTail = 0;
  private sinceSignal = 0;
  private nextSlot = 0;
  /** Points waiting while the ring is full: blocks of records, read from the front. */
  private overflow: Float64Array[] = [];
  private overflowRead = 0;
  private overflowWrite = 0;
  private overflowCount = 0;
  private droppedPoints = 0;
  private seenErrors = 0;
  private lastError: string | null = null;
  private readonly participants = new Set<ExitParticipant>();
  private hooksInstalled = false;
  /** Set once the worker has died; waits on it would never end. */
  private dead = false;
  /** The shipper thread, started by the first remote run. */
  private shipWorker: Worker | null = null;
  private readonly shipMessages = new MessageChannel();
  private readonly shipErrors = new MessageChannel();
  private readonly shipTargets = new Set<string>();

  constructor() {
    const ctrlBuffer = new SharedArrayBuffer(CTRL_SLOTS * 4);
    const ringBuffer = new SharedArrayBuffer(RING_RECORDS * RECORD_FIELDS * 8);
    this.ctrl = new Int32Array(ctrlBuffer);
    this.ring = new Float64Array(ringBuffer);
    this.control = new MessageChannel();
    this.replies = new MessageChannel();
    this.errors = new MessageChannel();
    this.unwritten = new MessageChannel();
    this.worker = new Worker(new URL("./writer-worker.js", import.meta.url), {
      workerData: {
        ctrl: ctrlBuffer,
        ring: ringBuffer,
        control: this.control.port2,
        replies: this.replies.port2,
        errors: this.errors.port2,
        unwritten: this.unwritten.port2,
      },
      transferList: [this.control.port2, this.replies.port2, this.errors.port2, this.unwritten.port2],
      execArgv: workerExecArgv(),
    });
    // The writer must never keep a finished script alive; exit hooks drain it.
    this.worker.unref();
    for (const port of [this.control.port1, this.replies.port1, this.errors.port1, this.unwritten.port1]) port.unref();
    this.worker.on("error", (error) => {
      this.dead = true;
      logger.error(`the stonks writer thread failed: ${error.message}`);
    });
    this.worker.on("exit", () => {
      this.dead = true;
    });
  }

  /** Creates or resumes a run and waits for its ids (start is synchronous). */
  start(message: Extract<ControlMessage, { op: "start" }>): StartReply {
    if (this.dead) throw new StonksError("the stonks writer thread is not running (see the error above).");
    this.installExitHooks();
    const before = Atomics.load(this.ctrl, Ctrl.Reply);
    this.control.port1.postMessage(message);
    this.wake();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Atomics.load(this.ctrl, Ctrl.Reply) === before) {
      const left = deadline - Date.now();
      if (left <= 0) throw new StonksError("the stonks writer thread did not answer within 30 s");
      Atomics.wait(this.ctrl, Ctrl.Reply, before, left);
    }
    const received = receiveMessageOnPort(this.replies.port1);
    if (received === undefined) throw new StonksError("the stonks writer thread answered without a reply");
    return received.message as StartReply;
  }

  /**
   * Ships the spool file of a remote run to its server from now on (the file
   * exists: its run was started), and marks the run as this process's own.
   */
  shipRun(url: string, token: string | null, spool: string, runId: string): void {
    this.startShipper();
    if (!this.shipTargets.has(spool)) {
      this.shipTargets.add(spool);
      this.shipMessages.port1.postMessage({ op: "server", url, token, spool } satisfies ShipMessage);
    }
    this.shipMessages.port1.postMessage({ op: "own", spool, runId } satisfies ShipMessage);
    // Wakes the shipper so it reads the messages now.
    Atomics.add(this.ctrl, Ctrl.Written, 1);
    Atomics.notify(this.ctrl, Ctrl.Written);
  }

  private startShipper(): void {
    if (this.shipWorker !== null) return;
    this.shipWorker = new Worker(new URL("./ship-worker.js", import.meta.url), {
      workerData: { ctrl: this.ctrl.buffer, messages: this.shipMessages.port2, errors: this.shipErrors.port2 },
      transferList: [this.shipMessages.port2, this.shipErrors.port2],
      execArgv: workerExecArgv(),
    });
    this.shipWorker.unref();
    for (const port of [this.shipMessages.port1, this.shipErrors.port1]) port.unref();
    this.shipWorker.on("error", (error) => logger.error(`the stonks shipper thread failed: ${error.message}`));
  }

  /**
   * Before a remote resume: brings the run `target` names ("latest" of the
   * experiment, or an id) from the server into the spool when the spool lacks
   * it. Blocks (start is synchronous); returns why it failed, or null.
   */
  importFromServer(
    url: string,
    token: string | null,
    spool: string,
    target: string,
    experiment: string,
  ): string | null {
    this.startShipper();
    const before = Atomics.load(this.ctrl, Ctrl.ImportReplies);
    this.shipMessages.port1.postMessage({ op: "import", url, token, spool, target, experiment } satisfies ShipMessage);
    const deadline = Date.now() + IMPORT_TIMEOUT_MS;
    while (Atomics.load(this.ctrl, Ctrl.ImportReplies) === before) {
      const left = deadline - Date.now();
      if (left <= 0) return `no answer within ${IMPORT_TIMEOUT_MS / 1000} s`;
      Atomics.wait(this.ctrl, Ctrl.ImportReplies, before, left);
    }
    return (receiveMessageOnPort(this.shipMessages.port1)?.message as ImportReply | undefined)?.error ?? null;
  }

  /** A new series slot; the worker learns its (run, key) before any point uses it. */
  registerSeries(dbPath: string, runSeq: number, runId: string, key: string): number {
    const slot = this.nextSlot++;
    this.slotRuns[slot] = runId;
    this.control.port1.postMessage({ op: "series", slot, runSeq, runId, dbPath, key } satisfies ControlMessage);
    return slot;
  }

  /** Queues an operation; it is written with the next batch of points (flush, timer or 100 points). */
  send(message: ControlMessage): void {
    this.control.port1.postMessage(message);
  }

  /** Appends one point to the ring. The hot path: no allocation, no I/O. */
  push(slot: number, step: number, value: number, time: number): void {
    if (this.overflowCount > 0 || ((this.head - this.cachedTail) | 0) >= RING_RECORDS) {
      this.pushSlow(slot, step, value, time);
      return;
    }
    const at = (this.head & MASK) * RECORD_FIELDS;
    const ring = this.ring;
    ring[at] = slot;
    ring[at + 1] = step;
    ring[at + 2] = value;
    ring[at + 3] = time;
    this.head = (this.head + 1) | 0;
    this.sinceSignal++;
  }

  /** Publishes the points pushed since the last commit; wakes the worker every 100 points. */
  commit(): void {
    Atomics.store(this.ctrl, Ctrl.Head, this.head);
    if (this.sinceSignal >= FLUSH_EVERY_POINTS) {
      this.sinceSignal = 0;
      this.wake();
    }
  }

  private pushSlow(slot: number, step: number, value: number, time: number): void {
    this.cachedTail = Atomics.load(this.ctrl, Ctrl.Tail);
    this.moveOverflow();
    if (this.overflowCount === 0 && ((this.head - this.cachedTail) | 0) < RING_RECORDS) {
      this.push(slot, step, value, time);
      return;
    }
    if (this.overflowCount >= OVERFLOW_CAP) {
      if (this.droppedPoints === 0) {
        logger.warn(
          `more than ${OVERFLOW_CAP} points are waiting to be written; new points are dropped and counted until the disk catches up.`,
        );
      }
      this.droppedPoints++;
      return;
    }
    let block = this.overflow[this.overflow.length - 1];
    if (block === undefined || this.overflowWrite === OVERFLOW_BLOCK) {
      block = new Float64Array(OVERFLOW_BLOCK * RECORD_FIELDS);
      this.overflow.push(block);
      this.overflowWrite = 0;
    }
    const at = this.overflowWrite * RECORD_FIELDS;
    block[at] = slot;
    block[at + 1] = step;
    block[at + 2] = value;
    block[at + 3] = time;
    this.overflowWrite++;
    this.overflowCount++;
    if (this.overflowCount % FLUSH_EVERY_POINTS === 0) this.wake();
  }

  /** Moves as many overflowed points as fit into the ring, oldest first. */
  private moveOverflow(): void {
    let moved = 0;
    while (this.overflowCount > 0) {
      const free = RING_RECORDS - ((this.head - this.cachedTail) | 0);
      if (free <= 0) break;
      const block = this.overflow[0];
      const blockEnd = this.overflow.length === 1 ? this.overflowWrite : OVERFLOW_BLOCK;
      const position = this.head & MASK;
      const take = Math.min(free, blockEnd - this.overflowRead, RING_RECORDS - position);
      this.ring.set(
        block.subarray(this.overflowRead * RECORD_FIELDS, (this.overflowRead + take) * RECORD_FIELDS),
        position * RECORD_FIELDS,
      );
      this.head = (this.head + take) | 0;
      this.overflowRead += take;
      this.overflowCount -= take;
      moved += take;
      if (this.overflowRead === blockEnd) {
        this.overflow.shift();
        this.overflowRead = 0;
        if (this.overflow.length === 0) this.overflowWrite = 0;
      }
    }
    if (moved > 0) Atomics.store(this.ctrl, Ctrl.Head, this.head);
  }

  private wake(): void {
    Atomics.add(this.ctrl, Ctrl.Signal, 1);
    if (Atomics.load(this.ctrl, Ctrl.Sleeping) === 1) Atomics.notify(this.ctrl, Ctrl.Signal);
  }

  /** The message of a write failure not yet reported to strict runs, or null. */
  takeWriteError(): string | null {
    const errors = Atomics.load(this.ctrl, Ctrl.Errors);
    if (errors === this.seenErrors) return null;
    this.seenErrors = errors;
    for (const port of [this.errors.port1, this.shipErrors.port1]) {
      for (;;) {
        const received = receiveMessageOnPort(port);
        if (received === undefined) break;
        this.lastError = received.message as string;
      }
    }
    return this.lastError ?? "a write to the database failed; the points are kept and retried";
  }

  private requestFlush(): number {
    this.commit();
    const request = Atomics.add(this.ctrl, Ctrl.FlushRequested, 1) + 1;
    this.wake();
    return request;
  }

  /** Resolves once every point logged before the call has been written (rejects with WriteError if it failed). */
  async flush(): Promise<void> {
    while (this.overflowCount > 0) {
      this.cachedTail = Atomics.load(this.ctrl, Ctrl.Tail);
      this.moveOverflow();
      if (this.overflowCount > 0) await this.waitForFlush(this.requestFlush());
    }
    await this.waitForFlush(this.requestFlush());
    if (this.shipWorker !== null) await this.waitForShipping();
    // The failure is reported here, so a strict run's next log() does not raise it again.
    const message = this.takeWriteError() ?? this.lastError;
    if (Atomics.load(this.ctrl, Ctrl.FlushFailed) === 1) {
      throw new WriteError(`points could not be written yet: ${message}.`);
    }
  }

  /**
   * Remote runs: resolves once a shipping pass that began after the last write
   * has ended, so the points are on the server; at once while the server is
   * away (the points are in the spool, which is what flush promises then).
   */
  private async waitForShipping(): Promise<void> {
    const written = Atomics.load(this.ctrl, Ctrl.Written);
    // Cuts short the gap between passes; a shipper backing off from a failing server keeps its back-off.
    if (Atomics.load(this.ctrl, Ctrl.ShipOk) === 1) {
      Atomics.add(this.ctrl, Ctrl.ShipNow, 1);
      Atomics.notify(this.ctrl, Ctrl.ShipNow);
    }
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      for (;;) {
        const passes = Atomics.load(this.ctrl, Ctrl.ShipPasses);
        if (this.shippedSince(written)) return;
        const result = Atomics.waitAsync(this.ctrl, Ctrl.ShipPasses, passes);
        if (result.async) await result.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** A pass that began at or after `written` has ended, or the last pass failed (the server is away). */
  private shippedSince(written: number): boolean {
    if (Atomics.load(this.ctrl, Ctrl.ShipOk) === 0 && Atomics.load(this.ctrl, Ctrl.ShipPasses) > 0) return true;
    return (
      ((Atomics.load(this.ctrl, Ctrl.ShipSeen) - written) | 0) >= 0 && Atomics.load(this.ctrl, Ctrl.ShipPasses) > 0
    );
  }

  /**
   * Blocks until a pass after the last write acknowledged everything, or the
   * deadline passed, or EXIT_FAILED_PASSES passes in a row failed without the
   * server acknowledging a point (it is away: the spool keeps them). For exit
   * paths only; the shipper retries at once instead of backing off.
   */
  private shipSync(deadline: number): boolean {
    const written = Atomics.load(this.ctrl, Ctrl.Written);
    let passes = Atomics.load(this.ctrl, Ctrl.ShipPasses);
    let sent = Atomics.load(this.ctrl, Ctrl.ShipSent);
    let fruitless = 0;
    const caughtUp = () =>
      Atomics.load(this.ctrl, Ctrl.ShipOk) === 1 && ((Atomics.load(this.ctrl, Ctrl.ShipSeen) - written) | 0) >= 0;
    if (passes > 0 && caughtUp()) return true;
    for (;;) {
      // Wakes the shipper whether it idles (Written) or backs off (ShipNow).
      for (const slot of [Ctrl.ShipNow, Ctrl.Written]) {
        Atomics.add(this.ctrl, slot, 1);
        Atomics.notify(this.ctrl, slot);
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.ctrl, Ctrl.ShipPasses, passes, Math.min(left, 1000));
      const now = Atomics.load(this.ctrl, Ctrl.ShipPasses);
      if (now === passes) continue;
      passes = now;
      const ok = Atomics.load(this.ctrl, Ctrl.ShipOk) === 1;
      if (caughtUp()) return true;
      const sentNow = Atomics.load(this.ctrl, Ctrl.ShipSent);
      fruitless = ok || sentNow !== sent ? 0 : fruitless + 1;
      sent = sentNow;
      if (fruitless >= EXIT_FAILED_PASSES) return false;
    }
  }

  private async waitForFlush(request: number): Promise<void> {
    // A pending Atomics.waitAsync does not keep Node's event loop alive.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      for (;;) {
        const done = Atomics.load(this.ctrl, Ctrl.FlushDone);
        if (done >= request) return;
        const result = Atomics.waitAsync(this.ctrl, Ctrl.FlushDone, done);
        if (result.async) await result.value;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Blocks until everything buffered is written or the timeout passes; for exit paths only. */
  flushSync(timeoutMs = EXIT_FLUSH_TIMEOUT_MS): boolean {
    if (this.dead) return false;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.cachedTail = Atomics.load(this.ctrl, Ctrl.Tail);
      this.moveOverflow();
      const request = this.requestFlush();
      for (;;) {
        const done = Atomics.load(this.ctrl, Ctrl.FlushDone);
        if (done >= request) break;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(this.ctrl, Ctrl.FlushDone, done, left);
      }
      const failed = Atomics.load(this.ctrl, Ctrl.FlushFailed) === 1;
      if (!failed && this.overflowCount === 0) return true;
      if (Date.now() >= deadline) return false;
      // Back off before asking the worker to retry the failed write.
      if (failed) Atomics.wait(this.ctrl, Ctrl.Signal, Atomics.load(this.ctrl, Ctrl.Signal), 200);
    }
  }

  addParticipant(participant: ExitParticipant): void {
    this.participants.add(participant);
  }

  removeParticipant(participant: ExitParticipant): void {
    this.participants.delete(participant);
  }

  private installExitHooks(): void {
    if (this.hooksInstalled) return;
    this.hooksInstalled = true;
    process.on("exit", (code) => this.drainAtExit(code === 0 ? "completed" : "failed"));
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const handler = () => {
        this.drainAtExit("interrupted");
        process.removeListener(signal, handler);
        // Let the signal do what it would have done without us.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      };
      process.on(signal, handler);
    }
  }

  /** Gives unfinished runs `status`, then writes everything still buffered. */
  private drainAtExit(status: FinishStatus): void {
    for (const participant of [...this.participants]) participant.onProcessExit(status);
    if (!this.flushSync()) {
      this.takeWriteError();
      logger.error(
        `exiting before every point could be written (${this.lastError ?? "the writer did not finish in time"}); not written: ${this.describeUnwritten()}.`,
      );
    }
    if (this.droppedPoints > 0) logger.error(`${this.droppedPoints} points were dropped because the disk fell behind.`);
    if (this.shipWorker !== null && !this.shipSync(Date.now() + EXIT_FLUSH_TIMEOUT_MS)) {
      logger.warn(
        `exiting before the server acknowledged every point; they are kept in ${[...this.shipTargets].join(", ")} and sent by the next stonks process logging to that server, or by stonks sync.`,
      );
    }
  }

  /** Per run: points the writer holds (its last report) plus points it has not taken from the ring yet. */
  private describeUnwritten(): string {
    const byRun = new Map<string, { dbPath: string; points: number; dropped: number }>();
    let latest: UnwrittenPoints[] = [];
    for (;;) {
      const received = receiveMessageOnPort(this.unwritten.port1);
      if (received === undefined) break;
      latest = received.message as UnwrittenPoints[];
    }
    for (const entry of latest)
      byRun.set(entry.runId, { dbPath: entry.dbPath, points: entry.pending, dropped: entry.dropped });
    const countRecord = (slot: number) => {
      const runId = this.slotRuns[slot];
      const found = byRun.get(runId);
      if (found) found.points++;
      else byRun.set(runId, { dbPath: "", points: 1, dropped: 0 });
    };
    const tail = Atomics.load(this.ctrl, Ctrl.Tail);
    for (let record = tail; record !== this.head; record = (record + 1) | 0) {
      countRecord(this.ring[(record & MASK) * RECORD_FIELDS]);
    }
    for (let b = 0; b < this.overflow.length; b++) {
      const block = this.overflow[b];
      const end = b === this.overflow.length - 1 ? this.overflowWrite : OVERFLOW_BLOCK;
      for (let i = b === 0 ? this.overflowRead : 0; i < end; i++) countRecord(block[i * RECORD_FIELDS]);
    }
    const parts = [...byRun].map(([runId, entry]) => {
      const where = entry.dbPath === "" ? "" : ` (${entry.dbPath})`;
      const dropped = entry.dropped > 0 ? `, and ${entry.dropped} dropped earlier` : "";
      return `${entry.points} points of run ${runId}${where}${dropped}`;
    });
    return parts.length === 0 ? "the runs' final status" : parts.join("; ");
  }
}

let shared: WriterClient | null = null;
let prestart: NodeJS.Immediate | null = null;

/** The process-wide writer, started on first use. */
export function writer(): WriterClient {
  cancelWriterPrestart();
  shared ??= new WriterClient();
  return shared;
}

/**
 * Boots the writer on the first turn of the event loop after import. Booting a
 * worker thread takes tens of milliseconds; a training script's first await
 * (loading data) hides it, so startRun() does not wait for it later.
 */
export function prestartWriter(): void {
  if (shared !== null || prestart !== null) return;
  prestart = setImmediate(writer);
  // A script with nothing left to do must not stay alive, nor boot a thread, for this.
  prestart.unref();
}

/** A script that opens a database before its first turn is a reader: it gets no thread until it starts a run. */
export function cancelWriterPrestart(): void {
  if (prestart === null) return;
  clearImmediate(prestart);
  prestart = null;
}
