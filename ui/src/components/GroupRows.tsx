import type { ReactNode } from "react";
import { meanAndStd } from "../../../src/contract/groups";
import { configValue } from "../../../src/contract/run-table";
import type { Run, Summaries } from "../api/types";
import { formatNumber } from "../lib/format";
import { updateView } from "../state/view";
import { ConfigText, type ConfigTexts } from "./ConfigText";
import { type ColoredGroup, coloredGroups } from "./chart/groups";

/** A line of the grouped table: a group's row, or one of its runs under it when the group is open. */
export type TableEntry =
  | { kind: "group"; group: ColoredGroup; open: boolean }
  | { kind: "run"; run: Run; rowIndex: number; groupLabel: string };

/** The table's rows grouped by the fields, each group followed by its runs when it is open. */
export function tableEntries(rows: readonly Run[], fields: readonly string[], open: readonly string[]): TableEntry[] {
  const index = new Map(rows.map((r, i) => [r.id, i]));
  const opened = new Set(open);
  const out: TableEntry[] = [];
  for (const group of coloredGroups(rows, fields)) {
    const isOpen = opened.has(group.label);
    out.push({ kind: "group", group, open: isOpen });
    if (isOpen) {
      for (const run of group.runs)
        out.push({ kind: "run", run, rowIndex: index.get(run.id) ?? 0, groupLabel: group.label });
    }
  }
  return out;
}

export function entryKey(entry: TableEntry): string {
  return entry.kind === "group" ? `group\u0000${entry.group.label}` : entry.run.id;
}

function toggleGroup(label: string): void {
  updateView((v) => ({
    groupOpen: v.groupOpen.includes(label) ? v.groupOpen.filter((l) => l !== label) : [...v.groupOpen, label],
  }));
}

/** What a group row shows in a column: mean ± std of a metric column, a config value the runs share. */
function groupCell(
  columnId: string,
  group: ColoredGroup,
  summaries: ReadonlyMap<string, Summaries>,
  configTexts: ConfigTexts,
): ReactNode {
  const metric = /^metric:(.+):(last|min|max)$/.exec(columnId);
  if (metric) {
    const [, key, stat] = metric;
    const stats = meanAndStd(group.runs.map((r) => summaries.get(r.id)?.[key]?.[stat as "last"] ?? null));
    if (stats === null) return <span className="muted">—</span>;
    return (
      <span
        data-testid="group-stat"
        data-col={columnId}
        data-mean={stats.mean}
        data-std={stats.std}
        // The cell may cut the numbers: the title gives them whole.
        title={`${formatNumber(stats.mean)} ± ${formatNumber(stats.std)}: mean ± std over ${stats.count} run${stats.count === 1 ? "" : "s"}`}
      >
        {formatNumber(stats.mean)} <span className="muted">± {formatNumber(stats.std)}</span>
      </span>
    );
  }
  if (columnId.startsWith("config:")) {
    const key = columnId.slice(7);
    const values = new Set(group.runs.map((r) => JSON.stringify(configValue(r.config, key) ?? null)));
    if (values.size === 1)
      return <ConfigText value={configValue(group.runs[0].config, key)} readable={configTexts.get(key)} />;
    return <span className="muted">{values.size} values</span>;
  }
  return null;
}

/** A group's row: colour, label and run count where the run name goes, mean ± std in each summary column. */
export function GroupRowCells({
  group,
  open,
  columns,
  summaries,
  configTexts,
}: {
  group: ColoredGroup;
  open: boolean;
  columns: { id: string; numeric?: boolean; stickyLeft?: number }[];
  summaries: ReadonlyMap<string, Summaries>;
  configTexts: ConfigTexts;
}) {
  return (
    <>
      {columns.map((c) => {
        let content: ReactNode;
        if (c.id === "color") content = <span className="group-swatch" style={{ background: group.color }} />;
        else if (c.id === "name") {
          content = (
            <button
              type="button"
              className="link group-toggle"
              aria-expanded={open}
              data-testid="group-toggle"
              title={open ? "Hide the runs of this group" : "Show the runs of this group"}
              onClick={(e) => {
                e.stopPropagation();
                toggleGroup(group.label);
              }}
            >
              <span className="group-caret">{open ? "▾" : "▸"}</span>
              <span
                className="group-label"
                data-testid="group-label"
                title={group.name === group.label ? undefined : group.label}
              >
                {group.name}
              </span>
              <span className="muted group-count" data-testid="group-count">
                {group.runs.length} run{group.runs.length === 1 ? "" : "s"}
              </span>
            </button>
          );
        } else content = groupCell(c.id, group, summaries, configTexts);
        return (
          <div
            key={c.id}
            className={`cell${c.numeric ? " num" : ""}${c.stickyLeft === undefined ? "" : " sticky"}${c.id === "name" ? " sticky-edge" : ""}`}
            style={c.stickyLeft === undefined ? undefined : { left: c.stickyLeft }}
            data-col={c.id}
          >
            {content}
          </div>
        );
      })}
    </>
  );
}
