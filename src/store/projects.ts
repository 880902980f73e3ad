/** Projects, which group experiments (schema version 4; the original stonks' `project=`). */
import { randomUUID } from "node:crypto";
import type { Project } from "../types.js";
import { type Db, stmt } from "./connection.js";

interface ProjectRow {
  id: string;
  name: string;
  created_at: number;
  experiment_count: number;
}

/** The id of the project with this name, created when there is none. Call inside a write transaction. */
export function ensureProject(db: Db, name: string, now: number = Date.now() / 1000): string {
  const found = stmt(db, "SELECT id FROM projects WHERE name = ?").get(name) as { id: string } | undefined;
  if (found) return found.id;
  const id = randomUUID();
  stmt(db, "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)").run(id, name, now);
  return id;
}

/** Every project by name, with how many experiments it groups. */
export function listProjects(db: Db): Project[] {
  const rows = stmt(
    db,
    `SELECT p.id, p.name, p.created_at,
        (SELECT count(*) FROM experiments e WHERE e.project_id = p.id) AS experiment_count
       FROM projects p ORDER BY p.name`,
  ).all() as ProjectRow[];
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    experimentCount: row.experiment_count,
  }));
}
