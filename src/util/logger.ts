/**
 * The one place stonks prints. Level from STONKS_LOG_LEVEL
 * (debug, info, warn, error, silent); warn by default.
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

function threshold(): number {
  const raw = (process.env.STONKS_LOG_LEVEL ?? "warn").toLowerCase();
  return raw in LEVELS ? LEVELS[raw as LogLevel] : LEVELS.warn;
}

function emit(level: LogLevel, message: string): void {
  if (LEVELS[level] < threshold()) return;
  process.stderr.write(`stonks ${level}: ${message}\n`);
}

export const logger = {
  debug: (message: string) => emit("debug", message),
  info: (message: string) => emit("info", message),
  warn: (message: string) => emit("warn", message),
  error: (message: string) => emit("error", message),
};
