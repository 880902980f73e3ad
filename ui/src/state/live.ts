import type { LiveEventName, LiveEventPayloads } from "../../../src/contract/wire";
import { eventsUrl } from "../api/client";
import type { MetricsUpdateEvent, PointsEvent, RunDeletedEvent, RunUpdateEvent } from "../api/types";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "offline";

export interface LiveHandlers {
  runUpdate(event: RunUpdateEvent): void;
  runDeleted(event: RunDeletedEvent): void;
  metricsUpdate(event: MetricsUpdateEvent): void;
  points(event: PointsEvent): void;
  /** A run appeared in or left some experiment: the experiment list (sidebar) is out of date. */
  experimentsChanged(): void;
  /** Events may have been missed: refetch what is shown. */
  resync(): void;
  status(status: LiveStatus): void;
}

const RETRY_MS = 3000;

/**
 * One EventSource per tab for the chosen experiment. The browser reconnects by
 * itself and the server resumes from Last-Event-ID; when the stream is closed
 * for good (server restarted, 503), a fresh one is opened and the page resyncs.
 */
export function connectLive(experimentId: string | null, handlers: LiveHandlers): () => void {
  let source: EventSource | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let opened = false;
  let needsResync = false;

  const on = <E extends LiveEventName>(name: E, handle: (data: LiveEventPayloads[E]) => void) => {
    source?.addEventListener(name, (event) => {
      let data: LiveEventPayloads[E];
      try {
        data = JSON.parse((event as MessageEvent<string>).data) as LiveEventPayloads[E];
      } catch {
        return;
      }
      handle(data);
    });
  };

  const open = () => {
    handlers.status(opened ? "reconnecting" : "connecting");
    needsResync = opened;
    source = new EventSource(eventsUrl(experimentId));
    source.addEventListener("open", () => handlers.status("live"));
    on("ready", () => {
      handlers.status("live");
      // A new stream starts at "now": what happened while none was open is refetched. The
      // experiment list is read again whenever a stream begins (the first, the browser's own
      // reconnection, a new one): it was read before, and an experiment made in between (while the
      // server restarted, say) would otherwise wait for the slow poll.
      if (needsResync) handlers.resync();
      handlers.experimentsChanged();
      needsResync = false;
      opened = true;
    });
    on("run_update", handlers.runUpdate);
    on("run_deleted", handlers.runDeleted);
    on("metrics_update", handlers.metricsUpdate);
    on("points", handlers.points);
    on("resync", handlers.resync);
    on("experiments_changed", handlers.experimentsChanged);
    source.addEventListener("error", () => {
      if (closed || !source) return;
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        handlers.status("offline");
        retryTimer = setTimeout(open, RETRY_MS);
      } else {
        handlers.status("reconnecting");
      }
    });
  };

  open();
  return () => {
    closed = true;
    clearTimeout(retryTimer);
    source?.close();
    source = null;
  };
}
