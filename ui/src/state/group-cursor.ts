import { useSyncExternalStore } from "react";

/** One group's aggregate at the step under the pointer. */
export interface GroupAtCursor {
  label: string;
  mean: number;
  low: number;
  high: number;
  /** Runs that had a value in that bucket. */
  count: number;
}

/** What the hovered grouped chart shows under the pointer, for the legend above the charts. */
export interface GroupCursor {
  metricKey: string;
  step: number;
  groups: readonly GroupAtCursor[];
}

let current: GroupCursor | null = null;
const listeners = new Set<() => void>();

export function setGroupCursor(next: GroupCursor | null): void {
  if (next === current) return;
  current = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function snapshot(): GroupCursor | null {
  return current;
}

export function useGroupCursor(): GroupCursor | null {
  return useSyncExternalStore(subscribe, snapshot);
}
