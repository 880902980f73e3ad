/**
 * The MLflow tracking routes `stonks serve` answers (docs/rest-api.md, "MLflow
 * clients"): the ones a training script's `mlflow` client calls. The server's
 * role checks read this table as they read ROUTES; it stays out of
 * /api/openapi.json because these routes speak MLflow's JSON, described by
 * MLflow's own REST API reference.
 */
import type { Method, RouteSpec } from "../routes.js";

export const MLFLOW_PREFIX = "/api/2.0/mlflow";

function route(method: Method, name: string, access: "read" | "write", summary: string): RouteSpec {
  return {
    method,
    path: `${MLFLOW_PREFIX}/${name}`,
    access,
    tag: "mlflow",
    summary,
    responses: { "200": { description: "MLflow's answer (MLflow REST API reference)", schema: { type: "object" } } },
  };
}

export const MLFLOW_ROUTES: readonly RouteSpec[] = [
  route("get", "experiments/get-by-name", "read", "The experiment of this name (experiment_name)."),
  route("get", "experiments/get", "read", "The experiment of this id (experiment_id); 0 is Default."),
  route("post", "experiments/search", "read", "Experiments, filtered by name."),
  route("post", "experiments/create", "write", "Creates an experiment without runs."),
  route("post", "runs/create", "write", "Creates a running run."),
  route("post", "runs/update", "write", "Sets a run's status, end time or name."),
  route("get", "runs/get", "read", "One run with its params, tags and latest metrics."),
  route("post", "runs/search", "read", "Runs of experiments, filtered and ordered."),
  route("post", "runs/log-metric", "write", "Appends one point."),
  route("post", "runs/log-batch", "write", "Appends points and sets params and tags."),
  route("post", "runs/log-parameter", "write", "Sets one param (a config value)."),
  route("post", "runs/set-tag", "write", "Sets one tag."),
  route("post", "runs/delete-tag", "write", "Removes one tag."),
  route("get", "metrics/get-history", "read", "Every point of one metric of a run."),
  route("post", "runs/log-inputs", "write", "Accepted; datasets are not kept."),
  route("post", "runs/log-model", "write", "Accepted; models are not kept."),
  route("post", "runs/outputs", "write", "Accepted; outputs are not kept."),
];
