/**
 * The one place stonks prints. Level from STONKS_LOG_LEVEL
 * (debug, info, warn, error, silent); warn by default.
 */
import { writeSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

function threshold(): number {
  const raw = (process.env.STONKS_LOG_LEVEL ?? "warn").toLowerCase();
  return raw in LEVELS ? LEVELS[raw as LogLevel] : LEVELS.warn;
}

/**
 * A worker thread's process.stderr is a stream relayed through the worker's
 * event loop; the writer thread never yields to its loop, so everything after
 * the first line would wait forever. It writes to file descriptor 2 directly.
 */
function writeLine(line: string): void {
  if (isMainThread) {
    process.stderr.write(line);
    return;
  }
  const bytes = Buffer.from(line);
  for (let written = 0, attempts = 0; written < bytes.length && attempts < 100; attempts++) {
    try {
      written += writeSync(2, bytes, written);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") return;
    }
  }
}

function emit(level: LogLevel, message: string): void {
  if (LEVELS[level] < threshold()) return;
  writeLine(`stonks ${level}: ${message}\n`);
}

export const logger = {
  debug: (message: string) => emit("debug", message),
  info: (message: string) => emit("info", message),
  warn: (message: string) => emit("warn", message),
  error: (message: string) => emit("error", message),
};
