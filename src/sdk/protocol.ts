/**
 * Shared memory and messages between the main thread (Run.log) and the writer
 * worker. Points travel through a ring of float64 records in a
 * SharedArrayBuffer (no per-point postMessage); rare control operations travel
 * as messages the worker reads synchronously with receiveMessageOnPort.
 */
import type { ResumeTarget, StartedRun } from "../store/writes.js";
import type { Config, FinishStatus } from "../types.js";

/** Slots of the Int32 control array. */
export const Ctrl = {
  /** Records written by the main thread (wrapping int32). */
  Head: 0,
  /** Records consumed by the worker (wrapping int32). */
  Tail: 1,
  /** Bumped by the main thread to wake the worker. */
  Signal: 2,
  /** Flush requests made by the main thread. */
  FlushRequested: 3,
  /** Highest flush request the worker has attempted. */
  FlushDone: 4,
  /** 1 when the last flush attempt failed to write everything. */
  FlushFailed: 5,
  /** Bumped by the worker after each synchronous reply. */
  Reply: 6,
  /** Bumped by the worker whenever a write fails (strict runs raise on it). */
  Errors: 7,
  /** 1 while the worker is blocked waiting for a signal (only then is a notify worth its syscall). */
  Sleeping: 8,
  /** Bumped by the worker after each successful write: the shipper of a remote run wakes on it. */
  Written: 9,
  /** The Written value when the shipper's last finished pass began. */
  ShipSeen: 10,
  /** 1 when that pass left nothing unsent, 0 when it failed (the server is away). */
  ShipOk: 11,
  /** Bumped by the shipper after each pass (flush waits on it). */
  ShipPasses: 12,
  /** Bumped by the main thread at flush() and exit: the shipper passes now instead of after its gap or back-off. */
  ShipNow: 13,
  /** Points the server acknowledged to the shipper so far (wrapping int32): exit waits while it moves. */
  ShipSent: 14,
  /** Bumped by the shipper after answering an "import" (a resume reading its run from the server). */
  ImportReplies: 15,
} as const;
export const CTRL_SLOTS = 16;

/** Fields per record: series slot, step, value, time. */
export const RECORD_FIELDS = 4;
export const RING_RECORDS = 1 << 16;

/** Points buffered before the worker is woken to write (the seed's 100). */
export const FLUSH_EVERY_POINTS = 100;
/** The seed's background timer: 5 s, or STONKS_FLUSH_INTERVAL seconds. */
export const FLUSH_INTERVAL_MS = flushIntervalMs();

function flushIntervalMs(): number {
  const seconds = Number(process.env.STONKS_FLUSH_INTERVAL);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000;
}
export const HEARTBEAT_INTERVAL_MS = 5000;

/** Points waiting to be written (in memory) before new ones are dropped and counted: STONKS_MAX_PENDING_POINTS, default 50 million. */
export const MAX_PENDING_POINTS = positiveEnv("STONKS_MAX_PENDING_POINTS", 50_000_000);

function positiveEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The points of one run that are not in the database yet, as the writer reports them after a failed flush. */
export interface UnwrittenPoints {
  runId: string;
  dbPath: string;
  /** Buffered and not written yet. */
  pending: number;
  /** Dropped because more than MAX_PENDING_POINTS were waiting. */
  dropped: number;
}

export interface ProvenanceFields {
  host: string;
  pid: number;
  command: string;
  cwd: string;
  sdkVersion: string;
}

export type ControlMessage =
  | {
      op: "start";
      dbPath: string;
      experiment: string;
      name: string | null;
      config: Config;
      tags: string[];
      group: string | null;
      jobType: string | null;
      notes: string | null;
      resume: ResumeTarget;
      /** The id a new run gets (null: a random UUID). */
      runId: string | null;
      project: string | null;
      provenance: ProvenanceFields;
    }
  | { op: "series"; slot: number; runSeq: number; runId: string; dbPath: string; key: string }
  | { op: "config"; runSeq: number; dbPath: string; patch: Config }
  | { op: "git"; runSeq: number; dbPath: string; commit: string | null; dirty: boolean | null }
  | { op: "tags"; runSeq: number; dbPath: string; tags: string[] }
  | { op: "notes"; runSeq: number; dbPath: string; notes: string | null }
  | { op: "finish"; runSeq: number; dbPath: string; status: FinishStatus };

/** Messages from the main thread to the shipper thread of remote runs. */
export type ShipMessage =
  | { op: "server"; url: string; token: string | null; spool: string }
  | { op: "own"; spool: string; runId: string }
  | { op: "import"; url: string; token: string | null; spool: string; target: string; experiment: string };

/** The shipper's answer to "import": null, or why the run could not be read from the server. */
export interface ImportReply {
  error: string | null;
}

export type StartReply = ({ ok: true } & StartedRun) | { ok: false; error: string; kind: string };
