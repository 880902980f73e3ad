/**
 * One open event stream: what it is sent, in order, with backpressure. A
 * stream whose socket does not drain is cut loose rather than buffered
 * without bound; the browser reconnects from its last cursor.
 */
import { logger } from "../util/logger.js";
import { type Cursor, formatCursor, type Message, sseMessage } from "./events-sse.js";

/** Where a client's events go. write() resolves once the text is handed to the socket. */
export interface EventSink {
  write(text: string): Promise<unknown>;
}

const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export class EventClient {
  cursor: Cursor = { chunkId: 0, revision: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private pendingBytes = 0;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly sink: EventSink,
    readonly experimentId: string | null,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Resolves when the stream ends (client gone, server closing, or too slow). */
  get done(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Sends the messages that lead from one cursor to the next (those of other
   * experiments left out). Only the last one carries the new cursor, so a
   * stream cut in the middle resumes from the old one and gets them all again.
   */
  send(messages: readonly Message[], from: Cursor, to: Cursor): void {
    const mine = messages.filter((m) => m.experimentId === null || this.wants(m.experimentId));
    const fromId = formatCursor(from);
    const toId = formatCursor(to);
    mine.forEach((m, i) => {
      this.enqueue(sseMessage(m.event, m.data, i === mine.length - 1 ? toId : fromId));
    });
    this.cursor = to;
  }

  /**
   * A comment to keep proxies from closing the stream, with the current
   * cursor: an id-only block moves the browser's Last-Event-ID without
   * dispatching an event, so a stream filtered to a quiet experiment does not
   * resume from far behind.
   */
  keepAlive(): void {
    this.enqueue(`: keep-alive\nid: ${formatCursor(this.cursor)}\n\n`);
  }

  enqueue(text: string): void {
    if (this.closed) return;
    this.pendingBytes += text.length;
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      logger.warn("an event stream fell too far behind and was closed; the client will reconnect");
      this.close();
      return;
    }
    this.chain = this.chain
      .then(() => this.sink.write(text))
      .then(
        () => {
          this.pendingBytes -= text.length;
        },
        () => this.close(),
      );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveClosed();
  }

  private wants(experimentId: string): boolean {
    return this.experimentId === null || this.experimentId === experimentId;
  }
}
