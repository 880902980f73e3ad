/**
 * Bounds on the reads that return points (GET /api/runs/{id}/metrics, POST
 * /api/series): a cap on the points of one response, a few slots for large
 * reads, and responses written in pieces that wait for the client to take
 * each one. Without them one request for 20 M points built a string larger
 * than V8 allows, and clients that never read held a copy of every response
 * they asked for (see docs/rest-api.md, "Limits on point reads").
 */
import type { ServerResponse } from "node:http";
import { MAX_POINTS_PER_RESPONSE } from "../contract/limits.js";
import { ApiError } from "./errors.js";

export interface HeavyReadLimits {
  /** Most points one response may carry (the sum over its series, before downsampling shrinks them). */
  maxPointsPerResponse: number;
  /** A read that may return more points than this is heavy and needs one of maxInFlight slots. */
  heavyPoints: number;
  /** Heavy reads answered at the same time. */
  maxInFlight: number;
  /** How long a heavy read waits for a slot before the server answers 503. */
  maxWaitMs: number;
  /** A response whose client takes nothing for this long is cut off, freeing its slot. */
  stallMs: number;
  /** Responses up to this many points are built in one piece: streaming them would only add work. */
  streamAbovePoints: number;
}

export const DEFAULT_HEAVY_READ_LIMITS: HeavyReadLimits = {
  maxPointsPerResponse: MAX_POINTS_PER_RESPONSE,
  heavyPoints: 250_000,
  maxInFlight: 4,
  maxWaitMs: 5_000,
  stallMs: 30_000,
  streamAbovePoints: 50_000,
};
/** Seconds a client is told to wait (Retry-After) when every slot stays busy. */
export const HEAVY_READ_RETRY_AFTER_S = 5;

/** A counting semaphore whose waiters give up after a while. */
export class ReadSlots {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limits: HeavyReadLimits) {}

  /** Takes a slot, waiting up to maxWaitMs; returns the release function, or throws a 503 ApiError. */
  async acquire(): Promise<() => void> {
    if (this.busy >= this.limits.maxInFlight) {
      const got = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          resolve(false);
        }, this.limits.maxWaitMs);
        this.waiting.push(wake);
      });
      if (!got) throw busyError(this.limits.maxInFlight);
    } else {
      this.busy++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A waiter inherits the slot, so busy stays the same.
      const next = this.waiting.shift();
      if (next) next();
      else this.busy--;
    };
  }
}

export class BusyError extends ApiError {
  readonly retryAfterSeconds = HEAVY_READ_RETRY_AFTER_S;
}

function busyError(slots: number): BusyError {
  return new BusyError(
    503,
    "too_many_heavy_reads",
    `${slots} large point reads are already being answered; retry in ${HEAVY_READ_RETRY_AFTER_S} s, or ask for fewer series or a smaller downsample.`,
  );
}

/** The 400 for a request that would return more points than one response carries. */
export function tooManyPoints(points: number, limits: HeavyReadLimits, advice: string): ApiError {
  return new ApiError(
    400,
    "too_many_points",
    `This request could return ${points} points; one response carries at most ${limits.maxPointsPerResponse}. ${advice}`,
  );
}

/**
 * A response body that asks `pieces` for the next piece only when the client
 * has taken the previous one (the Node adapter reads the stream after each
 * write drains), and lets other requests run between pieces.
 */
export function pieceStream(
  pieces: Iterator<string>,
  options: { stallMs: number; socket: ServerResponse | undefined; onEnd: () => void },
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    pieces.return?.();
    options.onEnd();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        clearTimeout(timer);
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (ended) return;
        let next: IteratorResult<string>;
        try {
          next = pieces.next();
        } catch (error) {
          end();
          controller.error(error);
          return;
        }
        if (next.done) {
          end();
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(next.value));
        timer = setTimeout(() => {
          end();
          // A client that stopped reading keeps the socket open forever; closing it frees the memory it pins.
          if (options.socket) options.socket.destroy();
          else controller.error(new Error("client stopped reading"));
        }, options.stallMs);
      },
      cancel: end,
    },
    { highWaterMark: 0 },
  );
}
