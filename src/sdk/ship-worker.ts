/**
 * The shipper thread of remote runs (docs/remote.md). The writer thread writes
 * a remote run's points into the local spool file exactly as into a local
 * file; after each of its writes this thread sends what the server lacks. It
 * has an event loop of its own (the writer thread never yields to one), so
 * requests and their timeouts run here while log() and the writer go on.
 * Leftover runs of earlier processes in the spool are sent too.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { openDatabase } from "../store/connection.js";
import { importServerRun, type ShippableRun } from "../store/shipping.js";
import { fetchServerRun } from "../sync/fetch-run.js";
import { ServerClient, ServerRefused, ServerUnreachable } from "../sync/http.js";
import { Shipper, type ShipReport } from "../sync/shipper.js";
import { logger } from "../util/logger.js";
import { Ctrl, type ImportReply, type ShipMessage } from "./protocol.js";

interface ShipPorts {
  ctrl: SharedArrayBuffer;
  messages: MessagePort;
  errors: MessagePort;
}

const ports = workerData as ShipPorts;
const ctrl = new Int32Array(ports.ctrl);
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
/** Least time between two passes while writes keep coming, unless flush() or exit asks for one now. */
const PASS_GAP_MS = 200;
/** A pass at least this often without writes: heartbeats of idle runs, leftovers of other processes. */
const IDLE_PASS_MS = 5_000;
/** Another process's running run is left to that process while its heartbeat is this fresh. */
const OTHER_PROCESS_ALIVE_S = 30;
/** Unsent points past which strict runs raise: STONKS_SPOOL_MAX_POINTS, default 5,000,000. */
const SPOOL_MAX_POINTS = positiveEnv("STONKS_SPOOL_MAX_POINTS", 5_000_000);

function positiveEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

interface Target {
  shipper: Shipper;
  own: Set<string>;
  /** null until the first pass; false while the server is away. */
  reachable: boolean | null;
  /** Points sent since the server went away, for the "back" line. */
  sentSinceDown: number;
  refusedWarned: Set<string>;
  overLimit: boolean;
}

const targets = new Map<string, Target>();

function onMessage(message: ShipMessage): void {
  if (message.op === "server") {
    if (targets.has(message.spool)) return;
    const server = new ServerClient(message.url, { token: message.token });
    targets.set(message.spool, {
      shipper: new Shipper(message.spool, server, { deleteAcknowledged: true, readonly: false }),
      own: new Set(),
      reachable: null,
      sentSinceDown: 0,
      refusedWarned: new Set(),
      overLimit: false,
    });
  } else if (message.op === "own") {
    targets.get(message.spool)?.own.add(message.runId);
  } else {
    void importRun(message);
  }
}

/**
 * The messages posted before the Written bump that woke this pass: read here,
 * synchronously, so a pass never misses the run that made the main thread wait
 * for it. (Messages arriving while the loop sleeps come through onMessage.)
 */
function drainMessages(): void {
  for (;;) {
    const received = receiveMessageOnPort(ports.messages);
    if (received === undefined) return;
    onMessage(received.message as ShipMessage);
  }
}

/** Brings the run a resume names from the server into the spool (when the spool lacks it), then answers. */
async function importRun(message: Extract<ShipMessage, { op: "import" }>): Promise<void> {
  const server = new ServerClient(message.url, { token: message.token });
  let error: string | null = null;
  try {
    const run = await fetchServerRun(server, message.target, message.experiment);
    if (run !== null) {
      const db = openDatabase(message.spool);
      try {
        importServerRun(db, run);
      } finally {
        db.close();
      }
    }
  } catch (caught) {
    error = (caught as Error).message;
  } finally {
    server.close();
  }
  ports.messages.postMessage({ error } satisfies ImportReply);
  Atomics.add(ctrl, Ctrl.ImportReplies, 1);
  Atomics.notify(ctrl, Ctrl.ImportReplies);
}

/** This process's runs, and every run no live process of its own is logging (leftovers of earlier processes). */
function shipsHere(target: Target, run: ShippableRun): boolean {
  if (target.own.has(run.row.id) || run.row.status !== "running") return true;
  const heartbeat = run.row.last_heartbeat ?? run.row.created_at;
  return Date.now() / 1000 - heartbeat > OTHER_PROCESS_ALIVE_S;
}

function reportPass(target: Target, report: ShipReport): void {
  const error = report.failure;
  const url = target.shipper.server.url;
  const where = target.shipper.file;
  if (error === null) {
    if (target.reachable === false) {
      logger.warn(`server ${url} is back; ${target.sentSinceDown + report.pointsSent} points sent.`);
    }
    target.reachable = true;
    target.sentSinceDown = 0;
    return;
  }
  const sent = report.pointsSent;
  if (error instanceof ServerRefused) {
    if (!target.refusedWarned.has(error.code)) {
      target.refusedWarned.add(error.code);
      logger.warn(
        `server ${url} refused the points (${error.status} ${error.code}: ${error.message}); they are kept in ${where} and sent again every ${MAX_RETRY_MS / 1000} s.`,
      );
    }
  } else if (!(error instanceof ServerUnreachable)) {
    const message = error.message;
    if (!target.refusedWarned.has(message)) {
      target.refusedWarned.add(message);
      logger.warn(`could not send the points in ${where} to ${url} (${message}); they are kept and sent again.`);
    }
  } else if (target.reachable !== false) {
    logger.warn(`server ${url} unreachable (${error.message}); points are kept in ${where} and sent when it is back.`);
  }
  if (target.reachable !== false) target.sentSinceDown = 0;
  target.sentSinceDown += sent;
  target.reachable = false;
}

/** Strict runs raise at their next call once more than SPOOL_MAX_POINTS points wait to be sent. */
function checkLimit(target: Target, unsent: number): void {
  const over = unsent > SPOOL_MAX_POINTS;
  if (over && !target.overLimit) {
    ports.errors.postMessage(
      `${unsent} points are waiting in ${target.shipper.file} for ${target.shipper.server.url}, more than the spool limit of ${SPOOL_MAX_POINTS} (STONKS_SPOOL_MAX_POINTS)`,
    );
    Atomics.add(ctrl, Ctrl.Errors, 1);
  }
  target.overLimit = over;
}

/** One pass over every spool; true when nothing is left unsent. */
async function pass(): Promise<boolean> {
  let ok = true;
  for (const target of targets.values()) {
    let report: ShipReport;
    try {
      report = await target.shipper.ship((run) => shipsHere(target, run));
    } catch (error) {
      // Reading the spool failed (not the network): the pass counts as failed and is tried again.
      report = { runs: 0, pointsSent: 0, pointsAlreadyThere: 0, unsent: 0, deleted: 0, failure: error as Error };
    }
    if (report.failure !== null) ok = false;
    reportPass(target, report);
    Atomics.add(ctrl, Ctrl.ShipSent, report.pointsSent);
    if (report.failure === null || report.runs > 0) checkLimit(target, report.unsent);
  }
  return ok;
}

/** Waits `ms`, or less when the main thread asks for a pass now (flush, exit). */
async function backOff(ms: number, shipNowBefore: number): Promise<void> {
  const waited = Atomics.waitAsync(ctrl, Ctrl.ShipNow, shipNowBefore, ms);
  if (waited.async) await waited.value;
}

async function loop(): Promise<never> {
  let retryMs = FIRST_RETRY_MS;
  for (;;) {
    const written = Atomics.load(ctrl, Ctrl.Written);
    const shipNow = Atomics.load(ctrl, Ctrl.ShipNow);
    drainMessages();
    const ok = await pass();
    Atomics.store(ctrl, Ctrl.ShipOk, ok ? 1 : 0);
    Atomics.store(ctrl, Ctrl.ShipSeen, written);
    Atomics.add(ctrl, Ctrl.ShipPasses, 1);
    Atomics.notify(ctrl, Ctrl.ShipPasses);
    if (!ok) {
      // While the server is away the spool keeps everything; writes do not make this thread try sooner.
      await backOff(retryMs, shipNow);
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      continue;
    }
    retryMs = FIRST_RETRY_MS;
    if (Atomics.load(ctrl, Ctrl.Written) !== written) {
      // Writes keep coming (every 100 points): one pass per PASS_GAP_MS carries them all, so shipping takes
      // little CPU from training; flush() and exit cut the gap short.
      await backOff(PASS_GAP_MS, shipNow);
      continue;
    }
    const waited = Atomics.waitAsync(ctrl, Ctrl.Written, written, IDLE_PASS_MS);
    if (waited.async) await waited.value;
  }
}

// A pending Atomics.waitAsync does not keep a thread's event loop alive; this does (the main thread unrefs the worker).
setInterval(() => {}, 1 << 30);
ports.messages.on("message", onMessage);
void loop();
