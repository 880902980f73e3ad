/**
 * Live events for every open event stream, from one change feed.
 *
 * The hub subscribes to a change feed (src/query/change-feed.ts) on its own
 * connection while at least one stream is open. Every stream at the feed's
 * cursor has had exactly the same events, so each batch of deltas is
 * rendered once and shared; a stream only filters by experiment. A stream
 * that resumes from an older cursor is caught up once, on attach (whole
 * changed chunks: the client drops the points it already has by their
 * index), and then joins the others.
 */
import { type ChangeBatch, ChangeFeed } from "../query/change-feed.js";
import { EventClient, type EventSink } from "./events-client.js";
import {
  type Cursor,
  type Message,
  metricsUpdateMessage,
  readyMessage,
  renderDeltas,
  runUpdateMessage,
} from "./events-sse.js";
import { MetricsUpdateThrottle } from "./events-throttle.js";

export type { EventSink } from "./events-client.js";
export { type Cursor, parseCursor } from "./events-sse.js";

export interface EventHubOptions {
  dbPath: string;
  pollIntervalMs?: number;
  keepAliveMs?: number;
  maxClients?: number;
  staleAfterSeconds?: number;
  /** More changed points than this in one step (or one catch-up) become a `resync` event. */
  maxPointsPerDelta?: number;
  /** More changed runs than this in one step become a `resync` event. */
  maxRunsPerDelta?: number;
  /** Least time between two `metrics_update` events of one run (default 1000 ms). */
  metricsUpdateIntervalMs?: number;
}

export class EventHub {
  private readonly pollIntervalMs: number;
  private readonly keepAliveMs: number;
  private readonly maxClients: number;
  private readonly clients = new Set<EventClient>();
  private readonly throttle: MetricsUpdateThrottle;
  private feed: ChangeFeed | null = null;
  private timers: NodeJS.Timeout[] = [];
  private pokeScheduled = false;

  constructor(private readonly options: EventHubOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxClients = options.maxClients ?? 64;
    this.throttle = new MetricsUpdateThrottle(options.metricsUpdateIntervalMs ?? 1000);
  }

  get isFull(): boolean {
    return this.clients.size >= this.maxClients;
  }

  /**
   * Starts a stream at `from` (or at "now" when null): sends `ready`, then
   * everything between `from` and the feed's cursor, then live events.
   */
  attach(sink: EventSink, experimentId: string | null, from: Cursor | null): EventClient {
    const feed = this.start();
    // Deliver what other streams have not had yet, so "now" is this moment and not the last poll.
    feed.publish();
    const client = new EventClient(sink, experimentId);
    client.enqueue("retry: 1000\n\n");
    const head = feed.cursor;
    const catchUp = from === null ? [] : renderDeltas(feed.replay(from), this.throttle.mayAnnounce);
    // Staleness changes with the clock, not with a revision: a client that read the
    // run list just before a run turned stale (or came back) learns it here.
    const liveness = feed.runningRuns().map(runUpdateMessage);
    client.send([readyMessage(head), ...catchUp, ...liveness], from ?? head, head);
    this.clients.add(client);
    void client.done.then(() => this.detach(client));
    return client;
  }

  /** Checks for changes soon instead of at the next poll (after this server wrote something). */
  poke(): void {
    if (this.pokeScheduled || this.feed === null) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      this.feed?.publish();
    });
  }

  close(): void {
    for (const client of [...this.clients]) client.close();
    this.stop();
  }

  private detach(client: EventClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stop();
  }

  private start(): ChangeFeed {
    if (this.feed !== null) return this.feed;
    const feed = ChangeFeed.open(this.options.dbPath, {
      pollIntervalMs: this.pollIntervalMs,
      livenessCheckMs: this.pollIntervalMs,
      staleAfterSeconds: this.options.staleAfterSeconds,
      maxPointsPerDelta: this.options.maxPointsPerDelta,
      maxRunsPerDelta: this.options.maxRunsPerDelta,
      readPoints: true,
    });
    this.feed = feed;
    feed.subscribe((batch) => this.broadcast(batch));
    this.timers = [
      setInterval(() => this.sendHeldMetricsUpdates(), this.pollIntervalMs),
      setInterval(() => {
        for (const client of this.clients) client.keepAlive();
      }, this.keepAliveMs),
    ];
    return feed;
  }

  private stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.feed?.close();
    this.feed = null;
  }

  private broadcast(batch: ChangeBatch): void {
    this.sendToAll(renderDeltas(batch.deltas, this.throttle.mayAnnounce), batch.from, batch.to);
  }

  private sendHeldMetricsUpdates(): void {
    const feed = this.feed;
    if (feed === null) return;
    this.sendToAll(this.throttle.due().map(metricsUpdateMessage), feed.cursor, feed.cursor);
  }

  private sendToAll(messages: readonly Message[], from: Cursor, to: Cursor): void {
    if (messages.length === 0) return;
    for (const client of this.clients) client.send(messages, from, to);
  }
}
