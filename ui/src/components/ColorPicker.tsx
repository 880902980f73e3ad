import { useRef, useState } from "react";
import { createPortal } from "react-dom";
import type { Run } from "../api/types";
import { PALETTE, runColor } from "../lib/colors";
import { useDismiss } from "./useDismiss";

/** A color swatch that opens a palette (plus any custom color) and saves the choice. */
export function ColorPicker({ run, onPick }: { run: Run; onPick(color: string | null): void }) {
  const [anchor, setAnchor] = useState<DOMRect | null>(null);
  const open = anchor !== null;
  const ref = useRef<HTMLDivElement>(null);
  const popRef = useRef<HTMLDivElement>(null);
  const color = runColor(run);
  useDismiss(open, () => setAnchor(null), [ref, popRef]);
  const pick = (value: string | null) => {
    setAnchor(null);
    onPick(value);
  };
  return (
    <div className="color-picker" ref={ref}>
      <button
        type="button"
        className="swatch"
        style={{ background: color }}
        data-testid="color-swatch"
        data-color={color}
        title="Change color"
        aria-label={`Color ${color}, change`}
        onClick={(e) => {
          e.stopPropagation();
          setAnchor(open ? null : e.currentTarget.getBoundingClientRect());
        }}
      />
      {anchor &&
        createPortal(
          <div
            className="popover color-popover"
            ref={popRef}
            data-testid="color-picker"
            style={{ position: "fixed", top: Math.min(anchor.bottom + 6, window.innerHeight - 150), left: anchor.left }}
          >
            <div className="color-grid">
              {PALETTE.map((c) => (
                <button
                  type="button"
                  key={c}
                  className={`swatch swatch-lg${c === color ? " active" : ""}`}
                  style={{ background: c }}
                  data-testid="color-option"
                  data-color={c}
                  aria-label={c}
                  onClick={() => pick(c)}
                />
              ))}
            </div>
            <div className="color-actions">
              <label className="custom-color">
                <input type="color" value={color} onChange={(e) => pick(e.target.value)} data-testid="color-custom" />
                Custom…
              </label>
              <button type="button" className="btn btn-ghost btn-sm" onClick={() => pick(null)} disabled={!run.color}>
                Default
              </button>
            </div>
          </div>,
          document.body,
        )}
    </div>
  );
}
