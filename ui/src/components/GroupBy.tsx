import { useRef, useState } from "react";
import { BAND_KINDS, type BandKind } from "../../../src/contract/groups";
import { updateView, type ViewState } from "../state/view";
import { usePopoverPlacement } from "./ColumnPicker";
import { useDismiss } from "./useDismiss";

const POPOVER_WIDTH = 340;
export const BAND_LABELS: Record<BandKind, string> = { std: "± std", stderr: "± stderr", minmax: "min–max" };
const RUN_FIELDS: { field: string; label: string }[] = [
  { field: "group", label: "group" },
  { field: "job_type", label: "job type" },
  { field: "tags", label: "tags" },
];

/** Groups the runs by any mix of config keys, tags, group and job type; picks the band and whether runs show too. */
export function GroupBy({
  view,
  configKeys,
}: {
  view: Pick<ViewState, "groupBy" | "band" | "groupRuns">;
  configKeys: readonly string[];
}) {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(open, () => setOpen(false), [ref]);
  const placement = usePopoverPlacement(open, ref, POPOVER_WIDTH);
  const chosen = new Set(view.groupBy);
  const toggle = (field: string) =>
    updateView(
      {
        groupBy: chosen.has(field) ? view.groupBy.filter((f) => f !== field) : [...view.groupBy, field],
        groupOpen: [],
      },
      true,
    );
  const f = filter.trim().toLowerCase();
  const option = (field: string, label: string) => (
    <label key={field} className="check-row">
      <input
        type="checkbox"
        checked={chosen.has(field)}
        onChange={() => toggle(field)}
        data-testid="group-by-option"
        data-field={field}
      />
      <span className="mono">{label}</span>
    </label>
  );
  const grouped = view.groupBy.length > 0;
  return (
    <div className="column-picker group-by" ref={ref}>
      <button
        type="button"
        className={`btn btn-sm${grouped ? " on" : ""}`}
        data-testid="group-by-button"
        aria-expanded={open}
        title="Group runs into one mean line with a band per group"
        onClick={() => setOpen(!open)}
      >
        Group by{grouped ? <span className="muted"> {view.groupBy.length}</span> : null}
      </button>
      {open && (
        <div className="popover column-popover" data-testid="group-by-popover" style={placement}>
          <div className="setting-row">
            <span>Band</span>
            <div className="segmented">
              {BAND_KINDS.map((kind) => (
                <button
                  type="button"
                  key={kind}
                  className={view.band === kind ? "on" : ""}
                  aria-pressed={view.band === kind}
                  data-testid="band-kind"
                  data-band={kind}
                  onClick={() => updateView({ band: kind })}
                >
                  {BAND_LABELS[kind]}
                </button>
              ))}
            </div>
          </div>
          <label className="check-row">
            <input
              type="checkbox"
              checked={view.groupRuns}
              onChange={() => updateView({ groupRuns: !view.groupRuns })}
              data-testid="group-show-runs"
            />
            Show the runs under each group's line
          </label>
          <input
            type="search"
            placeholder="Find a key"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            data-testid="group-by-filter"
          />
          <div className="column-lists">
            <section>
              <h4>Run</h4>
              {RUN_FIELDS.filter((r) => r.label.includes(f)).map((r) => option(r.field, r.label))}
            </section>
            <section>
              <h4>Config</h4>
              {configKeys.length === 0 && <p className="muted small">No config keys.</p>}
              {configKeys.filter((k) => k.toLowerCase().includes(f)).map((k) => option(`config.${k}`, k))}
            </section>
          </div>
          <div className="popover-foot">
            <button
              type="button"
              className="btn btn-ghost btn-sm"
              data-testid="group-by-clear"
              onClick={() => updateView({ groupBy: [], groupOpen: [] }, true)}
            >
              No grouping
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
