/**
 * When a running run counts as dead. Pure, with no storage behind it, so the
 * store, the query layer and the server's live events apply one rule.
 */

/** A running run whose heartbeat is older than this many seconds is stale. */
export const DEFAULT_STALE_AFTER_S = 60;

/**
 * Whether a running run whose process last showed life at `lastAlive` (its
 * heartbeat, or its creation before the first one) counts as dead at `now`.
 */
export function isStale(lastAlive: number, now: number, staleAfterS: number): boolean {
  return now - lastAlive > staleAfterS;
}
