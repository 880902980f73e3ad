/**
 * Where a change feed learns that something may have been committed. A
 * backend that can push (PostgreSQL LISTEN/NOTIFY, a remote-ingest endpoint)
 * calls `changed` when it is told; SQLite cannot push, so DataVersionPoller
 * asks the file.
 */
import { dataVersion } from "../store/changes.js";
import type { Db } from "../store/connection.js";
import { PgChangeListener } from "../store/pg/listen.js";
import { isPostgresUrl } from "../util/db-path.js";
import { logger } from "../util/logger.js";

export interface ChangeSource {
  /** Calls `changed` whenever other writers may have committed; the returned function stops watching. */
  watch(changed: () => void): () => void;
}

/**
 * Polls SQLite's `PRAGMA data_version`, which moves whenever another
 * connection (another process, or this one's request connection) commits.
 */
export class DataVersionPoller implements ChangeSource {
  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
  ) {}

  watch(changed: () => void): () => void {
    let last = dataVersion(this.db);
    const timer = setInterval(() => {
      let version: number;
      try {
        version = dataVersion(this.db);
      } catch (error) {
        logger.warn(`live events: reading changes failed (${(error as Error).message}); retrying`);
        return;
      }
      if (version === last) return;
      last = version;
      changed();
    }, this.intervalMs);
    return () => clearInterval(timer);
  }
}

/**
 * How a feed over `db` (opened from `dbPath`) learns of other writers'
 * commits: PostgreSQL tells it (LISTEN/NOTIFY, on a connection of its own);
 * a SQLite file is polled every `pollIntervalMs`.
 */
export function changeSourceFor(dbPath: string, db: Db, pollIntervalMs: number): ChangeSource {
  return isPostgresUrl(dbPath) ? new PgChangeListener(dbPath) : new DataVersionPoller(db, pollIntervalMs);
}
