/**
 * The MLflow tracking routes (src/server/mlflow/routes.ts), so a training
 * script that uses the `mlflow` package logs into stonks with
 * MLFLOW_TRACKING_URI=http://127.0.0.1:8000. They speak MLflow's JSON, errors
 * included ({error_code, message}), and go through the server's host, origin
 * and token checks like every /api route. docs/rest-api.md says what is kept.
 */
import { randomUUID } from "node:crypto";
import type { HttpBindings } from "@hono/node-server";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { z } from "zod";
import { mlflowStatus, splitMlflowTags } from "../../interop/mlflow-values.js";
import type { RunView } from "../../query/run-filter.js";
import type { RemoteRunMeta, RunSyncState, StonksService } from "../../query/service.js";
import type { Experiment } from "../../types.js";
import { ApiError, describeIssues } from "../errors.js";
import type { EventHub } from "../events.js";
import { MLFLOW_PREFIX } from "./routes.js";
import {
  checkRunAttributes,
  DEFAULT_EXPERIMENT_ID,
  DEFAULT_EXPERIMENT_NAME,
  deleteTag,
  experimentJson,
  mlflowError,
  mlflowRunId,
  runInfoJson,
  runJson,
  runLookup,
  runMeta,
  setParam,
  setTag,
  stonksRunId,
} from "./runs.js";
import { compareBy, matches, nextPageToken, pageStart, parseFilter, parseOrderBy } from "./search.js";

/** MLflow's error codes for the server's own ones (token, origin, body checks). */
const ERROR_CODES: Record<string, string> = {
  bad_request: "INVALID_PARAMETER_VALUE",
  unauthorized: "UNAUTHENTICATED",
  forbidden: "PERMISSION_DENIED",
  forbidden_host: "PERMISSION_DENIED",
  forbidden_origin: "PERMISSION_DENIED",
  not_found: "ENDPOINT_NOT_FOUND",
  payload_too_large: "INVALID_PARAMETER_VALUE",
  unsupported_media_type: "BAD_REQUEST",
  internal: "INTERNAL_ERROR",
};

/**
 * Rewrites every error answer under /api/2.0/ into MLflow's shape, whichever
 * check gave it, so the client raises its MlflowException with our message.
 */
export function mlflowErrorShape(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status < 400) return;
    let body: unknown;
    try {
      body = await c.res.clone().json();
    } catch {
      return;
    }
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (typeof error?.code !== "string") return;
    const code = /^[A-Z_]+$/.test(error.code) ? error.code : (ERROR_CODES[error.code] ?? "INTERNAL_ERROR");
    const headers = new Headers(c.res.headers);
    headers.delete("content-length");
    headers.set("content-type", "application/json");
    c.res = new Response(JSON.stringify({ error_code: code, message: String(error.message) }), {
      status: c.res.status,
      headers,
    });
  };
}

/** int64 fields come as JSON numbers or as decimal text (protobuf's JSON mapping allows both). */
const int64 = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d{1,19}$/)
    .transform(Number),
]);
const double = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"]).transform(Number)]);
const text = z.string().max(8000);
const key = z.string().min(1).max(1000);
const keyValue = z.object({ key, value: text.optional().default("") });
const metric = z.object({ key, value: double, timestamp: int64.optional(), step: int64.optional().default(0) });

const bodies = {
  createExperiment: z.object({ name: z.string().min(1).max(500) }),
  searchExperiments: z.object({
    filter: z.string().max(4000).optional(),
    max_results: int64.optional(),
    order_by: z.array(z.string()).optional(),
    page_token: z.string().optional(),
  }),
  createRun: z.object({
    experiment_id: z.string().min(1).max(512).optional(),
    start_time: int64.optional(),
    tags: z.array(keyValue).max(1000).optional().default([]),
    run_name: z.string().max(500).optional(),
  }),
  updateRun: z.object({
    run_id: z.string().optional(),
    run_uuid: z.string().optional(),
    status: z.enum(["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]).optional(),
    end_time: int64.optional(),
    run_name: z.string().max(500).optional(),
  }),
  searchRuns: z.object({
    experiment_ids: z.array(z.string()).max(1000).optional().default([]),
    filter: z.string().max(4000).optional(),
    max_results: int64.optional(),
    order_by: z.array(z.string()).max(20).optional(),
    page_token: z.string().optional(),
  }),
  logMetric: metric.extend({ run_id: z.string().optional(), run_uuid: z.string().optional() }),
  logBatch: z.object({
    run_id: z.string(),
    metrics: z.array(metric).max(1000).optional().default([]),
    params: z.array(keyValue).max(100).optional().default([]),
    tags: z.array(keyValue).max(100).optional().default([]),
  }),
  logParam: keyValue.extend({ run_id: z.string().optional(), run_uuid: z.string().optional() }),
  setTag: keyValue.extend({ run_id: z.string().optional(), run_uuid: z.string().optional() }),
  deleteTag: z.object({ run_id: z.string(), key }),
  runOnly: z.object({ run_id: z.string() }),
};

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw mlflowError(400, "INVALID_PARAMETER_VALUE", describeIssues(result.error));
  return result.data;
}

async function jsonBody(c: Context): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
    throw new ApiError(415, "BAD_REQUEST", "Send the body as JSON with Content-Type: application/json.");
  }
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw mlflowError(400, "MALFORMED_REQUEST", "The request body is not valid JSON.");
  }
}

function query(c: Context, name: string): string {
  const value = c.req.query(name);
  if (value === undefined || value === "") {
    throw mlflowError(400, "INVALID_PARAMETER_VALUE", `Missing value for required parameter '${name}'.`);
  }
  return value;
}

function pageSize(value: number | undefined, most: number): number {
  if (value === undefined) return most;
  if (value < 1 || value > most) {
    throw mlflowError(400, "INVALID_PARAMETER_VALUE", `max_results must be between 1 and ${most}; got ${value}.`);
  }
  return value;
}

export interface MlflowDeps {
  db: StonksService;
  events: EventHub;
}

export function mountMlflowRoutes(app: Hono<{ Bindings: Partial<HttpBindings> }>, { db, events }: MlflowDeps): void {
  const route = (name: string) => `${MLFLOW_PREFIX}/${name}`;

  /** The experiment an MLflow experiment id names; null for experiment 0 before its first run. */
  const experimentById = (id: string): Experiment | null => {
    if (id === DEFAULT_EXPERIMENT_ID) return db.getExperiment(DEFAULT_EXPERIMENT_NAME);
    const experiment = db.getExperiment(id);
    if (experiment === null || experiment.id !== id) {
      throw mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `No experiment with id ${id.slice(0, 200)}.`);
    }
    return experiment;
  };
  const experimentName = (id: string) => db.listExperiments().find((e) => e.id === id)?.name ?? DEFAULT_EXPERIMENT_NAME;

  const findRun = (mlflowId: string | undefined): RunView => {
    if (mlflowId === undefined || mlflowId === "") {
      throw mlflowError(400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'.");
    }
    const run = db.runView(stonksRunId(mlflowId));
    if (run === null) throw mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `Run '${mlflowId.slice(0, 200)}' not found.`);
    return run;
  };
  const parentName = (mlflowId: string) => db.runView(stonksRunId(mlflowId))?.name ?? mlflowId;

  /** Changes a run's metadata and writes it back; the run shows alive as of now. */
  const changeRun = (run: RunView, change: (meta: RemoteRunMeta) => void): void => {
    const meta = runMeta(run, experimentName(run.experimentId));
    change(meta);
    if (meta.status === "running") meta.lastHeartbeat = Date.now() / 1000;
    db.upsertRemoteRun(run.id, meta);
    events.poke();
  };

  /** What a run's points need (its stored counts and status), without reading its summaries; 404 when absent. */
  const runState = (mlflowId: string | undefined): { id: string; state: RunSyncState } => {
    if (mlflowId === undefined || mlflowId === "") {
      throw mlflowError(400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'.");
    }
    const id = stonksRunId(mlflowId);
    const state = db.runSyncState(id);
    if (state === null) throw mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `Run '${mlflowId.slice(0, 200)}' not found.`);
    return { id, state };
  };

  /** Appends MLflow metrics in the order sent: each key's points go after those stored, whatever their step. */
  const appendMetrics = (mlflowId: string | undefined, metrics: z.output<typeof bodies.logBatch>["metrics"]): void => {
    const { id, state } = runState(mlflowId);
    const now = Date.now();
    const byKey = new Map<string, { steps: number[]; values: number[]; times: number[] }>();
    for (const m of metrics) {
      // A stonks series holds finite values only; MLflow's NaN and infinities are not stored.
      if (!Number.isFinite(m.value)) continue;
      let series = byKey.get(m.key);
      if (series === undefined) {
        series = { steps: [], values: [], times: [] };
        byKey.set(m.key, series);
      }
      series.steps.push(m.step);
      series.values.push(m.value);
      series.times.push((m.timestamp ?? now) / 1000);
    }
    if (byKey.size > 0) {
      db.appendRemotePoints(
        id,
        [...byKey].map(([key, s]) => ({
          key,
          start: state.series[key] ?? 0,
          steps: Float64Array.from(s.steps),
          values: Float64Array.from(s.values),
          times: Float64Array.from(s.times),
        })),
      );
    }
    if (state.status === "running") db.remoteHeartbeat(id, now / 1000);
    events.poke();
  };

  app.get(route("experiments/get-by-name"), (c) => {
    const name = query(c, "experiment_name");
    const experiment = db.listExperiments().find((e) => e.name === name) ?? null;
    if (experiment === null && name !== DEFAULT_EXPERIMENT_NAME) {
      throw mlflowError(404, "RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name.slice(0, 200)}'`);
    }
    return c.json({ experiment: experimentJson(experiment) });
  });

  app.get(route("experiments/get"), (c) =>
    c.json({ experiment: experimentJson(experimentById(query(c, "experiment_id"))) }),
  );

  app.post(route("experiments/create"), async (c) => {
    const { name } = parse(bodies.createExperiment, await jsonBody(c));
    if (db.listExperiments().some((e) => e.name === name)) {
      throw mlflowError(400, "RESOURCE_ALREADY_EXISTS", `Experiment '${name}' already exists.`);
    }
    const id = db.ensureExperiment(name);
    events.poke();
    return c.json({ experiment_id: id });
  });

  app.post(route("experiments/search"), async (c) => {
    const body = parse(bodies.searchExperiments, await jsonBody(c));
    const clauses = parseFilter(body.filter);
    for (const clause of clauses) {
      if (clause.entity !== "attributes" || clause.key !== "name") {
        throw mlflowError(400, "INVALID_PARAMETER_VALUE", "This server searches experiments by name only.");
      }
    }
    const found = db
      .listExperiments()
      .filter((e) => matches(clauses, () => e.name))
      .sort((a, b) => b.createdAt - a.createdAt);
    const start = pageStart(body.page_token);
    const size = pageSize(body.max_results, 50_000);
    const page = found.slice(start, start + size);
    return c.json({
      experiments: page.map(experimentJson),
      next_page_token: nextPageToken(start, page.length, found.length),
    });
  });

  app.post(route("runs/create"), async (c) => {
    const body = parse(bodies.createRun, await jsonBody(c));
    const experimentId = body.experiment_id ?? DEFAULT_EXPERIMENT_ID;
    const experiment = experimentById(experimentId);
    const tags = splitMlflowTags(body.tags.map((t): [string, string] => [t.key, t.value]));
    const id = randomUUID();
    const createdAt = (body.start_time ?? Date.now()) / 1000;
    db.upsertRemoteRun(id, {
      experiment: experiment?.name ?? DEFAULT_EXPERIMENT_NAME,
      project: null,
      name: body.run_name || tags.name,
      config: {},
      tags: tags.tags,
      group: tags.parentRunId === null ? null : parentName(tags.parentRunId),
      jobType: null,
      notes: tags.notes,
      color: null,
      createdAt,
      provenance: {
        host: null,
        pid: null,
        command: tags.provenance.command ?? null,
        cwd: null,
        gitCommit: tags.provenance.gitCommit ?? null,
        gitDirty: null,
        sdkLanguage: "mlflow",
        sdkVersion: null,
      },
      status: "running",
      endedAt: null,
      lastHeartbeat: createdAt,
    });
    events.poke();
    const run = findRun(mlflowRunId(id));
    return c.json({ run: runJson(run, db.getSummaries(run.id)) });
  });

  app.post(route("runs/update"), async (c) => {
    const body = parse(bodies.updateRun, await jsonBody(c));
    const run = findRun(body.run_id ?? body.run_uuid);
    changeRun(run, (meta) => {
      if (body.run_name !== undefined && body.run_name !== "") meta.name = body.run_name;
      if (body.status !== undefined) {
        meta.status = mlflowStatus(body.status);
        meta.endedAt = meta.status === "running" ? null : (body.end_time ?? Date.now()) / 1000;
        if (meta.endedAt !== null) meta.lastHeartbeat = Math.max(meta.lastHeartbeat ?? 0, meta.endedAt);
      }
    });
    return c.json({ run_info: runInfoJson(findRun(body.run_id ?? body.run_uuid)) });
  });

  app.get(route("runs/get"), (c) => {
    const run = findRun(c.req.query("run_id") || c.req.query("run_uuid"));
    return c.json({ run: runJson(run, db.getSummaries(run.id)) });
  });

  app.post(route("runs/search"), async (c) => {
    const body = parse(bodies.searchRuns, await jsonBody(c));
    const clauses = parseFilter(body.filter);
    const order = [
      ...parseOrderBy(body.order_by),
      { entity: "attributes" as const, key: "start_time", descending: true },
      { entity: "attributes" as const, key: "run_id", descending: false },
    ];
    checkRunAttributes([...clauses, ...order]);
    const runs: { run: RunView; lookup: ReturnType<typeof runLookup> }[] = [];
    for (const experimentId of body.experiment_ids) {
      const experiment = experimentById(experimentId);
      if (experiment === null) continue;
      for (const info of db.listRuns(experiment.id)) {
        const run = db.runView(info.id);
        if (run === null) continue;
        const lookup = runLookup(run);
        if (matches(clauses, lookup)) runs.push({ run, lookup });
      }
    }
    runs.sort((a, b) => compareBy(order, a.lookup, b.lookup));
    const start = pageStart(body.page_token);
    const size = pageSize(body.max_results, 50_000);
    const page = runs.slice(start, start + size);
    return c.json({
      runs: page.map(({ run }) => runJson(run, db.getSummaries(run.id))),
      next_page_token: nextPageToken(start, page.length, runs.length),
    });
  });

  app.post(route("runs/log-metric"), async (c) => {
    const body = parse(bodies.logMetric, await jsonBody(c));
    appendMetrics(body.run_id ?? body.run_uuid, [body]);
    return c.json({});
  });

  app.post(route("runs/log-batch"), async (c) => {
    const body = parse(bodies.logBatch, await jsonBody(c));
    if (body.params.length > 0 || body.tags.length > 0) {
      changeRun(findRun(body.run_id), (meta) => {
        for (const p of body.params) setParam(meta, p.key, p.value, body.run_id);
        for (const t of body.tags) setTag(meta, t.key, t.value, parentName);
      });
    }
    appendMetrics(body.run_id, body.metrics);
    return c.json({});
  });

  app.post(route("runs/log-parameter"), async (c) => {
    const body = parse(bodies.logParam, await jsonBody(c));
    const runId = body.run_id ?? body.run_uuid;
    changeRun(findRun(runId), (meta) => setParam(meta, body.key, body.value, runId ?? ""));
    return c.json({});
  });

  app.post(route("runs/set-tag"), async (c) => {
    const body = parse(bodies.setTag, await jsonBody(c));
    changeRun(findRun(body.run_id ?? body.run_uuid), (meta) => setTag(meta, body.key, body.value, parentName));
    return c.json({});
  });

  app.post(route("runs/delete-tag"), async (c) => {
    const body = parse(bodies.deleteTag, await jsonBody(c));
    changeRun(findRun(body.run_id), (meta) => {
      if (!deleteTag(meta, body.key)) {
        throw mlflowError(
          404,
          "RESOURCE_DOES_NOT_EXIST",
          `No tag with name: ${body.key.slice(0, 200)} in run with id ${body.run_id}`,
        );
      }
    });
    return c.json({});
  });

  app.get(route("metrics/get-history"), (c) => {
    const run = findRun(c.req.query("run_id") || c.req.query("run_uuid"));
    const metricKey = query(c, "metric_key");
    const maxResults = c.req.query("max_results");
    const size = pageSize(maxResults === undefined ? undefined : Number(parse(int64, maxResults)), 25_000);
    const start = pageStart(c.req.query("page_token"));
    const series = db.getMetrics(run.id, metricKey);
    const end = Math.min(series.values.length, start + size);
    const metrics = [];
    for (let i = start; i < end; i++) {
      metrics.push({
        key: metricKey,
        value: series.values[i],
        timestamp: Math.round((series.timestamps[i] as number) * 1000),
        step: series.steps[i],
      });
    }
    return c.json({ metrics, next_page_token: nextPageToken(start, metrics.length, series.values.length) });
  });

  // Datasets, logged models and outputs have no place in stonks: accepted so a script goes on, and not kept.
  for (const name of ["runs/log-inputs", "runs/log-model", "runs/outputs"]) {
    app.post(route(name), async (c) => {
      findRun(parse(bodies.runOnly, await jsonBody(c)).run_id);
      return c.json({});
    });
  }
}
