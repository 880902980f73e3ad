/**
 * tests/vectors/query/where-cases.json, the where-language cases the TypeScript
 * and Python readers must agree on, and its runs as the run table holds them.
 */
import { readFileSync } from "node:fs";
import type { TableRun } from "../../src/contract/run-table.js";
import type { Config } from "../../src/types.js";

/** A run of the vectors file, in the REST API's snake_case as the Python reader reads it too. */
export interface VectorRun {
  id: string;
  name: string | null;
  status: TableRun["status"];
  stale: boolean;
  created_at: number;
  ended_at: number | null;
  duration: number | null;
  tags: string[];
  group: string | null;
  job_type: string | null;
  config: Config;
  summary: TableRun["summary"];
}

export const whereVectors = JSON.parse(
  readFileSync(new URL("../vectors/query/where-cases.json", import.meta.url), "utf8"),
) as {
  now: number;
  runs: VectorRun[];
  cases: { where: string; expected: string[] }[];
  errors: { where: string; column: number; message: string }[];
};

/** The run as the run table holds it; `config` stands in for the file's config when given. */
export function tableRun(r: VectorRun, config: Config = r.config): TableRun {
  return {
    id: r.id,
    name: r.name,
    notes: null,
    tags: r.tags,
    group: r.group,
    jobType: r.job_type,
    status: r.status,
    stale: r.stale,
    createdAt: r.created_at,
    endedAt: r.ended_at,
    duration: r.duration,
    config,
    summary: r.summary,
  };
}
