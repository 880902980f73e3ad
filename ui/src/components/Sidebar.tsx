import { useState } from "react";
import type { Experiment, Project } from "../api/types";
import { TrashIcon } from "./Icons";
import { SearchBox } from "./SearchBox";

interface ExperimentGroup {
  /** The project's id; null for the experiments in no project. */
  projectId: string | null;
  title: string;
  experiments: Experiment[];
}

/**
 * The experiments by project (projects by name, those in none last), or null
 * when they all fall in one group: a single heading would only add a line.
 */
export function groupByProject(experiments: Experiment[], projects: Project[]): ExperimentGroup[] | null {
  const names = new Map(projects.map((p) => [p.id, p.name]));
  const byProject = new Map<string | null, Experiment[]>();
  for (const e of experiments) {
    const key = e.project_id !== null && names.has(e.project_id) ? e.project_id : null;
    byProject.set(key, [...(byProject.get(key) ?? []), e]);
  }
  if (byProject.size < 2) return null;
  const groups = [...byProject].map(([projectId, members]) => ({
    projectId,
    title: projectId === null ? "No project" : (names.get(projectId) ?? ""),
    experiments: members,
  }));
  return groups.sort((a, b) => (a.projectId === null ? 1 : b.projectId === null ? -1 : a.title.localeCompare(b.title)));
}

function ExperimentItem({
  experiment: e,
  active,
  onPick,
  onDelete,
}: {
  experiment: Experiment;
  active: boolean;
  onPick(id: string): void;
  onDelete(experiment: Experiment): void;
}) {
  return (
    <li>
      <div className={`experiment-item${active ? " active" : ""}`} data-testid="experiment-item" data-name={e.name}>
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
  );
}

export function Sidebar({
  experiments,
  projects,
  current,
  loading,
  onPick,
  onDelete,
}: {
  experiments: Experiment[];
  projects: Project[];
  current: string | null;
  loading: boolean;
  onPick(id: string): void;
  onDelete(experiment: Experiment): void;
}) {
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const shown = q ? experiments.filter((e) => e.name.toLowerCase().includes(q)) : experiments;
  const groups = groupByProject(shown, projects);
  const item = (e: Experiment) => (
    <ExperimentItem key={e.id} experiment={e} active={e.id === current} onPick={onPick} onDelete={onDelete} />
  );
  return (
    <nav className="sidebar" aria-label="Experiments" data-testid="sidebar">
      <div className="sidebar-head">
        <span className="sidebar-title">Experiments</span>
        <span className="muted small">{experiments.length}</span>
      </div>
      <SearchBox small placeholder="Search experiments" value={query} testId="experiment-search" onChange={setQuery} />
      {groups === null ? (
        <ul className="experiment-list">{shown.map(item)}</ul>
      ) : (
        groups.map((group) => (
          <section
            key={group.projectId ?? ""}
            className="project-group"
            data-testid="project-group"
            data-project={group.title}
            aria-label={group.title}
          >
            <h2 className="project-title" data-testid="project-title">
              <span className="project-name">{group.title}</span>
              <span className="muted small">{group.experiments.length}</span>
            </h2>
            <ul className="experiment-list">{group.experiments.map(item)}</ul>
          </section>
        ))
      )}
      {!loading && shown.length === 0 && (
        <p className="muted small pad" data-testid="no-experiments">
          {q ? "No experiment matches." : "No experiments yet."}
        </p>
      )}
    </nav>
  );
}
