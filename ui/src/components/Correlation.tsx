import { memo, useMemo } from "react";
import { configValue } from "../../../src/contract/run-table";
import type { Run, Summaries } from "../api/types";
import { fieldValue } from "../lib/sweep";
import { spearman } from "../lib/sweep-math";

interface CorrelationProps {
  runs: readonly Run[];
  summaries: ReadonlyMap<string, Summaries>;
  configKeys: readonly string[];
  metric: string;
  metricLabel: string;
  sort: "rho" | "n";
  onSort(sort: "rho" | "n"): void;
}

interface Row {
  key: string;
  rho: number;
  n: number;
}

/** Spearman's rho of each numeric config key against a metric summary, with how many runs have both. */
export function correlationRows(
  runs: readonly Run[],
  summaries: ReadonlyMap<string, Summaries>,
  configKeys: readonly string[],
  metric: string,
): { rows: Row[]; leftOut: string[] } {
  const ys = runs.map((run) => {
    const v = fieldValue(run, summaries.get(run.id) ?? {}, metric);
    return typeof v === "number" ? v : undefined;
  });
  const rows: Row[] = [];
  const leftOut: string[] = [];
  for (const key of configKeys) {
    const xs = runs.map((run) => {
      const v = configValue(run.config, key);
      return typeof v === "number" && Number.isFinite(v) ? v : undefined;
    });
    if (xs.every((x) => x === undefined)) leftOut.push(key);
    else rows.push({ key, ...spearman(xs, ys) });
  }
  return { rows, leftOut };
}

function byMagnitude(a: Row, b: Row): number {
  const ra = Number.isNaN(a.rho) ? -1 : Math.abs(a.rho);
  const rb = Number.isNaN(b.rho) ? -1 : Math.abs(b.rho);
  return rb - ra || b.n - a.n || a.key.localeCompare(b.key);
}

/** The correlation table: one row per numeric config key, sortable by |rho| or by n. */
export const Correlation = memo(function Correlation({
  runs,
  summaries,
  configKeys,
  metric,
  metricLabel,
  sort,
  onSort,
}: CorrelationProps) {
  const { rows, leftOut } = useMemo(
    () => correlationRows(runs, summaries, configKeys, metric),
    [runs, summaries, configKeys, metric],
  );
  const sorted = useMemo(
    () => rows.slice().sort(sort === "n" ? (a, b) => b.n - a.n || byMagnitude(a, b) : byMagnitude),
    [rows, sort],
  );
  return (
    <div className="correlation" data-testid="correlation">
      <table className="corr-table">
        <thead>
          <tr>
            <th>Config key</th>
            <th>
              <button
                type="button"
                className={`link${sort === "rho" ? " sorted" : ""}`}
                data-testid="corr-sort-rho"
                title="Sort by the size of the correlation, strongest first"
                onClick={() => onSort("rho")}
              >
                Spearman ρ with {metricLabel}
                {sort === "rho" ? " ▼" : ""}
              </button>
            </th>
            <th>
              <button
                type="button"
                className={`link${sort === "n" ? " sorted" : ""}`}
                data-testid="corr-sort-n"
                title="Sort by the number of runs with both values"
                onClick={() => onSort("n")}
              >
                Runs{sort === "n" ? " ▼" : ""}
              </button>
            </th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((row) => (
            <tr
              key={row.key}
              data-testid="corr-row"
              data-key={row.key}
              data-rho={Number.isNaN(row.rho) ? "" : String(row.rho)}
              data-n={row.n}
            >
              <td className="corr-key">{row.key}</td>
              <td className="corr-rho">
                {Number.isNaN(row.rho) ? (
                  <span className="muted" title="Fewer than two runs with both values, or one side never changes">
                    —
                  </span>
                ) : (
                  <>
                    <span className="corr-bar-track">
                      <span
                        className={`corr-bar ${row.rho < 0 ? "neg" : "pos"}`}
                        style={{
                          width: `${Math.abs(row.rho) * 50}%`,
                          left: row.rho < 0 ? `${50 - Math.abs(row.rho) * 50}%` : "50%",
                        }}
                      />
                    </span>
                    <span className="corr-value" data-testid="corr-rho">
                      {row.rho.toFixed(3)}
                    </span>
                  </>
                )}
              </td>
              <td className="num" data-testid="corr-n">
                {row.n}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p className="muted sweep-note">No config key has numeric values.</p>}
      {leftOut.length > 0 && (
        <p className="muted sweep-note" data-testid="corr-left-out">
          Left out, not numeric: {leftOut.join(", ")}.
        </p>
      )}
      <p className="muted sweep-note">
        Spearman's ρ compares ranks (tied values share their mean rank): 1 when the metric rises with the key, −1 when
        it falls, near 0 when the order does not follow. Runs counts the runs with a number for the key and a value of
        the metric.
      </p>
    </div>
  );
});
