import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import type { JsonValue, Run } from "../api/types";
import { flatConfig } from "../lib/config";
import { formatAgo, formatDateTime, formatDuration, formatNumber, formatValue } from "../lib/format";
import { patchRun } from "../state/actions";
import { displayStatus, runDuration } from "../state/runs";
import { NEWEST_COUNT, setSelected } from "../state/selection";
import { updateView, type ViewState } from "../state/view";
import { ColorPicker } from "./ColorPicker";
import { type Aggregate, ColumnPicker } from "./ColumnPicker";
import { PencilIcon } from "./Icons";
import { SearchBox } from "./SearchBox";
import { StatusBadge } from "./StatusBadge";

const ROW_HEIGHT = 36;
const CHECK_WIDTH = 40;
/** The table grows with its rows up to this many, then scrolls. */
const MAX_VISIBLE_ROWS = 12;
const STATUS_ORDER = { running: 0, stale: 1, failed: 2, interrupted: 3, completed: 4 };

type SortValue = string | number | null;

interface Column {
  id: string;
  label: string;
  title?: string;
  width: number;
  numeric?: boolean;
  /** Stays in view while the table scrolls sideways, at this offset from the left edge. */
  stickyLeft?: number;
  value(run: Run, now: number): SortValue;
  cell(run: Run, now: number): ReactNode;
}

function configSortValue(value: JsonValue | undefined): SortValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return formatValue(value);
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return active ? now : Date.now() / 1000;
}

/** The columns a person can add: config keys and metric keys seen in these runs. */
function availableKeys(runs: Run[]): { configKeys: string[]; metricKeys: string[] } {
  const config = new Set<string>();
  const metrics = new Set<string>();
  for (const run of runs) {
    for (const key of flatConfig(run).keys()) config.add(key);
    for (const key in run.summary) metrics.add(key);
  }
  return { configKeys: [...config].sort(), metricKeys: [...metrics].sort() };
}

/** Changes when a run is added or removed, a config is replaced, or a run logs a new metric key. */
function useKeysSignature(runs: Run[]): number {
  const previous = useRef<{ configs: object[]; keyCount: number; version: number }>({
    configs: [],
    keyCount: -1,
    version: 0,
  });
  let keyCount = 0;
  for (const run of runs) for (const _ in run.summary) keyCount++;
  const p = previous.current;
  const same =
    p.keyCount === keyCount && p.configs.length === runs.length && runs.every((r, i) => r.config === p.configs[i]);
  if (!same) previous.current = { configs: runs.map((r) => r.config), keyCount, version: p.version + 1 };
  return previous.current.version;
}

/** Default extra columns: config keys that differ between runs (up to 4) and the last value of 2 metrics. */
function defaultColumns(runs: Run[], configKeys: string[], metricKeys: string[]): string[] {
  const varying = configKeys.filter((key) => {
    const first = JSON.stringify(flatConfig(runs[0] ?? ({ config: {} } as Run)).get(key) ?? null);
    return runs.some((r) => JSON.stringify(flatConfig(r).get(key) ?? null) !== first);
  });
  const preferred = metricKeys.filter((k) => /loss|acc/i.test(k));
  const metrics = (preferred.length ? preferred : metricKeys).slice(0, 2);
  return [...varying.slice(0, 4).map((k) => `config:${k}`), ...metrics.map((k) => `metric:${k}:last`)];
}

function NameCell({ run, onOpen }: { run: Run; onOpen(): void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState("");
  const label = run.name ?? run.id.slice(0, 8);
  const save = async () => {
    setEditing(false);
    const name = draft.trim();
    if (name !== (run.name ?? "")) await patchRun(run.id, { name: name === "" ? null : name });
  };
  if (editing) {
    return (
      <input
        className="inline-input"
        // biome-ignore lint/a11y/noAutofocus: the input appears because the person asked to rename
        autoFocus
        value={draft}
        maxLength={200}
        data-testid="rename-input"
        onClick={(e) => e.stopPropagation()}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") void save();
          if (e.key === "Escape") setEditing(false);
        }}
        onBlur={() => void save()}
      />
    );
  }
  return (
    <span className="name-cell">
      <button
        type="button"
        className="link name-link"
        data-testid="run-name"
        title={`${label}: open details`}
        onClick={(e) => {
          e.stopPropagation();
          onOpen();
        }}
        onDoubleClick={(e) => {
          e.stopPropagation();
          setDraft(run.name ?? "");
          setEditing(true);
        }}
      >
        {label}
      </button>
      <button
        type="button"
        className="icon-btn rename-btn"
        title="Rename"
        aria-label="Rename run"
        data-testid="rename-button"
        onClick={(e) => {
          e.stopPropagation();
          setDraft(run.name ?? "");
          setEditing(true);
        }}
      >
        <PencilIcon />
      </button>
    </span>
  );
}

function baseColumns(): Column[] {
  return [
    {
      id: "color",
      label: "",
      width: 34,
      stickyLeft: CHECK_WIDTH,
      value: (r) => r.color,
      cell: (r) => <ColorPicker run={r} onPick={(color) => void patchRun(r.id, { color })} />,
    },
    {
      id: "name",
      label: "Name",
      width: 230,
      stickyLeft: CHECK_WIDTH + 34,
      value: (r) => (r.name ?? r.id).toLowerCase(),
      cell: (r) => <NameCell run={r} onOpen={() => updateView({ run: r.id })} />,
    },
    {
      id: "status",
      label: "Status",
      width: 132,
      value: (r) => STATUS_ORDER[displayStatus(r)],
      cell: (r) => <StatusBadge run={r} />,
    },
    {
      id: "created",
      label: "Created",
      width: 116,
      numeric: true,
      value: (r) => r.created_at,
      cell: (r, now) => <span title={formatDateTime(r.created_at)}>{formatAgo(r.created_at, now)}</span>,
    },
    {
      id: "duration",
      label: "Duration",
      width: 92,
      numeric: true,
      value: (r, now) => runDuration(r, now),
      cell: (r, now) => formatDuration(runDuration(r, now)),
    },
    {
      id: "tags",
      label: "Tags",
      width: 170,
      value: (r) => (r.tags.length ? r.tags.join(",").toLowerCase() : null),
      cell: (r) => (
        <span className="tags" title={r.tags.join(", ")} data-testid="run-tags">
          {r.tags.map((t) => (
            <span className="tag tag-sm" key={t} title={t}>
              {t}
            </span>
          ))}
        </span>
      ),
    },
    {
      id: "group",
      label: "Group",
      width: 110,
      value: (r) => r.group,
      cell: (r) => r.group ?? <span className="muted">—</span>,
    },
  ];
}

function extraColumn(id: string): Column | null {
  if (id.startsWith("config:")) {
    const key = id.slice(7);
    return {
      id,
      label: key,
      title: `config ${key}`,
      width: 112,
      numeric: true,
      value: (r) => configSortValue(flatConfig(r).get(key)),
      cell: (r) => {
        const v = flatConfig(r).get(key);
        return v === undefined ? <span className="muted">—</span> : formatValue(v);
      },
    };
  }
  const match = /^metric:(.+):(last|min|max)$/.exec(id);
  if (!match) return null;
  const key = match[1];
  const agg = match[2] as Aggregate;
  return {
    id,
    label: `${key} ${agg}`,
    title: `${agg} of ${key}`,
    width: 124,
    numeric: true,
    value: (r) => r.summary[key]?.[agg] ?? null,
    cell: (r) => formatNumber(r.summary[key]?.[agg] ?? null),
  };
}

function compare(a: SortValue, b: SortValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** What of the view the table reads: a change elsewhere (smoothing, zoom, charts) leaves it alone. */
export type TableView = Pick<ViewState, "q" | "status" | "tag" | "cols" | "sort" | "order" | "newest" | "run">;

function filterRuns(runs: Run[], view: TableView): Run[] {
  const q = view.q.trim().toLowerCase();
  return runs.filter((r) => {
    if (view.status && displayStatus(r) !== view.status) return false;
    if (view.tag && !r.tags.includes(view.tag)) return false;
    if (q) {
      const text = `${r.name ?? ""} ${r.id} ${r.tags.join(" ")} ${r.group ?? ""} ${r.job_type ?? ""} ${r.notes ?? ""}`;
      if (!text.toLowerCase().includes(q)) return false;
    }
    return true;
  });
}

interface RunTableProps {
  /** Newest first. */
  runs: Run[];
  view: TableView;
  selected: Set<string>;
}

/** Base columns that no run has a value for (no tags, no group anywhere) are left out. */
function emptyBaseColumns(runs: Run[]): Set<string> {
  const empty = new Set<string>();
  if (runs.every((r) => r.tags.length === 0)) empty.add("tags");
  if (runs.every((r) => r.group === null)) empty.add("group");
  return empty;
}

function stickyStyle(column: Column) {
  return column.stickyLeft === undefined ? undefined : { left: column.stickyLeft };
}

/** A row's cells: ticking a run re-renders its checkbox, not every cell of every row. */
const RowCells = memo(function RowCells({ run, columns, now }: { run: Run; columns: Column[]; now: number }) {
  return (
    <>
      {columns.map((c) => (
        <div
          key={c.id}
          className={`cell${c.numeric ? " num" : ""}${c.stickyLeft === undefined ? "" : " sticky"}${c.id === "name" ? " sticky-edge" : ""}`}
          style={stickyStyle(c)}
          data-col={c.id}
        >
          {c.cell(run, now)}
        </div>
      ))}
    </>
  );
});

/** The runs of the experiment: virtualised rows, sortable columns, filters and selection. */
export const RunTable = memo(function RunTable({ runs, view, selected }: RunTableProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const lastClicked = useRef<number | null>(null);
  const hasRunning = runs.some((r) => r.status === "running" && !r.stale);
  const now = useNow(hasRunning);
  // Live updates replace run objects twice a second but rarely add a key: recompute only when configs or key counts change.
  const keysSignature = useKeysSignature(runs);
  // biome-ignore lint/correctness/useExhaustiveDependencies: keysSignature stands for what availableKeys reads
  const { configKeys, metricKeys } = useMemo(() => availableKeys(runs), [keysSignature]);
  const tags = useMemo(() => [...new Set(runs.flatMap((r) => r.tags))].sort(), [runs]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the default columns depend on configs and keys only
  const extraIds = useMemo(
    () => view.cols ?? defaultColumns(runs, configKeys, metricKeys),
    [view.cols, configKeys, metricKeys],
  );
  const emptyKey = [...emptyBaseColumns(runs)].join(",");
  const columns = useMemo(() => {
    const extra = extraIds.map(extraColumn).filter((c): c is Column => c !== null);
    const empty = new Set(emptyKey.split(","));
    return [...baseColumns().filter((c) => !empty.has(c.id)), ...extra];
  }, [extraIds, emptyKey]);

  const sortColumn = columns.find((c) => c.id === view.sort) ?? columns.find((c) => c.id === "created")!;
  const sortedNow = hasRunning && sortColumn.id === "duration" ? now : 0;
  const rows = useMemo(() => {
    const filtered = filterRuns(runs, view);
    const at = sortedNow || Date.now() / 1000;
    const keyed = filtered.map((run) => ({ run, key: sortColumn.value(run, at) }));
    const dir = view.order === "asc" ? 1 : -1;
    keyed.sort((a, b) => {
      if (a.key === null || a.key === undefined) return b.key === null || b.key === undefined ? 0 : 1;
      if (b.key === null || b.key === undefined) return -1;
      return dir * compare(a.key, b.key) || b.run.created_at - a.run.created_at;
    });
    return keyed.map((k) => k.run);
  }, [runs, view, sortColumn, sortedNow]);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i].id,
  });

  const template = `${CHECK_WIDTH}px ${columns.map((c) => `${c.width}px`).join(" ")}`;
  const totalWidth = CHECK_WIDTH + columns.reduce((s, c) => s + c.width, 0);
  const allShownSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const scrollHeight = ROW_HEIGHT * (Math.min(Math.max(rows.length, 1), MAX_VISIBLE_ROWS) + 1) + 14;

  const select = (ids: string[], on: boolean) =>
    updateView((v) =>
      setSelected(
        v,
        ids,
        on,
        runs.map((r) => r.id),
      ),
    );
  const toggle = (index: number, shift: boolean) => {
    const run = rows[index];
    const on = !selected.has(run.id);
    if (shift && lastClicked.current !== null) {
      const [a, b] = [Math.min(lastClicked.current, index), Math.max(lastClicked.current, index)];
      select(
        rows.slice(a, b + 1).map((r) => r.id),
        on,
      );
    } else select([run.id], on);
    lastClicked.current = index;
  };
  // Ascending first for every column: smallest loss, earliest time, A to Z.
  const sortBy = (column: Column) => {
    if (view.sort === column.id) updateView({ order: view.order === "asc" ? "desc" : "asc" });
    else updateView({ sort: column.id, order: "asc" });
  };

  return (
    <div className="run-table-wrap" data-testid="run-table">
      <div className="table-toolbar">
        <SearchBox
          placeholder="Search runs by name, id, tag, group, notes"
          value={view.q}
          testId="run-search"
          onChange={(q) => updateView({ q })}
        />
        <select
          value={view.status}
          data-testid="status-filter"
          aria-label="Filter by status"
          onChange={(e) => updateView({ status: e.target.value })}
        >
          <option value="">All statuses</option>
          <option value="running">Running</option>
          <option value="stale">Stale</option>
          <option value="completed">Completed</option>
          <option value="failed">Failed</option>
          <option value="interrupted">Interrupted</option>
        </select>
        <select
          value={view.tag}
          data-testid="tag-filter"
          aria-label="Filter by tag"
          onChange={(e) => updateView({ tag: e.target.value })}
        >
          <option value="">All tags</option>
          {tags.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <ColumnPicker configKeys={configKeys} metricKeys={metricKeys} chosen={extraIds} />
        <span className="table-count" data-testid="run-count">
          {rows.length === runs.length ? `${runs.length} runs` : `${rows.length} of ${runs.length} runs`}
          {" · "}
          <span data-testid="selected-count">{selected.size} selected</span>
        </span>
        <button
          type="button"
          className={`btn btn-sm newest-toggle${view.newest ? " on" : ""}`}
          aria-pressed={view.newest}
          data-testid="newest-toggle"
          title={`Chart the ${NEWEST_COUNT} newest runs, as they come, besides the runs you tick`}
          onClick={() => updateView({ newest: !view.newest, hide: [] })}
        >
          {view.newest ? "✓ " : ""}Newest {NEWEST_COUNT}
        </button>
        {selected.size > 0 && (
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            data-testid="clear-selection"
            title="Chart no run (Newest turns off too)"
            onClick={() => updateView({ newest: false, runs: [], hide: [] })}
          >
            Clear
          </button>
        )}
      </div>
      <div className="table-scroll" ref={scrollRef} data-testid="table-scroll" style={{ height: scrollHeight }}>
        <div className="table-inner" style={{ width: totalWidth, minWidth: "100%" }}>
          <div className="table-head" style={{ gridTemplateColumns: template }}>
            <div className="cell cell-check sticky">
              <input
                type="checkbox"
                aria-label="Select all shown runs"
                data-testid="select-all"
                checked={allShownSelected}
                onChange={() =>
                  select(
                    rows.map((r) => r.id),
                    !allShownSelected,
                  )
                }
              />
            </div>
            {columns.map((c) => (
              <button
                type="button"
                key={c.id}
                className={`cell head-cell${c.numeric ? " num" : ""}${view.sort === c.id ? " sorted" : ""}${c.stickyLeft === undefined ? "" : " sticky"}${c.id === "name" ? " sticky-edge" : ""}`}
                style={stickyStyle(c)}
                title={c.title ?? c.label}
                data-testid="col-header"
                data-col={c.id}
                onClick={() => c.id !== "color" && sortBy(c)}
              >
                <span className="head-label">{c.label}</span>
                {view.sort === c.id && (
                  <span className="sort-arrow" data-testid="sort-arrow">
                    {view.order === "asc" ? "▲" : "▼"}
                  </span>
                )}
              </button>
            ))}
          </div>
          {rows.length === 0 ? (
            <div className="table-empty" data-testid="table-empty">
              No runs match these filters.{" "}
              <button
                type="button"
                className="link"
                onClick={() => updateView({ q: "", status: "", tag: "" })}
                data-testid="clear-filters"
              >
                Clear filters
              </button>
            </div>
          ) : (
            <div className="table-body" style={{ height: virtualizer.getTotalSize() }}>
              {virtualizer.getVirtualItems().map((item) => {
                const run = rows[item.index];
                const isSelected = selected.has(run.id);
                return (
                  // biome-ignore lint/a11y/useSemanticElements: virtualised rows are positioned divs; a <tr> cannot be
                  <div
                    key={run.id}
                    className={`table-row${isSelected ? " selected" : ""}${view.run === run.id ? " open" : ""}`}
                    style={{ transform: `translateY(${item.start}px)`, gridTemplateColumns: template }}
                    role="row"
                    tabIndex={-1}
                    data-testid="run-row"
                    data-run-id={run.id}
                    aria-selected={isSelected}
                    onClick={(e) => {
                      // Clicks in popovers (rendered elsewhere in the page) bubble here through React.
                      if (e.currentTarget.contains(e.target as Node)) toggle(item.index, e.shiftKey);
                    }}
                    onKeyDown={(e) => {
                      if (e.key === " " && e.target === e.currentTarget) {
                        e.preventDefault();
                        toggle(item.index, e.shiftKey);
                      }
                    }}
                  >
                    <div className="cell cell-check sticky">
                      <input
                        type="checkbox"
                        checked={isSelected}
                        aria-label={`Select ${run.name ?? run.id}`}
                        data-testid="run-select"
                        onClick={(e) => e.stopPropagation()}
                        onChange={(e) => toggle(item.index, (e.nativeEvent as MouseEvent).shiftKey)}
                      />
                    </div>
                    <RowCells run={run} columns={columns} now={now} />
                  </div>
                );
              })}
            </div>
          )}
        </div>
      </div>
    </div>
  );
});
