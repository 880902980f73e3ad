/**
 * Live events across servers that share one PostgreSQL database. Every write
 * the change feed follows fires `pg_notify('stonks_changes', '')` (the
 * PostgreSQL migrations' statement-level triggers), so a server learns of
 * another server's commits by LISTENing on one dedicated connection instead
 * of polling the database.
 *
 * The connection is async (node-postgres' Client on the main event loop), not
 * one of the driver's synchronous pooled connections: a LISTEN must stay open
 * between requests and deliver notifications while the server waits.
 * Notifications sent while the connection is down are lost, so after every
 * (re)connection the feed is told once that something may have changed.
 */
import type { Client, ClientConfig } from "pg";
import type { ChangeSource } from "../../query/change-source.js";
import { logger } from "../../util/logger.js";

/** The channel the PostgreSQL migrations' triggers notify. */
export const CHANGES_CHANNEL = "stonks_changes";

export interface PgChangeListenerOptions {
  /** Wait before the first reconnection attempt; doubled after each failure (default 100 ms). */
  minBackoffMs?: number;
  /** Longest wait between reconnection attempts (default 5 s). */
  maxBackoffMs?: number;
  /**
   * Least time between two calls of `changed` (default 20 ms): fifty writers
   * committing at once send fifty notifications, and one pull reads them all.
   */
  coalesceMs?: number;
  /**
   * How often the idle connection is asked `SELECT 1`, and how long an answer
   * may take (default 30 s): a connection whose peer vanished without closing
   * it (a machine lost, a firewall dropping it) delivers nothing and says nothing.
   */
  healthCheckMs?: number;
}

/** How long opening the connection (and the LISTEN) may take before it is tried again. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A ChangeSource over `LISTEN stonks_changes` on its own connection, reconnecting when it drops. */
export class PgChangeListener implements ChangeSource {
  constructor(
    private readonly url: string,
    private readonly options: PgChangeListenerOptions = {},
  ) {}

  watch(changed: () => void): () => void {
    const session = new ListenSession(this.url, changed, this.options);
    void session.run();
    return () => session.stop();
  }
}

class ListenSession {
  private stopped = false;
  private client: Client | null = null;
  private wake: (() => void) | null = null;
  private pending: NodeJS.Timeout | null = null;
  private lastCall = 0;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly coalesceMs: number;
  private readonly healthCheckMs: number;

  constructor(
    private readonly url: string,
    private readonly changed: () => void,
    options: PgChangeListenerOptions,
  ) {
    this.minBackoffMs = options.minBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.coalesceMs = options.coalesceMs ?? 20;
    this.healthCheckMs = options.healthCheckMs ?? 30_000;
  }

  async run(): Promise<void> {
    // Loaded here, not with the module: every CLI command imports the query layer, few need PostgreSQL.
    const { default: pg } = await import("pg");
    let backoff = this.minBackoffMs;
    let outage: string | null = null;
    while (!this.stopped) {
      const config: ClientConfig = {
        connectionString: this.url,
        keepAlive: true,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        query_timeout: CONNECT_TIMEOUT_MS,
        application_name: "stonks live events",
      };
      const client = new pg.Client(config);
      let markLost: (reason: string) => void = () => {};
      const lost = new Promise<string>((resolve) => {
        markLost = resolve;
        client.on("error", (error) => resolve(error.message));
        client.on("end", () => resolve("the connection ended"));
      });
      client.on("notification", (message) => {
        if (message.channel === CHANGES_CHANNEL) this.signal();
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      } catch (error) {
        void client.end().catch(() => {});
        if (this.stopped) return;
        if (outage === null) {
          outage = (error as Error).message;
          logger.warn(`live events: cannot listen to PostgreSQL (${outage}); retrying`);
        }
        await this.sleep(backoff);
        backoff = Math.min(this.maxBackoffMs, backoff * 2);
        continue;
      }
      if (this.stopped) {
        await client.end().catch(() => {});
        return;
      }
      if (outage !== null) logger.info("live events: listening to PostgreSQL again");
      outage = null;
      backoff = this.minBackoffMs;
      this.client = client;
      // Whatever was committed while no LISTEN was active (before the first one, or during an outage) sent no notification.
      this.signal();
      const health = setInterval(() => this.checkHealth(client, markLost), this.healthCheckMs);
      const reason = await lost;
      clearInterval(health);
      this.client = null;
      void client.end().catch(() => {});
      if (this.stopped) return;
      outage = reason;
      logger.warn(`live events: lost the PostgreSQL connection (${reason}); reconnecting`);
      await this.sleep(backoff);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.pending !== null) clearTimeout(this.pending);
    this.pending = null;
    this.wake?.();
    const client = this.client;
    this.client = null;
    void client?.end().catch(() => {});
  }

  /** Asks the connection for an answer; none in time (or an error) counts as losing it. */
  private checkHealth(client: Client, markLost: (reason: string) => void): void {
    const timer = setTimeout(() => markLost(`no answer within ${this.healthCheckMs} ms`), this.healthCheckMs);
    client.query("SELECT 1").then(
      () => clearTimeout(timer),
      (error: Error) => {
        clearTimeout(timer);
        markLost(error.message);
      },
    );
  }

  /** Calls `changed` soon: at once, or when coalesceMs since the last call have passed. */
  private signal(): void {
    if (this.pending !== null || this.stopped) return;
    const wait = Math.max(0, this.lastCall + this.coalesceMs - Date.now());
    this.pending = setTimeout(() => {
      this.pending = null;
      if (this.stopped) return;
      this.lastCall = Date.now();
      this.changed();
    }, wait);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
