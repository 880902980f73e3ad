/**
 * What `stonks migrate` needs to copy beyond runs and points (those go through
 * the write API's upsert and append, remote.ts): projects, experiments and
 * tokens under their own ids, names and times, and workspaces with their
 * save time. Each write keeps what the destination has already, so copying
 * twice changes nothing.
 */
import { randomUUID } from "node:crypto";
import { type Db, runImmediate, stmt } from "./connection.js";
import { ensureProject } from "./projects.js";
import type { TokenRole, TokenRow } from "./tokens.js";

export interface ProjectCopy {
  id: string;
  name: string;
  createdAt: number;
}

/** Adds the project unless one of that name (or id) exists; whether it was added. */
export function restoreProject(db: Db, project: ProjectCopy): boolean {
  return runImmediate(
    db,
    () =>
      stmt(db, "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").run(
        project.id,
        project.name,
        project.createdAt,
      ).changes > 0,
  );
}

export interface ExperimentCopy {
  id: string;
  name: string;
  description: string | null;
  createdAt: number;
  project: string | null;
}

/**
 * The id of the experiment of that name, created with the given id (a new
 * one if that id is taken), description, creation time and project when
 * there is none.
 */
export function restoreExperiment(db: Db, experiment: ExperimentCopy): { id: string; created: boolean } {
  return runImmediate(db, () => {
    const found = stmt(db, "SELECT id FROM experiments WHERE name = ?").get(experiment.name) as
      | { id: string }
      | undefined;
    if (found !== undefined) return { id: found.id, created: false };
    const idTaken = stmt(db, "SELECT 1 AS found FROM experiments WHERE id = ?").get(experiment.id) !== undefined;
    const id = idTaken ? randomUUID() : experiment.id;
    const projectId = experiment.project === null ? null : ensureProject(db, experiment.project, experiment.createdAt);
    stmt(db, "INSERT INTO experiments (id, name, description, created_at, project_id) VALUES (?, ?, ?, ?, ?)").run(
      id,
      experiment.name,
      experiment.description,
      experiment.createdAt,
      projectId,
    );
    return { id, created: true };
  });
}

export interface WorkspaceCopy {
  name: string;
  state: string;
  updatedAt: number;
}

/** Saves the workspace unless the destination's is as new or newer; whether it was written. */
export function restoreWorkspace(db: Db, experimentId: string, workspace: WorkspaceCopy): boolean {
  return runImmediate(
    db,
    () =>
      stmt(
        db,
        `INSERT INTO workspaces (experiment_id, name, state, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (experiment_id, name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
         WHERE excluded.updated_at > workspaces.updated_at`,
      ).run(experimentId, workspace.name, workspace.state, workspace.updatedAt).changes > 0,
  );
}

export interface TokenCopy {
  name: string;
  role: TokenRole;
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export type TokenRestore = "copied" | "revoked" | "present" | "name_taken";

/** Every token with its hash (the secret itself was never stored). */
export function tokensWithHashes(db: Db): TokenCopy[] {
  const rows = stmt(
    db,
    "SELECT id, name, role, hash, created_at, last_used_at, revoked_at FROM tokens ORDER BY id",
  ).all() as TokenRow[];
  return rows.map((row) => ({
    name: row.name,
    role: row.role,
    hash: row.hash,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  }));
}

/**
 * Adds the token (same secret: same hash) unless the destination has it; a
 * token revoked at the source since an earlier copy is revoked here too.
 * A destination token of the same name with another secret is kept.
 */
export function restoreToken(db: Db, token: TokenCopy): TokenRestore {
  return runImmediate(db, () => {
    const existing = stmt(db, "SELECT id, revoked_at FROM tokens WHERE hash = ?").get(token.hash) as
      | { id: number; revoked_at: number | null }
      | undefined;
    if (existing !== undefined) {
      if (existing.revoked_at !== null || token.revokedAt === null) return "present";
      stmt(db, "UPDATE tokens SET revoked_at = ? WHERE id = ?").run(token.revokedAt, existing.id);
      return "revoked";
    }
    if (stmt(db, "SELECT 1 AS found FROM tokens WHERE name = ?").get(token.name) !== undefined) return "name_taken";
    stmt(
      db,
      "INSERT INTO tokens (name, role, hash, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(token.name, token.role, token.hash, token.createdAt, token.lastUsedAt, token.revokedAt);
    return "copied";
  });
}
