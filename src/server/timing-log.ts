import { appendFileSync } from "node:fs";
import type { MiddlewareHandler } from "hono";

/**
 * Opt-in benchmark hook (STONKS_TIMING_LOG=path): one line per POST /api/runs/{id}/points,
 * `<epoch ms> <ms to accept> <status>`, from the request reaching the app to its answer being
 * ready, so bench/remote_many.mjs can quote the server's own p99. Off unless the variable is set.
 */
export function pointsTimingLog(path: string | undefined): MiddlewareHandler | null {
  if (path === undefined || path === "") return null;
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const started = performance.now();
    await next();
    appendFileSync(path, `${Date.now()} ${(performance.now() - started).toFixed(3)} ${c.res.status}\n`);
  };
}
