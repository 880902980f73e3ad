/** Saved dashboard workspaces: a named chart arrangement per experiment (JSON text, opaque to the store). */
import { type Db, runImmediate, stmt } from "./connection.js";

export interface WorkspaceRow {
  name: string;
  state: string;
  updated_at: number;
}

export function listWorkspaces(db: Db, experimentId: string): WorkspaceRow[] {
  return stmt(
    db,
    "SELECT name, state, updated_at FROM workspaces WHERE experiment_id = ? ORDER BY lower(name), name",
  ).all(experimentId) as WorkspaceRow[];
}

export function getWorkspace(db: Db, experimentId: string, name: string): WorkspaceRow | null {
  const row = stmt(db, "SELECT name, state, updated_at FROM workspaces WHERE experiment_id = ? AND name = ?").get(
    experimentId,
    name,
  ) as WorkspaceRow | undefined;
  return row ?? null;
}

/** Creates or replaces; false when the experiment is gone (deleted meanwhile). */
export function saveWorkspace(db: Db, experimentId: string, name: string, state: string, now: number): boolean {
  return runImmediate(db, () => {
    if (stmt(db, "SELECT 1 FROM experiments WHERE id = ?").get(experimentId) === undefined) return false;
    stmt(
      db,
      `INSERT INTO workspaces (experiment_id, name, state, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (experiment_id, name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    ).run(experimentId, name, state, now);
    return true;
  });
}

export function deleteWorkspace(db: Db, experimentId: string, name: string): boolean {
  return runImmediate(
    db,
    () => stmt(db, "DELETE FROM workspaces WHERE experiment_id = ? AND name = ?").run(experimentId, name).changes > 0,
  );
}
