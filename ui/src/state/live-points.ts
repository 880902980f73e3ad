import type { PointsEvent } from "../api/types";

/**
 * Live points for views that read aggregates rather than held series (grouped charts): they
 * learn which run's key grew, or (event null) that events may have been missed.
 */
type PointsListener = (event: PointsEvent | null) => void;

const listeners = new Set<PointsListener>();

export function notePoints(event: PointsEvent | null): void {
  for (const listener of listeners) listener(event);
}

export function onPoints(listener: PointsListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
