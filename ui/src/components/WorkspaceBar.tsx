import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import type { SavedWorkspace } from "../api/types";
import { showError } from "../state/notices";
import { parseWorkspace, updateView, type ViewState, workspaceOf } from "../state/view";

/**
 * Saved workspaces of the experiment (in the database, shared by everyone who
 * opens it): pick one to apply its arrangement, save the current one under a
 * name, or delete the one shown.
 */
export function WorkspaceBar({ experimentId, view }: { experimentId: string; view: ViewState }) {
  const [saved, setSaved] = useState<SavedWorkspace[]>([]);
  const load = useCallback(async () => {
    try {
      setSaved(await api.workspaces(experimentId));
    } catch (error) {
      showError(error);
    }
  }, [experimentId]);
  useEffect(() => {
    void load();
  }, [load]);

  const apply = (name: string) => {
    const workspace = saved.find((w) => w.name === name);
    if (!workspace) return;
    updateView({ ...parseWorkspace(workspace.state), ws: name, zoom: null }, true);
  };
  const save = async () => {
    const name = window.prompt("Save this workspace as:", view.ws ?? "")?.trim();
    if (!name) return;
    try {
      await api.saveWorkspace(experimentId, name, workspaceOf(view));
      updateView({ ws: name });
      await load();
    } catch (error) {
      showError(error);
    }
  };
  const remove = async () => {
    if (!view.ws || !window.confirm(`Delete the saved workspace "${view.ws}" for everyone?`)) return;
    try {
      await api.deleteWorkspace(experimentId, view.ws);
      updateView({ ws: null });
      await load();
    } catch (error) {
      showError(error);
    }
  };
  const current = saved.some((w) => w.name === view.ws) ? (view.ws as string) : "";
  return (
    <span className="workspace-bar" data-testid="workspace-bar">
      <select
        value={current}
        data-testid="workspace-select"
        aria-label="Saved workspaces"
        onChange={(e) => apply(e.target.value)}
      >
        <option value="" disabled>
          {saved.length === 0 ? "No saved workspaces" : "Saved workspaces…"}
        </option>
        {saved.map((w) => (
          <option key={w.name} value={w.name}>
            {w.name}
          </option>
        ))}
      </select>
      <button type="button" className="btn btn-sm" data-testid="workspace-save" onClick={() => void save()}>
        Save…
      </button>
      {current && (
        <button
          type="button"
          className="btn btn-ghost btn-sm"
          data-testid="workspace-delete"
          title={`Delete "${current}"`}
          onClick={() => void remove()}
        >
          Delete
        </button>
      )}
    </span>
  );
}
