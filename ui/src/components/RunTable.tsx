import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import { MAX_RUN_NAME_LENGTH } from "../../../src/contract/limits";
import { configValue, flattenConfig } from "../../../src/contract/run-table";
import type { Run, Summaries } from "../api/types";
import { formatAgo, formatDateTime, formatDuration, formatNumber } from "../lib/format";
import { readableNumbers } from "../lib/group-names";
import { columnField, runDuration, tableFilter, tableRows } from "../lib/run-table";
import { searchQuery } from "../lib/where-search";
import { patchRun } from "../state/actions";
import { useRuns } from "../state/runs";
import { NEWEST_COUNT, setSelected } from "../state/selection";
import { updateView, type ViewState } from "../state/view";
import { ColorPicker } from "./ColorPicker";
import { type Aggregate, ColumnPicker } from "./ColumnPicker";
import { ConfigText, type ConfigTexts } from "./ConfigText";
import { GroupBy } from "./GroupBy";
import { entryKey, GroupRowCells, type TableEntry, tableEntries } from "./GroupRows";
import { PencilIcon } from "./Icons";
import { StatusBadge } from "./StatusBadge";
import { WhereBox } from "./WhereBox";

const ROW_HEIGHT = 36;
const CHECK_WIDTH = 40;
/** The table grows with its rows up to this many, then scrolls. */
const MAX_VISIBLE_ROWS = 12;
const NO_SUMMARY: Summaries = {};

interface Column {
  id: string;
  label: string;
  title?: string;
  width: number;
  numeric?: boolean;
  /** Stays in view while the table scrolls sideways, at this offset from the left edge. */
  stickyLeft?: number;
  cell(run: Run, now: number, summary: Summaries): ReactNode;
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

/** Default extra columns: config keys that differ between runs (up to 4) and the last value of 2 metrics. */
function defaultColumns(runs: Run[], configKeys: readonly string[], metricKeys: readonly string[]): string[] {
  const shown = (run: Run | undefined, key: string) =>
    JSON.stringify((run === undefined ? undefined : flattenConfig(run.config).get(key)) ?? null);
  const varying = configKeys.filter((key) => {
    const first = shown(runs[0], key);
    return runs.some((r) => shown(r, key) !== first);
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
        maxLength={MAX_RUN_NAME_LENGTH}
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
      cell: (r) => <ColorPicker run={r} onPick={(color) => void patchRun(r.id, { color })} />,
    },
    {
      id: "name",
      label: "Name",
      width: 230,
      stickyLeft: CHECK_WIDTH + 34,
      cell: (r) => <NameCell run={r} onOpen={() => updateView({ run: r.id })} />,
    },
    {
      id: "status",
      label: "Status",
      width: 132,
      cell: (r) => <StatusBadge run={r} />,
    },
    {
      id: "created",
      label: "Created",
      width: 116,
      numeric: true,
      cell: (r, now) => <span title={formatDateTime(r.created_at)}>{formatAgo(r.created_at, now)}</span>,
    },
    {
      id: "duration",
      label: "Duration",
      width: 92,
      numeric: true,
      cell: (r, now) => formatDuration(runDuration(r, now)),
    },
    {
      id: "tags",
      label: "Tags",
      width: 170,
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
      cell: (r) => r.group ?? <span className="muted">—</span>,
    },
  ];
}

/**
 * How the config columns' numbers read over all the table's runs; the same map while the numbers
 * are the same (a heartbeat or a rename leaves the columns, and so every row, as they were).
 */
function useConfigTexts(runs: readonly Run[], columnIds: readonly string[]): ConfigTexts {
  const signature = useMemo(() => {
    const numbers = columnIds
      .filter((id) => id.startsWith("config:"))
      .map((id) => {
        const key = id.slice(7);
        const values = new Set<number>();
        for (const r of runs) {
          const v = configValue(r.config, key);
          if (typeof v === "number") values.add(v);
        }
        return [key, [...values].sort((a, b) => a - b)] as const;
      });
    return JSON.stringify(numbers);
  }, [runs, columnIds]);
  return useMemo(() => {
    const numbers = JSON.parse(signature) as [string, number[]][];
    return new Map(numbers.map(([key, values]) => [key, readableNumbers(values)]));
  }, [signature]);
}

function extraColumn(id: string, configTexts: ConfigTexts): Column | null {
  if (id.startsWith("config:")) {
    const key = id.slice(7);
    return {
      id,
      label: key,
      title: `config ${key}`,
      width: 112,
      numeric: true,
      cell: (r) => <ConfigText value={configValue(r.config, key)} readable={configTexts.get(key)} />,
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
    cell: (_r, _now, summary) => formatNumber(summary[key]?.[agg] ?? null),
  };
}

/** What of the view the table reads: a change elsewhere (smoothing, zoom, charts) leaves it alone. */
export type TableView = Pick<
  ViewState,
  "q" | "status" | "tag" | "cols" | "sort" | "order" | "newest" | "run" | "groupBy" | "band" | "groupRuns" | "groupOpen"
>;

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
const RowCells = memo(function RowCells({
  run,
  summary,
  columns,
  now,
}: {
  run: Run;
  summary: Summaries;
  columns: Column[];
  now: number;
}) {
  return (
    <>
      {columns.map((c) => (
        <div
          key={c.id}
          className={`cell${c.numeric ? " num" : ""}${c.stickyLeft === undefined ? "" : " sticky"}${c.id === "name" ? " sticky-edge" : ""}`}
          style={stickyStyle(c)}
          data-col={c.id}
        >
          {c.cell(run, now, summary)}
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
  // Summaries change with every batch of points; the runs and the key lists only when what they hold does.
  const { summaries, keys } = useRuns();
  const { configKeys, metricKeys } = keys;
  const tags = useMemo(() => [...new Set(runs.flatMap((r) => r.tags))].sort(), [runs]);
  const extraIds = useMemo(
    () => view.cols ?? defaultColumns(runs, configKeys, metricKeys),
    [view.cols, runs, configKeys, metricKeys],
  );
  const emptyKey = [...emptyBaseColumns(runs)].join(",");
  const configTexts = useConfigTexts(runs, extraIds);
  const columns = useMemo(() => {
    const extra = extraIds.map((id) => extraColumn(id, configTexts)).filter((c): c is Column => c !== null);
    const empty = new Set(emptyKey.split(","));
    return [...baseColumns().filter((c) => !empty.has(c.id)), ...extra];
  }, [extraIds, emptyKey, configTexts]);

  const sortColumn = columns.find((c) => c.id === view.sort) ?? columns.find((c) => c.id === "created")!;
  const sortedNow = hasRunning && sortColumn.id === "duration" ? now : 0;
  // A metric column's order moves with the summaries; any other column's does not.
  const sortSummaries = sortColumn.id.startsWith("metric:") ? summaries : null;
  const rows = useMemo(() => {
    const at = sortedNow || Date.now() / 1000;
    const field = columnField(sortColumn.id) ?? undefined;
    const filter = tableFilter(view);
    // The search box holds words or an expression; one with a mistake filters nothing until it is fixed.
    const search = searchQuery(view.q);
    const boxFilter = filter && { ...filter, text: search.kind === "text" ? search.text : "" };
    if (boxFilter && search.kind === "where") boxFilter.where = search.where;
    // A where expression may read metric summaries, so it needs them whatever the sort column.
    const rowSummaries = sortSummaries ?? (search.kind === "where" ? summaries : new Map());
    return tableRows(runs, rowSummaries, boxFilter, { field, order: view.order }, at);
  }, [runs, view, sortColumn, sortedNow, sortSummaries, summaries]);

  const entries: TableEntry[] = useMemo(
    () =>
      view.groupBy.length > 0
        ? tableEntries(rows, view.groupBy, view.groupOpen)
        : rows.map((run, rowIndex) => ({ kind: "run", run, rowIndex, groupLabel: "" })),
    [rows, view.groupBy, view.groupOpen],
  );
  const virtualizer = useVirtualizer({
    count: entries.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => entryKey(entries[i]),
  });

  const template = `${CHECK_WIDTH}px ${columns.map((c) => `${c.width}px`).join(" ")}`;
  const totalWidth = CHECK_WIDTH + columns.reduce((s, c) => s + c.width, 0);
  const allShownSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const scrollHeight = ROW_HEIGHT * (Math.min(Math.max(entries.length, 1), MAX_VISIBLE_ROWS) + 1) + 14;

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
        <WhereBox
          placeholder="Search runs, or filter: config.lr < 0.01 AND status = completed"
          value={view.q}
          testId="run-search"
          configKeys={configKeys}
          metricKeys={metricKeys}
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
        <GroupBy view={view} configKeys={configKeys} />
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
                const entry = entries[item.index];
                if (entry.kind === "group") {
                  const ids = entry.group.runs.map((r) => r.id);
                  const allSelected = ids.every((id) => selected.has(id));
                  return (
                    // biome-ignore lint/a11y/useSemanticElements: virtualised rows are positioned divs; a <tr> cannot be
                    <div
                      key={item.key}
                      className="table-row group-row"
                      tabIndex={-1}
                      style={{ transform: `translateY(${item.start}px)`, gridTemplateColumns: template }}
                      role="row"
                      data-testid="group-row"
                      data-group={entry.group.label}
                    >
                      <div className="cell cell-check sticky">
                        <input
                          type="checkbox"
                          checked={allSelected}
                          aria-label={`Select the runs of ${entry.group.name}`}
                          data-testid="group-select"
                          onChange={() => select(ids, !allSelected)}
                        />
                      </div>
                      <GroupRowCells
                        group={entry.group}
                        open={entry.open}
                        columns={columns}
                        summaries={summaries}
                        configTexts={configTexts}
                      />
                    </div>
                  );
                }
                const run = entry.run;
                const rowIndex = entry.rowIndex;
                const isSelected = selected.has(run.id);
                return (
                  // biome-ignore lint/a11y/useSemanticElements: virtualised rows are positioned divs; a <tr> cannot be
                  <div
                    key={run.id}
                    className={`table-row${isSelected ? " selected" : ""}${view.run === run.id ? " open" : ""}${entry.groupLabel ? " in-group" : ""}`}
                    style={{ transform: `translateY(${item.start}px)`, gridTemplateColumns: template }}
                    role="row"
                    tabIndex={-1}
                    data-testid="run-row"
                    data-run-id={run.id}
                    aria-selected={isSelected}
                    onClick={(e) => {
                      // Clicks in popovers (rendered elsewhere in the page) bubble here through React.
                      if (e.currentTarget.contains(e.target as Node)) toggle(rowIndex, e.shiftKey);
                    }}
                    onKeyDown={(e) => {
                      if (e.key === " " && e.target === e.currentTarget) {
                        e.preventDefault();
                        toggle(rowIndex, e.shiftKey);
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
                        onChange={(e) => toggle(rowIndex, (e.nativeEvent as MouseEvent).shiftKey)}
                      />
                    </div>
                    <RowCells run={run} summary={summaries.get(run.id) ?? NO_SUMMARY} columns={columns} now={now} />
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
