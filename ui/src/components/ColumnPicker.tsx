import { type CSSProperties, useLayoutEffect, useRef, useState } from "react";
import { updateView } from "../state/view";
import { useDismiss } from "./useDismiss";

export const AGGREGATES = ["last", "min", "max"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

const POPOVER_WIDTH = 440;
const POPOVER_MAX_HEIGHT = 420;
const MARGIN = 8;

/**
 * Fixed to the viewport under its button, moved left and shortened as needed:
 * the table around it clips what overflows, and a narrow window cut it in half.
 */
export function usePopoverPlacement(
  open: boolean,
  anchor: React.RefObject<HTMLElement | null>,
  width = POPOVER_WIDTH,
): CSSProperties {
  const [style, setStyle] = useState<CSSProperties>({ visibility: "hidden" });
  useLayoutEffect(() => {
    if (!open) return;
    const place = () => {
      const box = anchor.current?.getBoundingClientRect();
      if (!box) return;
      const shownWidth = Math.min(width, window.innerWidth - 2 * MARGIN);
      const left = Math.max(MARGIN, Math.min(box.left, window.innerWidth - shownWidth - MARGIN));
      const below = window.innerHeight - box.bottom - 4 - MARGIN;
      const above = box.top - 4 - MARGIN;
      // Opens upwards when the room below is short and there is more above.
      if (below < POPOVER_MAX_HEIGHT && above > below) {
        setStyle({
          position: "fixed",
          bottom: window.innerHeight - box.top + 4,
          left,
          width: shownWidth,
          maxHeight: Math.min(POPOVER_MAX_HEIGHT, above),
        });
      } else {
        setStyle({
          position: "fixed",
          top: box.bottom + 4,
          left,
          width: shownWidth,
          maxHeight: Math.min(POPOVER_MAX_HEIGHT, below),
        });
      }
    };
    place();
    window.addEventListener("resize", place);
    window.addEventListener("scroll", place, true);
    return () => {
      window.removeEventListener("resize", place);
      window.removeEventListener("scroll", place, true);
    };
  }, [open, anchor, width]);
  return style;
}

/** Chooses the config and metric columns of the run table. */
export function ColumnPicker({
  configKeys,
  metricKeys,
  chosen,
}: {
  configKeys: readonly string[];
  metricKeys: readonly string[];
  chosen: string[];
}) {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(open, () => setOpen(false), [ref]);
  const placement = usePopoverPlacement(open, ref);
  const set = new Set(chosen);
  const toggle = (id: string) => {
    const next = set.has(id) ? chosen.filter((c) => c !== id) : [...chosen, id];
    updateView({ cols: next });
  };
  const f = filter.trim().toLowerCase();
  const configShown = configKeys.filter((k) => k.toLowerCase().includes(f));
  const metricsShown = metricKeys.filter((k) => k.toLowerCase().includes(f));
  return (
    <div className="column-picker" ref={ref}>
      <button
        type="button"
        className="btn btn-sm"
        data-testid="columns-button"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        Columns <span className="muted">{chosen.length}</span>
      </button>
      {open && (
        <div className="popover column-popover" data-testid="column-picker" style={placement}>
          <input
            type="search"
            placeholder="Find a key"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            data-testid="column-filter"
          />
          <div className="column-lists">
            <section>
              <h4>Config</h4>
              {configShown.length === 0 && <p className="muted small">No config keys.</p>}
              {configShown.map((k) => (
                <label key={k} className="check-row">
                  <input
                    type="checkbox"
                    checked={set.has(`config:${k}`)}
                    onChange={() => toggle(`config:${k}`)}
                    data-testid="col-option"
                    data-col={`config:${k}`}
                  />
                  <span className="mono">{k}</span>
                </label>
              ))}
            </section>
            <section>
              <h4>Metrics</h4>
              {metricsShown.length === 0 && <p className="muted small">No metrics logged.</p>}
              {metricsShown.map((k) => (
                <div key={k} className="metric-option">
                  <span className="mono">{k}</span>
                  <span className="agg-checks">
                    {AGGREGATES.map((agg) => (
                      <label key={agg}>
                        <input
                          type="checkbox"
                          checked={set.has(`metric:${k}:${agg}`)}
                          onChange={() => toggle(`metric:${k}:${agg}`)}
                          data-testid="col-option"
                          data-col={`metric:${k}:${agg}`}
                        />
                        {agg}
                      </label>
                    ))}
                  </span>
                </div>
              ))}
            </section>
          </div>
          <div className="popover-foot">
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => updateView({ cols: null })}>
              Reset to default
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
