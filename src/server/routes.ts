/**
 * Every route of the JSON API in one table: its method and path, the role it
 * needs, and what it takes and answers. The server checks roles with it and
 * /api/openapi.json is written from it, so a route cannot be served without
 * being described (tests/server-tokens.test.ts compares it with the routes
 * the application has).
 */
import { z } from "zod";
import type { RouteAccess } from "../contract/auth.js";
import {
  MAX_CONDITIONS,
  MAX_DOWNSAMPLE,
  MAX_ID_LENGTH,
  MAX_PAGE_SIZE,
  MAX_QUERY_TEXT_LENGTH,
  MAX_TAG_FILTER_LENGTH,
} from "../contract/limits.js";
import { MLFLOW_ROUTES } from "./mlflow/routes.js";
import {
  groupSeriesBody,
  heartbeatBody,
  pointsBatchBody,
  runPatchBody,
  runUpsertBody,
  seriesBody,
  workspaceBody,
  workspaceName,
} from "./validation.js";

export type Method = "get" | "put" | "post" | "patch" | "delete";

export interface ParameterSpec {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  description?: string;
  schema: z.ZodType;
  /** Repeatable query parameter (`?tag=a&tag=b`). */
  repeated?: boolean;
}

export interface ResponseSpec {
  description: string;
  /** JSON answer; absent for 204 and for text streams. */
  schema?: z.ZodType | Record<string, unknown>;
  /** Content type of a non-JSON answer. */
  contentType?: string;
}

export interface RouteSpec {
  method: Method;
  /** OpenAPI form: /api/runs/{id}. */
  path: string;
  access: RouteAccess;
  summary: string;
  tag: string;
  parameters?: ParameterSpec[];
  body?: z.ZodType;
  /** 2xx answers; the error answers every route may give are added to each. */
  responses: Record<string, ResponseSpec>;
  /** An endless answer (live events): schema-driven fuzzers leave it out. */
  streaming?: boolean;
  /**
   * Answers points: its largest answers wait for one of the few heavy-read
   * slots (src/server/heavy-reads.ts), and a 503 too_many_heavy_reads when
   * none frees in time.
   */
  heavyRead?: boolean;
  /**
   * Routes (method and path) that take this one's path parameters: OpenAPI
   * links from its answers, so a client (or a fuzzer's stateful phase) can go
   * on from what it just created.
   */
  linksTo?: [Method, string][];
}

const idText = z.string().min(1).max(MAX_ID_LENGTH);
const pathId = (description: string): ParameterSpec => ({
  name: "id",
  in: "path",
  required: true,
  description,
  schema: idText,
});
const runId = pathId("Run id.");
const experimentId = pathId("Experiment id or name.");
const workspace: ParameterSpec = { name: "name", in: "path", required: true, schema: workspaceName };
const downsample: ParameterSpec = {
  name: "downsample",
  in: "query",
  description: `At most this many points per series (2 to ${MAX_DOWNSAMPLE}), keeping each bucket's extremes.`,
  schema: z.string().regex(/^\d{1,9}$/),
};

/** Answers whose shapes are TypeScript types of src/contract/wire.ts, named in the description. */
const object = (wireType: string): ResponseSpec => ({
  description: `${wireType} (src/contract/wire.ts; docs/rest-api.md)`,
  schema: { type: "object" },
});
const array = (wireType: string): ResponseSpec => ({
  description: `${wireType}[] (src/contract/wire.ts; docs/rest-api.md)`,
  schema: { type: "array", items: { type: "object" } },
});

const seriesCounts = z.record(z.string(), z.number().int().min(0));
export const runUpsertReply = z.object({ id: z.string(), series: seriesCounts });
export const pointsBatchReply = z.object({ series: seriesCounts, gaps: seriesCounts });
export const runSyncReply = z.object({
  series: seriesCounts,
  status: z.enum(["running", "completed", "failed", "interrupted"]),
  revision: z.number().int(),
});
export const errorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export const ROUTES: readonly RouteSpec[] = [
  {
    method: "get",
    path: "/api/openapi.json",
    access: "none",
    tag: "meta",
    summary: "This document: the whole API as OpenAPI 3.1. Needs no token.",
    responses: { "200": { description: "OpenAPI 3.1 document", schema: { type: "object" } } },
  },
  {
    method: "get",
    path: "/api/info",
    access: "read",
    tag: "meta",
    summary: "The database file the server serves.",
    responses: { "200": object("InfoJson") },
  },
  {
    method: "get",
    path: "/api/projects",
    access: "read",
    tag: "read",
    summary: "Projects with their experiment counts.",
    responses: { "200": array("ProjectJson") },
  },
  {
    method: "get",
    path: "/api/experiments",
    access: "read",
    tag: "read",
    summary: "Experiments with their run counts.",
    parameters: [{ name: "project_id", in: "query", description: "Only this project's experiments.", schema: idText }],
    responses: { "200": array("ExperimentJson") },
  },
  {
    method: "get",
    path: "/api/experiments/{id}",
    access: "read",
    tag: "read",
    summary: "One experiment.",
    parameters: [experimentId],
    responses: { "200": object("ExperimentJson") },
  },
  {
    method: "get",
    path: "/api/experiments/{id}/runs",
    access: "read",
    tag: "read",
    summary: "The experiment's runs: filtered, sorted, paged (X-Total-Count holds the count before paging).",
    parameters: [
      experimentId,
      { name: "status", in: "query", repeated: true, schema: z.string().max(MAX_QUERY_TEXT_LENGTH) },
      { name: "tag", in: "query", repeated: true, schema: z.string().max(MAX_TAG_FILTER_LENGTH) },
      { name: "group", in: "query", schema: z.string().max(MAX_QUERY_TEXT_LENGTH) },
      { name: "q", in: "query", schema: z.string().max(MAX_QUERY_TEXT_LENGTH) },
      {
        name: "where",
        in: "query",
        repeated: true,
        description: `Up to ${MAX_CONDITIONS} conditions such as config.lr<0.01.`,
        schema: z.string().max(MAX_QUERY_TEXT_LENGTH),
      },
      { name: "sort", in: "query", schema: z.string().max(MAX_QUERY_TEXT_LENGTH) },
      { name: "order", in: "query", schema: z.enum(["asc", "desc"]) },
      {
        name: "limit",
        in: "query",
        description: `1 to ${MAX_PAGE_SIZE}.`,
        schema: z.string().regex(/^\d{1,9}$/),
      },
      { name: "offset", in: "query", schema: z.string().regex(/^\d{1,9}$/) },
    ],
    responses: { "200": array("RunJson") },
  },
  {
    method: "get",
    path: "/api/experiments/{id}/keys",
    access: "read",
    tag: "read",
    summary: "Config keys (flattened) and metric keys of the experiment's runs.",
    parameters: [experimentId],
    responses: { "200": object("RunTableKeysJson") },
  },
  {
    method: "delete",
    path: "/api/experiments/{id}",
    access: "admin",
    tag: "edit",
    summary: "Deletes the experiment with its runs and points.",
    parameters: [experimentId],
    responses: { "200": object("DeletedRunsJson") },
  },
  {
    method: "get",
    path: "/api/experiments/{id}/workspaces",
    access: "read",
    tag: "read",
    summary: "Saved dashboard workspaces of the experiment.",
    parameters: [experimentId],
    responses: { "200": array("WorkspaceJson") },
  },
  {
    method: "get",
    path: "/api/experiments/{id}/workspaces/{name}",
    access: "read",
    tag: "read",
    summary: "One saved workspace.",
    parameters: [experimentId, workspace],
    responses: { "200": object("WorkspaceJson") },
  },
  {
    method: "put",
    path: "/api/experiments/{id}/workspaces/{name}",
    access: "admin",
    tag: "edit",
    summary: "Saves a workspace (replacing one of that name).",
    parameters: [experimentId, workspace],
    body: workspaceBody,
    linksTo: [
      ["get", "/api/experiments/{id}/workspaces/{name}"],
      ["delete", "/api/experiments/{id}/workspaces/{name}"],
    ],
    responses: { "200": object("WorkspaceJson") },
  },
  {
    method: "delete",
    path: "/api/experiments/{id}/workspaces/{name}",
    access: "admin",
    tag: "edit",
    summary: "Deletes a saved workspace.",
    parameters: [experimentId, workspace],
    responses: { "200": object("{deleted: name}") },
  },
  {
    method: "get",
    path: "/api/runs/{id}",
    access: "read",
    tag: "read",
    summary: "One run with its metric summaries.",
    parameters: [runId],
    responses: { "200": object("RunJson") },
  },
  {
    method: "put",
    path: "/api/runs/{id}",
    access: "write",
    tag: "write",
    summary:
      "Creates the run with this id or replaces its metadata (the sender's is the truth); answers the stored point count per series.",
    parameters: [runId],
    body: runUpsertBody,
    linksTo: [
      ["post", "/api/runs/{id}/points"],
      ["post", "/api/runs/{id}/heartbeat"],
      ["get", "/api/runs/{id}/sync"],
      ["get", "/api/runs/{id}"],
      ["patch", "/api/runs/{id}"],
      ["get", "/api/runs/{id}/metrics/all"],
      ["delete", "/api/runs/{id}"],
    ],
    responses: {
      "200": { description: "The run existed; its metadata is now the body's.", schema: runUpsertReply },
      "201": { description: "The run was created.", schema: runUpsertReply },
    },
  },
  {
    method: "patch",
    path: "/api/runs/{id}",
    access: "admin",
    tag: "edit",
    summary: "Edits a run's name, tags, notes or colour (only the fields sent).",
    parameters: [runId],
    body: runPatchBody,
    responses: { "200": object("RunJson") },
  },
  {
    method: "delete",
    path: "/api/runs/{id}",
    access: "admin",
    tag: "edit",
    summary: "Deletes a run with its points.",
    parameters: [runId],
    responses: { "200": object("DeletedRunsJson") },
  },
  {
    method: "post",
    path: "/api/runs/{id}/points",
    access: "write",
    tag: "write",
    summary:
      "Appends points: per series, the points from `start` on that the server lacks (resent ones are skipped; a start past the stored count is listed under gaps).",
    parameters: [runId],
    body: pointsBatchBody,
    linksTo: [
      ["get", "/api/runs/{id}/metrics/all"],
      ["get", "/api/runs/{id}/sync"],
    ],
    responses: { "200": { description: "Stored counts after the batch, and gaps.", schema: pointsBatchReply } },
  },
  {
    method: "post",
    path: "/api/runs/{id}/heartbeat",
    access: "write",
    tag: "write",
    summary: "Moves the run's heartbeat forward (a running run without one for 60 s is shown stale).",
    parameters: [runId],
    body: heartbeatBody,
    responses: { "204": { description: "Recorded." } },
  },
  {
    method: "get",
    path: "/api/runs/{id}/sync",
    access: "read",
    tag: "write",
    summary: "What the server holds of a run: point counts per series, status, revision.",
    parameters: [runId],
    responses: { "200": { description: "The run's stored state.", schema: runSyncReply } },
  },
  {
    method: "get",
    path: "/api/runs/{id}/metric-keys",
    access: "read",
    tag: "read",
    summary: "The run's metric keys.",
    parameters: [runId],
    responses: { "200": { description: "Keys in order.", schema: z.array(z.string()) } },
  },
  {
    method: "get",
    path: "/api/runs/{id}/metrics",
    heavyRead: true,
    access: "read",
    tag: "read",
    summary: "The points of one metric of a run.",
    parameters: [runId, { name: "key", in: "query", required: true, schema: z.string().min(1) }, downsample],
    responses: { "200": object("MetricPointsJson") },
  },
  {
    method: "get",
    path: "/api/runs/{id}/metrics/all",
    heavyRead: true,
    access: "read",
    tag: "read",
    summary: "Every metric of a run.",
    parameters: [runId, downsample],
    responses: { "200": object("AllMetricsJson") },
  },
  {
    method: "post",
    path: "/api/series",
    heavyRead: true,
    access: "read",
    tag: "read",
    summary: "Many series at once, downsampled, optionally within a step range.",
    body: seriesBody,
    responses: { "200": object("SeriesReplyJson") },
  },
  {
    method: "post",
    path: "/api/groups/series",
    heavyRead: true,
    access: "read",
    tag: "read",
    summary: "Per group of runs and metric key, mean, std, stderr, min, max and count across the runs per step bucket.",
    body: groupSeriesBody,
    responses: {
      "200": {
        description: "GroupSeriesReplyJson (src/contract/groups.ts; docs/grouping.md)",
        schema: { type: "object" },
      },
    },
  },
  {
    method: "get",
    path: "/api/events",
    access: "read",
    tag: "read",
    summary: "Live events (Server-Sent Events): run_update, points, run_deleted, experiments_changed, resync.",
    streaming: true,
    parameters: [
      { name: "experiment_id", in: "query", schema: idText },
      { name: "only", in: "query", schema: z.enum(["experiments"]) },
      { name: "cursor", in: "query", description: "Resume after this cursor (as Last-Event-ID).", schema: z.string() },
    ],
    responses: { "200": { description: "An endless event stream.", contentType: "text/event-stream" } },
  },
];

// The MLflow routes are role-checked like the rest (src/server/mlflow/routes.ts).
const matchers = [...ROUTES, ...MLFLOW_ROUTES].map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`),
}));

/** The route a request goes to (HEAD as GET), or null for a path the API does not have. */
export function findRoute(method: string, path: string): RouteSpec | null {
  const wanted = method === "HEAD" ? "get" : method.toLowerCase();
  return matchers.find((m) => m.route.method === wanted && m.pattern.test(path))?.route ?? null;
}

/** The operationId of a route in the OpenAPI document: getRunsIdSync for GET /api/runs/{id}/sync. */
export function operationId(method: Method, path: string): string {
  const words = path
    .replace(/^\/api/, "")
    .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase());
  return `${method}${words}`;
}

/** How a route is written in messages: POST /api/runs/{id}/points. */
export function routeName(route: RouteSpec): string {
  return `${route.method.toUpperCase()} ${route.path}`;
}
