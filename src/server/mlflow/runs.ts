/**
 * Stonks runs and experiments in MLflow's terms and back: ids, the JSON of
 * MLflow's Run and Experiment messages, and how MLflow's params and tags
 * change a stonks run's metadata (docs/rest-api.md, "MLflow clients").
 */
import { isDeepStrictEqual } from "node:util";
import { paramValue } from "../../interop/mlflow-values.js";
import type { RunView } from "../../query/run-filter.js";
import type { RemoteRunMeta } from "../../query/service.js";
import type { Experiment, MetricSummary, RunStatus } from "../../types.js";
import { ApiError } from "../errors.js";
import type { Entity, Lookup } from "./search.js";

/** MLflow's experiment 0, which every MLflow store has: a stonks experiment of this name, made at its first run. */
export const DEFAULT_EXPERIMENT_ID = "0";
export const DEFAULT_EXPERIMENT_NAME = "Default";

const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;
const HEX32 = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/i;

/** A stonks run id (a UUID) as MLflow writes run ids: the 32 hex digits; other ids as they are. */
export function mlflowRunId(stonksId: string): string {
  return UUID.test(stonksId) ? stonksId.replace(/-/g, "").toLowerCase() : stonksId;
}

/** The stonks run an MLflow run id names: 32 hex digits are the UUID they spell. */
export function stonksRunId(mlflowId: string): string {
  const m = HEX32.exec(mlflowId);
  return m === null ? mlflowId : `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
}

const TO_MLFLOW_STATUS: Record<RunStatus, string> = {
  running: "RUNNING",
  completed: "FINISHED",
  failed: "FAILED",
  interrupted: "KILLED",
};

export function mlflowError(status: 400 | 404, code: string, message: string): ApiError {
  return new ApiError(status, code, message);
}

export function experimentJson(experiment: Experiment | null) {
  const created = Math.round((experiment?.createdAt ?? 0) * 1000);
  return {
    experiment_id: experiment?.id ?? DEFAULT_EXPERIMENT_ID,
    name: experiment?.name ?? DEFAULT_EXPERIMENT_NAME,
    artifact_location: "",
    lifecycle_stage: "active",
    creation_time: created,
    last_update_time: created,
    tags: [],
  };
}

/** A stonks tag `key=value` (or `key`) as an MLflow tag. */
function userTag(tag: string): { key: string; value: string } {
  const at = tag.indexOf("=");
  return at < 0 ? { key: tag, value: "" } : { key: tag.slice(0, at), value: tag.slice(at + 1) };
}

/** The run's MLflow tags: its stonks tags, and the system tags its name, notes and provenance stand for. */
export function mlflowTags(run: RunView): Map<string, string> {
  const tags = new Map<string, string>();
  for (const tag of run.tags) {
    const { key, value } = userTag(tag);
    tags.set(key, value);
  }
  if (run.name !== null) tags.set("mlflow.runName", run.name);
  if (run.notes !== null) tags.set("mlflow.note.content", run.notes);
  if (run.provenance.command !== null) tags.set("mlflow.source.name", run.provenance.command);
  if (run.provenance.gitCommit !== null) tags.set("mlflow.source.git.commit", run.provenance.gitCommit);
  return tags;
}

/** A config value as MLflow's params carry it: text. */
export function paramText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function runInfoJson(run: RunView) {
  const id = mlflowRunId(run.id);
  return {
    run_id: id,
    run_uuid: id,
    run_name: run.name ?? "",
    experiment_id: run.experimentId,
    user_id: "",
    status: TO_MLFLOW_STATUS[run.status],
    start_time: Math.round(run.createdAt * 1000),
    ...(run.endedAt === null ? {} : { end_time: Math.round(run.endedAt * 1000) }),
    artifact_uri: "",
    lifecycle_stage: "active",
  };
}

export function runJson(run: RunView, summaries: readonly MetricSummary[]) {
  return {
    info: runInfoJson(run),
    data: {
      metrics: summaries
        .filter((s) => s.last !== null)
        .map((s) => ({
          key: s.key,
          value: s.last,
          timestamp: Math.round((s.lastTime ?? run.createdAt) * 1000),
          step: s.lastStep ?? 0,
        })),
      params: Object.entries(run.config).map(([key, value]) => ({ key, value: paramText(value) })),
      tags: [...mlflowTags(run)].map(([key, value]) => ({ key, value })),
    },
    inputs: {},
  };
}

const RUN_ATTRIBUTES = new Set(["run_id", "run_name", "status", "start_time", "end_time"]);

/** Refuses a search by an attribute runs/search does not know, before any run is read. */
export function checkRunAttributes(keys: readonly { entity: Entity; key: string }[]): void {
  for (const { entity, key } of keys) {
    if (entity === "attributes" && !RUN_ATTRIBUTES.has(key)) {
      throw mlflowError(
        400,
        "INVALID_PARAMETER_VALUE",
        `This server searches and orders runs by the attributes run_id, run_name, status, start_time and end_time, not ${key.slice(0, 200)}.`,
      );
    }
  }
}

/** How runs/search sees a run: the latest metric values, params as text, MLflow tags, attributes. */
export function runLookup(run: RunView): Lookup {
  let tags: Map<string, string> | null = null;
  return (entity: Entity, key: string) => {
    if (entity === "metrics") return run.summary[key]?.last ?? null;
    if (entity === "params") {
      const value = run.config[key];
      return value === undefined ? null : typeof value === "number" ? value : paramText(value);
    }
    if (entity === "tags") {
      tags ??= mlflowTags(run);
      return tags.get(key) ?? null;
    }
    switch (key) {
      case "run_id":
        return mlflowRunId(run.id);
      case "run_name":
        return run.name;
      case "status":
        return TO_MLFLOW_STATUS[run.status];
      case "start_time":
        return Math.round(run.createdAt * 1000);
      case "end_time":
        return run.endedAt === null ? null : Math.round(run.endedAt * 1000);
      default:
        return null;
    }
  };
}

/** A stored run's metadata as the write API takes it, to change a field and write it back. */
export function runMeta(run: RunView, experiment: string): RemoteRunMeta {
  return {
    experiment,
    project: null,
    name: run.name,
    config: { ...run.config },
    tags: [...run.tags],
    group: run.group,
    jobType: run.jobType,
    notes: run.notes,
    color: run.color,
    createdAt: run.createdAt,
    provenance: { ...run.provenance },
    status: run.status,
    endedAt: run.endedAt,
    lastHeartbeat: run.lastHeartbeat,
  };
}

/**
 * Sets one MLflow param. MLflow's params cannot change once logged: the same
 * value again is accepted, another is refused as MLflow refuses it.
 */
export function setParam(meta: RemoteRunMeta, key: string, text: string, runId: string): void {
  const value = paramValue(text);
  const stored = meta.config[key];
  if (stored !== undefined && !isDeepStrictEqual(stored, value)) {
    throw mlflowError(
      400,
      "INVALID_PARAMETER_VALUE",
      `Changing param values is not allowed. Param with key='${key}' was already logged with value='${paramText(stored)}' for run ID='${runId}'. Attempted logging new value '${text}'.`,
    );
  }
  meta.config[key] = value;
}

/** Sets one MLflow tag: system tags fill the field they stand for, others become `key=value` tags. */
export function setTag(meta: RemoteRunMeta, key: string, value: string, parentName: (id: string) => string): void {
  if (key === "mlflow.runName") meta.name = value;
  else if (key === "mlflow.note.content") meta.notes = value;
  else if (key === "mlflow.source.name") meta.provenance.command = value;
  else if (key === "mlflow.source.git.commit") meta.provenance.gitCommit = value;
  else if (key === "mlflow.parentRunId") meta.group = parentName(value);
  else if (!key.startsWith("mlflow.")) {
    meta.tags = meta.tags.filter((tag) => userTag(tag).key !== key);
    meta.tags.push(value === "" ? key : `${key}=${value}`);
  }
}

/** Removes one MLflow tag; false when the run has no such tag. */
export function deleteTag(meta: RemoteRunMeta, key: string): boolean {
  if (key === "mlflow.note.content") {
    const had = meta.notes !== null;
    meta.notes = null;
    return had;
  }
  const before = meta.tags.length;
  meta.tags = meta.tags.filter((tag) => userTag(tag).key !== key);
  return meta.tags.length < before;
}
