import { useSyncExternalStore } from "react";

export type ThemePreference = "system" | "light" | "dark";
export type Theme = "light" | "dark";

const STORAGE_KEY = "stonks.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");
const listeners = new Set<() => void>();

function readPreference(): ThemePreference {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

let preference = readPreference();

function effective(): Theme {
  if (preference === "system") return media.matches ? "dark" : "light";
  return preference;
}

let snapshot = { preference, theme: effective() };

function apply(): void {
  snapshot = { preference, theme: effective() };
  document.documentElement.dataset.theme = snapshot.theme;
  for (const l of listeners) l();
}

media.addEventListener("change", apply);
apply();

export function setThemePreference(next: ThemePreference): void {
  preference = next;
  try {
    if (next === "system") localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // storage may be disabled; the choice then lasts for this page only
  }
  apply();
}

export function useTheme(): { preference: ThemePreference; theme: Theme } {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => snapshot,
  );
}

/** Colors charts draw with, read from the CSS variables of the current theme. */
export function chartColors(): { axis: string; grid: string; text: string } {
  const style = getComputedStyle(document.documentElement);
  return {
    axis: style.getPropertyValue("--chart-axis").trim() || "#888",
    grid: style.getPropertyValue("--chart-grid").trim() || "#eee",
    text: style.getPropertyValue("--text-muted").trim() || "#666",
  };
}
