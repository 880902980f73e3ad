/**
 * The change feed's deltas as server-sent events: their names, their JSON
 * (the wire shapes of docs/rest-api.md) and the cursor each event carries
 * as its id.
 */
import type {
  ExperimentsChangedEvent,
  LiveEventName,
  MetricsUpdateEvent,
  PointsEvent,
  ReadyEvent,
  ResyncEvent,
  RunDeletedEvent,
  RunUpdateEvent,
} from "../contract/wire.js";
import type { ChangeDelta, FeedCursor, PointSpan } from "../query/change-feed.js";
import type { RunView } from "../query/run-filter.js";
import { runJson } from "./json.js";

/** Position in the change history as streams see it (see FeedCursor). */
export type Cursor = FeedCursor;

export function formatCursor(cursor: Cursor): string {
  return `${cursor.chunkId}.${cursor.revision}`;
}

/** Parses `<chunkId>.<revision>`; null when the text is not a cursor. */
export function parseCursor(text: string): Cursor | null {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(text);
  if (!match) return null;
  return { chunkId: Number(match[1]), revision: Number(match[2]) };
}

/** One rendered event; experimentId null means every stream gets it. */
export interface Message {
  experimentId: string | null;
  event: LiveEventName;
  data: string;
}

/** The run whose `metrics_update` tells the original stonks' client to refetch its metrics. */
export interface MetricsUpdate {
  runId: string;
  experimentId: string;
  lastHeartbeat: number | null;
}

/** Whether a run's `metrics_update` may go now (else the caller holds it back). */
export type MetricsUpdateGate = (update: MetricsUpdate) => boolean;

export function sseMessage(event: LiveEventName, data: string, id: string): string {
  return `event: ${event}\nid: ${id}\ndata: ${data}\n\n`;
}

export function readyMessage(cursor: Cursor): Message {
  return {
    experimentId: null,
    event: "ready",
    data: JSON.stringify({ cursor: formatCursor(cursor) } satisfies ReadyEvent),
  };
}

export function runUpdateMessage(view: RunView): Message {
  const run = runJson(view);
  return {
    experimentId: view.experimentId,
    event: "run_update",
    data: JSON.stringify({
      run_id: run.id,
      status: run.status,
      name: run.name,
      created_at: run.created_at,
      ended_at: run.ended_at,
      run,
    } satisfies RunUpdateEvent),
  };
}

export function metricsUpdateMessage(update: MetricsUpdate): Message {
  return {
    experimentId: update.experimentId,
    event: "metrics_update",
    data: JSON.stringify({ run_id: update.runId, last_heartbeat: update.lastHeartbeat } satisfies MetricsUpdateEvent),
  };
}

/**
 * `points` for a span's new points, preceded by the run's `metrics_update`
 * the first time the run comes up (`announced` remembers) if `mayAnnounce`
 * lets it go now.
 */
function pointMessages(span: PointSpan, announced: Set<string>, mayAnnounce: MetricsUpdateGate): Message[] {
  const points = span.points;
  const skip = span.newFromIndex - span.startIndex;
  if (points === undefined || skip >= points.values.length) return [];
  const out: Message[] = [];
  if (!announced.has(span.runId)) {
    announced.add(span.runId);
    const update = { runId: span.runId, experimentId: span.experimentId, lastHeartbeat: span.lastHeartbeat };
    if (mayAnnounce(update)) out.push(metricsUpdateMessage(update));
  }
  out.push({
    experimentId: span.experimentId,
    event: "points",
    data: JSON.stringify({
      run_id: span.runId,
      key: span.key,
      steps: Array.from(points.steps.subarray(skip)),
      values: Array.from(points.values.subarray(skip)),
      timestamps: Array.from(points.timestamps.subarray(skip)),
      start_index: span.newFromIndex,
    } satisfies PointsEvent),
  });
  return out;
}

/** The events for a list of deltas, in order; heartbeats alone tell a stream nothing. */
export function renderDeltas(deltas: readonly ChangeDelta[], mayAnnounce: MetricsUpdateGate): Message[] {
  const out: Message[] = [];
  const announced = new Set<string>();
  for (const delta of deltas) {
    switch (delta.kind) {
      case "runsChanged":
      case "livenessChanged":
        for (const view of delta.runs) out.push(runUpdateMessage(view));
        break;
      case "runsDeleted":
        for (const run of delta.runs) {
          out.push({
            experimentId: run.experimentId,
            event: "run_deleted",
            data: JSON.stringify({ run_id: run.runId, experiment_id: run.experimentId } satisfies RunDeletedEvent),
          });
        }
        break;
      case "experimentsChanged":
        // Every stream's experiment list (the sidebar) learns of new experiments and changed run counts at once.
        out.push({
          experimentId: null,
          event: "experiments_changed",
          data: JSON.stringify({ experiment_ids: delta.withNewRuns } satisfies ExperimentsChangedEvent),
        });
        break;
      case "pointsAdded":
        for (const span of delta.spans) out.push(...pointMessages(span, announced, mayAnnounce));
        break;
      case "resync":
        out.push({ experimentId: null, event: "resync", data: JSON.stringify({} satisfies ResyncEvent) });
        break;
      case "heartbeats":
        break;
    }
  }
  return out;
}
