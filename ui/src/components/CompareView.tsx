import { useMemo } from "react";
import { flattenConfig } from "../../../src/contract/run-table";
import type { JsonValue, Run } from "../api/types";
import { runColor } from "../lib/colors";
import { sameValue } from "../lib/config";
import { formatValue } from "../lib/format";
import { updateView } from "../state/view";
import { EmptyState } from "./EmptyState";

/** Configs of the selected runs side by side; keys whose values differ are highlighted. */
export function CompareView({
  runs,
  onlyDiff,
  setOnlyDiff,
}: {
  runs: Run[];
  onlyDiff: boolean;
  setOnlyDiff(v: boolean): void;
}) {
  const rows = useMemo(() => {
    const keys = new Set<string>();
    const flats = runs.map((run) => flattenConfig(run.config));
    for (const flat of flats) for (const k of flat.keys()) keys.add(k);
    return [...keys].sort().map((key) => {
      const values: (JsonValue | undefined)[] = flats.map((f) => f.get(key));
      const differs = values.some((v) => !sameValue(v, values[0]));
      return { key, values, differs };
    });
  }, [runs]);

  if (runs.length === 0) {
    return (
      <EmptyState title="No runs selected" testId="empty-compare" icon="⇄">
        <p>Select two or more runs in the table to compare their configs.</p>
      </EmptyState>
    );
  }
  const differing = rows.filter((r) => r.differs).length;
  const shown = onlyDiff ? rows.filter((r) => r.differs) : rows;
  return (
    <div className="compare-view" data-testid="compare-view">
      <div className="chart-toolbar">
        <label className="switch">
          <input
            type="checkbox"
            checked={onlyDiff}
            data-testid="only-diff"
            onChange={(e) => setOnlyDiff(e.target.checked)}
          />
          <span className="switch-track" />
          Only differences
        </label>
        <span className="muted" data-testid="diff-count">
          {differing} of {rows.length} keys differ
          {runs.length < 2 && " · select another run to compare"}
        </span>
      </div>
      {shown.length === 0 ? (
        <p className="muted pad">
          {rows.length === 0 ? "These runs have no config." : "Every key has the same value."}
        </p>
      ) : (
        <div className="compare-scroll">
          <table className="compare-table">
            <thead>
              <tr>
                <th className="compare-key">Key</th>
                {runs.map((r) => (
                  <th key={r.id}>
                    <button type="button" className="link compare-run" onClick={() => updateView({ run: r.id })}>
                      <span className="dot" style={{ background: runColor(r) }} />
                      {r.name ?? r.id.slice(0, 8)}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <tr
                  key={row.key}
                  className={row.differs ? "diff" : ""}
                  data-testid="compare-row"
                  data-key={row.key}
                  data-differs={row.differs}
                >
                  <td className="compare-key mono">{row.key}</td>
                  {row.values.map((v, i) => (
                    <td key={runs[i].id} className={`mono${v === undefined ? " muted" : ""}`}>
                      {v === undefined ? "—" : formatValue(v)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
