import type { LiveStatus } from "../state/live";
import { setThemePreference, useTheme } from "../state/theme";
import { MoonIcon, SunIcon } from "./Icons";

const LIVE_LABEL: Record<LiveStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

export function Header({
  experimentName,
  live,
  dbPath,
}: {
  experimentName: string | null;
  live: LiveStatus | null;
  dbPath: string | null;
}) {
  const { preference, theme } = useTheme();
  return (
    <header className="header">
      <a className="brand" href="./" aria-label="stonks home">
        <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden>
          <rect width="32" height="32" rx="7" fill="var(--accent)" />
          <path
            d="M6 22l6-7 5 4 9-11"
            stroke="white"
            strokeWidth="3"
            fill="none"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
        <span>stonks</span>
      </a>
      {experimentName && (
        <span className="crumb" data-testid="current-experiment">
          <span className="crumb-sep">/</span>
          {experimentName}
        </span>
      )}
      <span className="spacer" />
      {dbPath && (
        <span className="db-file" data-testid="db-file" title={`This dashboard shows ${dbPath}`}>
          {fileName(dbPath)}
        </span>
      )}
      {live && (
        <span className={`live live-${live}`} data-testid="live-status" data-status={live}>
          <span className="live-dot" />
          {LIVE_LABEL[live]}
        </span>
      )}
      <div className="theme-switch">
        <button
          type="button"
          className="icon-btn theme-btn"
          data-testid="theme-toggle"
          data-theme-now={theme}
          title={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          onClick={() => setThemePreference(theme === "dark" ? "light" : "dark")}
        >
          {theme === "dark" ? <SunIcon /> : <MoonIcon />}
        </button>
        {preference !== "system" && (
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            data-testid="theme-system"
            title="Follow the system theme"
            onClick={() => setThemePreference("system")}
          >
            Auto
          </button>
        )}
      </div>
    </header>
  );
}
