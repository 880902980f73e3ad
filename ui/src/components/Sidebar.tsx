import { useState } from "react";
import type { Experiment } from "../api/types";
import { TrashIcon } from "./Icons";
import { SearchBox } from "./SearchBox";

export function Sidebar({
  experiments,
  current,
  loading,
  onPick,
  onDelete,
}: {
  experiments: Experiment[];
  current: string | null;
  loading: boolean;
  onPick(id: string): void;
  onDelete(experiment: Experiment): void;
}) {
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const shown = q ? experiments.filter((e) => e.name.toLowerCase().includes(q)) : experiments;
  return (
    <nav className="sidebar" aria-label="Experiments" data-testid="sidebar">
      <div className="sidebar-head">
        <span className="sidebar-title">Experiments</span>
        <span className="muted small">{experiments.length}</span>
      </div>
      <SearchBox small placeholder="Search experiments" value={query} testId="experiment-search" onChange={setQuery} />
      <ul className="experiment-list">
        {shown.map((e) => (
          <li key={e.id}>
            <div
              className={`experiment-item${e.id === current ? " active" : ""}`}
              data-testid="experiment-item"
              data-name={e.name}
            >
              <button type="button" className="experiment-link" onClick={() => onPick(e.id)} title={e.name}>
                <span className="experiment-name">{e.name}</span>
                <span className="count" data-testid="experiment-count">
                  {e.run_count}
                </span>
              </button>
              <button
                type="button"
                className="icon-btn delete-exp"
                title={`Delete experiment ${e.name}`}
                aria-label={`Delete experiment ${e.name}`}
                data-testid="delete-experiment"
                onClick={() => onDelete(e)}
              >
                <TrashIcon />
              </button>
            </div>
          </li>
        ))}
      </ul>
      {!loading && shown.length === 0 && (
        <p className="muted small pad" data-testid="no-experiments">
          {q ? "No experiment matches." : "No experiments yet."}
        </p>
      )}
    </nav>
  );
}
