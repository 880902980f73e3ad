/**
 * What MLflow's values mean in stonks terms, shared by the importer
 * (src/interop/mlflow.ts) and the MLflow-compatible routes of the server
 * (src/server/mlflow/): params, statuses and tags.
 */
import type { Provenance, RunStatus } from "../types.js";

/** MLflow's RunStatus names, and the numbers its file store writes for them. */
const STATUS: Record<string, RunStatus> = {
  RUNNING: "running",
  SCHEDULED: "running",
  FINISHED: "completed",
  FAILED: "failed",
  KILLED: "interrupted",
  "1": "running",
  "2": "running",
  "3": "completed",
  "4": "failed",
  "5": "interrupted",
};

/** A JSON number, with integers only where a double holds them exactly: anything else stays the text it is. */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * An MLflow param (always text) as a config value: a number when the whole
 * text is one ("0.001", "1e-05", "32"), else the text ("0042", "adam", "nan").
 */
export function paramValue(text: string): string | number {
  if (!NUMBER.test(text)) return text;
  const value = Number(text);
  if (!Number.isFinite(value)) return text;
  if (/^-?\d+$/.test(text) && !Number.isSafeInteger(value)) return text;
  return value;
}

export function mlflowStatus(status: string): RunStatus {
  return STATUS[status.toUpperCase()] ?? "completed";
}

/** What MLflow's system tags (`mlflow.*`) say that stonks keeps; user tags become `key=value` tags. */
export interface MlflowTagParts {
  name: string | null;
  notes: string | null;
  parentRunId: string | null;
  provenance: Partial<Provenance>;
  tags: string[];
}

export function splitMlflowTags(tags: Iterable<[string, string | null]>): MlflowTagParts {
  const parts: MlflowTagParts = { name: null, notes: null, parentRunId: null, provenance: {}, tags: [] };
  for (const [key, value] of tags) {
    if (key === "mlflow.runName") parts.name = value;
    else if (key === "mlflow.note.content") parts.notes = value;
    else if (key === "mlflow.parentRunId") parts.parentRunId = value;
    else if (key === "mlflow.source.name") parts.provenance.command = value;
    else if (key === "mlflow.source.git.commit") parts.provenance.gitCommit = value;
    else if (!key.startsWith("mlflow.")) parts.tags.push(value === null || value === "" ? key : `${key}=${value}`);
  }
  return parts;
}
