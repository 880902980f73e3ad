import { useState } from "react";
import type { JsonValue } from "../api/types";
import { isObject } from "../lib/config";
import { formatValue } from "../lib/format";

function Node({ name, value, depth }: { name: string; value: JsonValue; depth: number }) {
  const [open, setOpen] = useState(depth < 2);
  if (isObject(value)) {
    const entries = Object.entries(value);
    return (
      <li className="tree-node">
        <button type="button" className="tree-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
          <span className={`chevron${open ? " open" : ""}`}>›</span>
          <span className="tree-key">{name}</span>
          <span className="tree-meta">{entries.length} keys</span>
        </button>
        {open && (
          <ul>
            {entries.map(([k, v]) => (
              <Node key={k} name={k} value={v} depth={depth + 1} />
            ))}
          </ul>
        )}
      </li>
    );
  }
  return (
    <li className="tree-leaf" data-testid="config-leaf" data-key={name}>
      <span className="tree-key">{name}</span>
      <span className={`tree-value type-${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`}>
        {typeof value === "string" ? `"${value}"` : formatValue(value)}
      </span>
    </li>
  );
}

/** A run's config as a collapsible tree. */
export function ConfigTree({ config }: { config: { [key: string]: JsonValue } }) {
  const entries = Object.entries(config);
  if (entries.length === 0) return <p className="muted">No config logged.</p>;
  return (
    <ul className="tree" data-testid="config-tree">
      {entries.map(([k, v]) => (
        <Node key={k} name={k} value={v} depth={0} />
      ))}
    </ul>
  );
}
