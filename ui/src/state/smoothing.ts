import { useSyncExternalStore } from "react";

/**
 * The toolbar's smoothing while its slider moves, before it goes into the link (null at rest).
 * Charts that follow the toolbar read it straight from here and repaint their smoothed lines;
 * as React state it re-rendered the whole charts view on every move, in the frames the charts
 * needed for themselves.
 */
let draft: number | null = null;
const listeners = new Set<() => void>();

export function smoothingDraft(): number | null {
  return draft;
}

export function setSmoothingDraft(value: number | null): void {
  if (value === draft) return;
  draft = value;
  for (const listener of listeners) listener();
}

export function subscribeSmoothingDraft(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSmoothingDraft(): number | null {
  return useSyncExternalStore(subscribeSmoothingDraft, smoothingDraft);
}
