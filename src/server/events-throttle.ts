/**
 * The original stonks' client refetches every metric of a run on each
 * `metrics_update`, so a run gets at most one per interval: the throttle
 * remembers when each run's was last sent, and holds back the ones that
 * come too soon until their interval ends.
 */
import type { MetricsUpdate } from "./events-sse.js";

export class MetricsUpdateThrottle {
  /** When each run's last update went, by run id. */
  private readonly lastSent = new Map<string, number>();
  private readonly held = new Map<string, MetricsUpdate>();

  constructor(private readonly intervalMs: number) {}

  /** Whether a run's update may go now; when not, it is held (replacing an older held one). */
  readonly mayAnnounce = (update: MetricsUpdate): boolean => {
    const now = Date.now();
    const last = this.lastSent.get(update.runId);
    if (last === undefined || now - last >= this.intervalMs) {
      this.lastSent.set(update.runId, now);
      this.held.delete(update.runId);
      return true;
    }
    this.held.set(update.runId, update);
    return false;
  };

  /** The held updates whose interval has ended, now counted as sent. */
  due(): MetricsUpdate[] {
    const now = Date.now();
    const out: MetricsUpdate[] = [];
    for (const [runId, update] of this.held) {
      if (now - (this.lastSent.get(runId) ?? 0) < this.intervalMs) continue;
      this.held.delete(runId);
      this.lastSent.set(runId, now);
      out.push(update);
    }
    // Runs quiet for an interval need no memory: their next update goes at once either way.
    for (const [runId, last] of this.lastSent) {
      if (now - last >= this.intervalMs && !this.held.has(runId)) this.lastSent.delete(runId);
    }
    return out;
  }
}
