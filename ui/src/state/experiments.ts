import { useSyncExternalStore } from "react";
import { ApiError, api } from "../api/client";
import type { Experiment, Project } from "../api/types";

export interface ExperimentsSnapshot {
  experiments: Experiment[];
  projects: Project[];
  /** "error" only until a first list arrives: a later failed refresh keeps the list on screen. */
  status: "loading" | "ready" | "error";
  error: string | null;
}

/** A fallback only: the live stream announces new experiments at once. */
const POLL_MS = 60_000;

/** The experiment and project lists of the sidebar, refreshed on live events and by a slow poll. */
class ExperimentsStore {
  private snapshot: ExperimentsSnapshot = { experiments: [], projects: [], status: "loading", error: null };
  private listeners = new Set<() => void>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ExperimentsSnapshot => this.snapshot;

  private emit(next: Partial<ExperimentsSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...next };
    for (const l of this.listeners) l();
  }

  load = async (): Promise<void> => {
    try {
      const [experiments, projects] = await Promise.all([api.experiments(), api.projects()]);
      this.emit({ experiments, projects, status: "ready", error: null });
    } catch (e) {
      this.emit({
        error: e instanceof ApiError ? e.message : String(e),
        status: this.snapshot.status === "ready" ? "ready" : "error",
      });
    }
  };

  /** Reloads the lists after `delayMs`, once for a burst of events. */
  refreshSoon = (delayMs = 800): void => {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.load(), delayMs);
  };

  /** Loads now and then every POLL_MS; the returned function stops the poll. */
  poll(): () => void {
    void this.load();
    const timer = setInterval(() => void this.load(), POLL_MS);
    return () => clearInterval(timer);
  }

  /** Drops a deleted experiment from the list before the next refresh confirms it. */
  forget(id: string): void {
    this.emit({ experiments: this.snapshot.experiments.filter((e) => e.id !== id) });
  }
}

export const experimentsStore = new ExperimentsStore();

export function useExperiments(): ExperimentsSnapshot {
  return useSyncExternalStore(experimentsStore.subscribe, experimentsStore.getSnapshot);
}
