/** Text for people: aligned tables, times, durations, sizes. */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Right-align (numbers). */
  right?: boolean;
  /** Longest cell before it is cut with an ellipsis. */
  max?: number;
}

function clip(text: string, max: number | undefined): string {
  const flat = text.replace(/[\r\n\t]+/g, " ");
  if (max === undefined || flat.length <= max) return flat;
  return `${flat.slice(0, max - 1)}…`;
}

/** Columns separated by two spaces, padded to the widest cell; no trailing spaces. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => clip(column.value(row), column.max)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (columns[i].right ? value.padStart(widths[i]) : value.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local time as YYYY-MM-DD HH:MM. */
export function formatTime(unixSeconds: number | null): string {
  if (unixSeconds === null) return "-";
  const d = new Date(unixSeconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** 42s, 3m 05s, 2h 07m, 3d 04h. */
/** "—" for an unknown duration (a run that died before its first heartbeat and logged nothing). */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad2(Math.floor((s % 86400) / 3600))}h`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** A short run id for tables (the full id is in --json and accepted everywhere). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
