import { useSyncExternalStore } from "react";

/** The error shown in the banner: what went wrong, in words a person can act on. */
let current: { id: number; message: string } | null = null;
let nextId = 1;
const listeners = new Set<() => void>();

export function showError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  current = { id: nextId++, message };
  for (const l of listeners) l();
}

export function dismissError(): void {
  current = null;
  for (const l of listeners) l();
}

export function useError(): { id: number; message: string } | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}
