/** The HTTP application: JSON API under /api, live events, and the dashboard. */
import { timingSafeEqual } from "node:crypto";
import { resolve } from "node:path";
import type { HttpBindings } from "@hono/node-server";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { roleAllows, type TokenRole } from "../contract/auth.js";
import type { PointsBatchReply, RunSyncReply, RunUpsertReply } from "../contract/ingest.js";
import { NotFoundError } from "../errors.js";
import type { Workspace } from "../query/database.js";
import { isDatabaseUnavailable, type StonksService } from "../query/service.js";
import type { Tokens } from "../query/tokens.js";
import type { Config, DownsampledSeries } from "../types.js";
import { isPostgresUrl, redactUrl } from "../util/db-path.js";
import { logger } from "../util/logger.js";
import { allMetricsPieces, planAllMetrics } from "./all-metrics.js";
import {
  ApiError,
  badRequest,
  DATABASE_RETRY_AFTER_S,
  databaseUnavailable,
  errorBody,
  errorResponse,
  notFound,
} from "./errors.js";
import { type Cursor, type EventHub, parseCursor } from "./events.js";
import { groupSeriesPieces } from "./group-series.js";
import {
  BusyError,
  DEFAULT_HEAVY_READ_LIMITS,
  type HeavyReadLimits,
  pieceStream,
  ReadSlots,
  tooManyPoints,
} from "./heavy-reads.js";
import { decodePointsBatch } from "./ingest.js";
import {
  experimentJson,
  pointsPieces,
  projectJson,
  runJson,
  runListText,
  type SeriesErrorJson,
  seriesPieces,
} from "./json.js";
import { mlflowErrorShape, mountMlflowRoutes } from "./mlflow/api.js";
import { openApiDocument } from "./openapi.js";
import { findRoute, routeName } from "./routes.js";
import type { StaticFiles } from "./static.js";
import { pointsTimingLog } from "./timing-log.js";
import {
  downsampleParam,
  groupSeriesBody,
  heartbeatBody,
  keyLengthError,
  MAX_BODY_BYTES,
  MAX_DOWNSAMPLE,
  MAX_ID_LENGTH,
  MAX_POINTS_BODY_BYTES,
  parseWith,
  pointsBatchBody,
  runListQuery,
  runPatchBody,
  runUpsertBody,
  seriesBody,
  workspaceBody,
  workspaceName,
} from "./validation.js";

export interface AppDeps {
  db: StonksService;
  events: EventHub;
  dashboard: StaticFiles;
  /** An admin token besides those in the file (`--token`); when set, every /api route needs a token. */
  token: string | null;
  /** Host names the server answers to; null accepts any (bound to a non-loopback address). */
  allowedHosts: ReadonlySet<string> | null;
  /** Origins (scheme://host:port) besides the server's own whose pages may call it. */
  allowedOrigins?: ReadonlySet<string>;
  /** Default DEFAULT_HEAVY_READ_LIMITS. */
  heavyReads?: HeavyReadLimits;
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Every /api route needs the role its entry in ROUTES names. The server's own
 * --token is an admin token; tokens in the file have their role. With neither
 * (no --token and no token ever made in the file) the API is open, as it was
 * before tokens. The secret comes as a Bearer header, or ?token= for
 * EventSource (which cannot send headers).
 */
function requireRole(fixedToken: string | null, tokens: Tokens): MiddlewareHandler {
  return async (c, next) => {
    const route = findRoute(c.req.method, c.req.path);
    // Unknown /api paths are answered 404 once the request has a valid token of any role.
    const needs = route?.access ?? "read";
    if (needs === "none" || (fixedToken === null && !tokens.required())) return next();
    const header = c.req.header("authorization");
    const given = header?.match(/^Bearer\s+(.+)$/i)?.[1] ?? c.req.query("token");
    if (given === undefined) {
      c.header("WWW-Authenticate", "Bearer");
      throw new ApiError(401, "unauthorized", "This server needs a token: send Authorization: Bearer <token>.");
    }
    const role: TokenRole | null =
      fixedToken !== null && tokensEqual(given, fixedToken) ? "admin" : (tokens.authenticate(given)?.role ?? null);
    if (role === null) {
      c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
      throw new ApiError(
        401,
        "unauthorized",
        "This token is unknown or revoked; ask the server's admin for one (stonks token create).",
      );
    }
    if (route !== null && !roleAllows(role, needs)) {
      throw new ApiError(403, "forbidden", `this token has role ${role}; ${routeName(route)} needs role ${needs}`);
    }
    await next();
  };
}

/**
 * A server on loopback answers only to loopback host names, so a web page
 * whose domain is re-pointed at 127.0.0.1 (DNS rebinding) cannot read or
 * change the data.
 */
function requireAllowedHost(allowed: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase().replace(/:\d+$/, "");
    if (!allowed.has(host)) {
      throw new ApiError(403, "forbidden_host", `This server answers to ${[...allowed].join(", ")} only.`);
    }
    await next();
  };
}

/**
 * A browser names the page that made a request in Origin. Only the
 * dashboard's own pages (same scheme, host and port as the request went to)
 * and the opt-in list may use the server; requests without Origin (curl, the
 * SDKs, same-origin navigation) are not from another page and pass.
 */
function requireOwnOrigin(allowed: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      const own = `${new URL(c.req.url).protocol}//${c.req.header("host") ?? ""}`.toLowerCase();
      if (origin.toLowerCase() !== own && !allowed.has(origin.toLowerCase())) {
        throw new ApiError(
          403,
          "forbidden_origin",
          `Requests from pages on ${origin.slice(0, 200)} are refused; allow that origin with stonks serve --allow-origin ${origin.slice(0, 200)}.`,
        );
      }
    }
    await next();
  };
}

async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as JSON with Content-Type: application/json.");
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("The request body is not valid JSON.");
  }
}

/** An id or name from the path or query: any text of 1 to 512 characters. */
function identifier(name: string, value: string | undefined): string {
  if (value === undefined || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw badRequest(`${name} must be 1 to ${MAX_ID_LENGTH} characters long.`);
  }
  return value;
}

function param(c: Context, name: string): string {
  return identifier(name, c.req.param(name));
}

function startCursor(c: Context): Cursor | null {
  const text = c.req.header("last-event-id") || c.req.query("cursor");
  if (text === undefined || text === "") return null;
  const cursor = parseCursor(text);
  if (cursor === null) throw badRequest("cursor (or Last-Event-ID) must look like 1234.56.");
  return cursor;
}

function seriesError(code: SeriesErrorJson["code"], message: string): SeriesErrorJson {
  return { code, message };
}

function emptySeries(request: { runId: string; key: string }): DownsampledSeries {
  const none = new Float64Array(0);
  return { ...request, steps: none, values: none, timestamps: none, totalPoints: 0, downsampled: false };
}

/** Least time between two log lines about the database being unavailable. */
const UNAVAILABLE_LOG_INTERVAL_MS = 30_000;

export function createApp(deps: AppDeps): Hono<{ Bindings: Partial<HttpBindings> }> {
  const { db, events } = deps;
  const limits = deps.heavyReads ?? DEFAULT_HEAVY_READ_LIMITS;
  const slots = new ReadSlots(limits);
  // Every request meets an outage of the database: the log says so once in a while, not once per request.
  let unavailableLoggedAt = Number.NEGATIVE_INFINITY;
  const noteUnavailable = (error: Error) => {
    const now = Date.now();
    if (now - unavailableLoggedAt < UNAVAILABLE_LOG_INTERVAL_MS) return;
    unavailableLoggedAt = now;
    logger.warn(`the database is unavailable (${error.message}); answering 503 until it is back`);
  };

  /**
   * A JSON answer of at most `points` points: small ones in one piece; larger
   * ones streamed, and the largest only while they hold one of the few slots.
   */
  const answerPoints = async (c: Context, points: number, pieces: () => Generator<string>): Promise<Response> => {
    const headers = { "Content-Type": "application/json", "Cache-Control": "no-store" };
    if (points <= limits.streamAbovePoints) return c.body([...pieces()].join(""), 200, headers);
    const release = points > limits.heavyPoints ? await slots.acquire() : () => {};
    const body = pieceStream(pieces(), {
      stallMs: limits.stallMs,
      socket: (c.env as Partial<HttpBindings> | undefined)?.outgoing,
      onEnd: release,
    });
    return c.body(body, 200, headers);
  };
  const runTables = db.runTables();
  const app = new Hono<{ Bindings: Partial<HttpBindings> }>();
  const timingLog = pointsTimingLog(process.env.STONKS_TIMING_LOG);
  if (timingLog !== null) app.use("/api/runs/:id/points", timingLog);

  const findExperiment = (c: Context) => {
    const idOrName = param(c, "id");
    const experiment = db.getExperiment(idOrName);
    if (experiment === null) throw notFound(`No experiment with id or name "${idOrName.slice(0, 200)}".`);
    return experiment;
  };
  const runNotFound = (id: string) => notFound(`No run with id "${id.slice(0, 200)}".`);
  const findRunId = (c: Context) => {
    const id = param(c, "id");
    if (!db.hasRun(id)) throw runNotFound(id);
    return id;
  };
  const findRunView = (c: Context) => {
    const id = param(c, "id");
    const view = db.runView(id);
    if (view === null) throw runNotFound(id);
    return view;
  };

  // First, so the host, origin and token checks' answers to MLflow clients are in MLflow's shape too.
  app.use("/api/2.0/*", mlflowErrorShape());
  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
  });
  if (deps.allowedHosts !== null) app.use("*", requireAllowedHost(deps.allowedHosts));
  app.use("*", requireOwnOrigin(deps.allowedOrigins ?? new Set()));
  app.use("/api/*", requireRole(deps.token, db.tokens()));
  const limitBody = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => c.json(errorBody("payload_too_large", `Request bodies are limited to ${maxSize} bytes.`), 413),
    });
  const pointsBodyLimit = limitBody(MAX_POINTS_BODY_BYTES);
  const defaultBodyLimit = limitBody(MAX_BODY_BYTES);
  // Points batches are the one large body: up to MAX_POINTS_PER_WRITE points in base64 columns.
  app.use("/api/*", (c, next) =>
    c.req.method === "POST" && /^\/api\/runs\/[^/]+\/points$/.test(c.req.path)
      ? pointsBodyLimit(c, next)
      : defaultBodyLimit(c, next),
  );
  app.use("/api/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });

  app.get("/api/openapi.json", (c) => c.json(openApiDocument()));

  // The dashboard names the file it shows, so a run logged to another file is not silently missing.
  app.get("/api/info", (c) => c.json({ db: isPostgresUrl(db.path) ? redactUrl(db.path) : resolve(db.path) }));

  app.get("/api/projects", (c) => c.json(db.listProjects().map(projectJson)));

  app.get("/api/experiments", (c) => {
    const projectId = c.req.query("project_id");
    const options = projectId === undefined ? {} : { projectId: identifier("project_id", projectId) };
    return c.json(db.listExperiments(options).map(experimentJson));
  });

  app.get("/api/experiments/:id", (c) => c.json(experimentJson(findExperiment(c))));

  app.get("/api/experiments/:id/runs", (c) => {
    const experiment = findExperiment(c);
    const query = runListQuery(
      (name) => c.req.query(name),
      (name) => c.req.queries(name) ?? [],
    );
    const page = runTables.query(experiment.id, query);
    c.header("X-Total-Count", String(page.total));
    return c.body(runListText(page.runs), 200, { "Content-Type": "application/json" });
  });

  app.get("/api/experiments/:id/keys", (c) => {
    const keys = runTables.keys(findExperiment(c).id);
    return c.json({ config_keys: keys.configKeys, metric_keys: keys.metricKeys });
  });

  app.delete("/api/experiments/:id", (c) => {
    const experiment = findExperiment(c);
    const deleted = db.deleteExperiment(experiment.id);
    if (deleted === null) throw notFound(`No experiment with id "${experiment.id}".`);
    events.poke();
    return c.json({ deleted_runs: deleted });
  });

  const workspaceJson = (w: Workspace) => ({ name: w.name, state: w.state, updated_at: w.updatedAt });
  const workspaceParam = (c: Context) => parseWith(workspaceName, c.req.param("name"));

  app.get("/api/experiments/:id/workspaces", (c) => c.json(db.listWorkspaces(findExperiment(c).id).map(workspaceJson)));

  app.get("/api/experiments/:id/workspaces/:name", (c) => {
    const experiment = findExperiment(c);
    const name = workspaceParam(c);
    const workspace = db.getWorkspace(experiment.id, name);
    if (workspace === null) throw notFound(`No workspace "${name}" in experiment ${experiment.name}.`);
    return c.json(workspaceJson(workspace));
  });

  app.put("/api/experiments/:id/workspaces/:name", async (c) => {
    const experiment = findExperiment(c);
    const name = workspaceParam(c);
    const body = parseWith(workspaceBody, await readJsonBody(c));
    if (!db.saveWorkspace(experiment.id, name, body.state)) throw notFound(`No experiment with id "${experiment.id}".`);
    return c.json(workspaceJson(db.getWorkspace(experiment.id, name) as Workspace));
  });

  app.delete("/api/experiments/:id/workspaces/:name", (c) => {
    const experiment = findExperiment(c);
    const name = workspaceParam(c);
    if (!db.deleteWorkspace(experiment.id, name))
      throw notFound(`No workspace "${name}" in experiment ${experiment.name}.`);
    return c.json({ deleted: name });
  });

  app.get("/api/runs/:id", (c) => c.json(runJson(findRunView(c))));

  app.patch("/api/runs/:id", async (c) => {
    const runId = findRunId(c);
    const edit = parseWith(runPatchBody, await readJsonBody(c));
    // An empty edit (the original stonks' client sends `{}`) changes nothing, not even the revision.
    if (Object.values(edit).some((value) => value !== undefined)) {
      if (!db.editRun(runId, edit)) throw notFound(`No run with id "${runId}".`);
      events.poke();
    }
    return c.json(runJson(findRunView(c)));
  });

  app.delete("/api/runs/:id", (c) => {
    const deleted = db.deleteRuns([findRunId(c)]);
    events.poke();
    return c.json({ deleted_runs: deleted });
  });

  app.put("/api/runs/:id", async (c) => {
    const runId = param(c, "id");
    const body = parseWith(runUpsertBody, await readJsonBody(c));
    // The body came from JSON.parse, so every value in config is JSON.
    const stored = db.upsertRemoteRun(runId, { ...body, config: body.config as Config });
    events.poke();
    return c.json({ id: runId, series: stored.series } satisfies RunUpsertReply, stored.created ? 201 : 200);
  });

  app.post("/api/runs/:id/points", async (c) => {
    const runId = param(c, "id");
    const batches = decodePointsBatch(parseWith(pointsBatchBody, await readJsonBody(c)));
    const outcome = db.appendRemotePoints(runId, batches);
    if (outcome === null) throw runNotFound(runId);
    events.poke();
    return c.json(outcome satisfies PointsBatchReply);
  });

  app.post("/api/runs/:id/heartbeat", async (c) => {
    const runId = param(c, "id");
    const body = parseWith(heartbeatBody, await readJsonBody(c));
    if (!db.remoteHeartbeat(runId, body.at)) throw runNotFound(runId);
    return c.body(null, 204);
  });

  app.get("/api/runs/:id/sync", (c) => {
    const runId = param(c, "id");
    const state = db.runSyncState(runId);
    if (state === null) throw runNotFound(runId);
    return c.json(state satisfies RunSyncReply);
  });

  app.get("/api/runs/:id/metric-keys", (c) => c.json(db.getMetricKeys(findRunId(c))));

  app.get("/api/runs/:id/metrics", (c) => {
    const runId = findRunId(c);
    const key = c.req.query("key");
    if (key === undefined || key === "") throw badRequest("key is required: /api/runs/{id}/metrics?key=train/loss");
    const tooLong = keyLengthError(key);
    if (tooLong !== null) throw badRequest(tooLong);
    const maxPoints = downsampleParam(c.req.query("downsample"));
    const stored = db.seriesLength(runId, key) ?? 0;
    const points = maxPoints === undefined ? stored : Math.min(stored, maxPoints);
    if (points > limits.maxPointsPerResponse) {
      throw tooManyPoints(
        points,
        limits,
        `Add downsample (at most ${MAX_DOWNSAMPLE}), or read step ranges with POST /api/series (min_step, max_step); \`stonks export\` writes every point.`,
      );
    }
    return answerPoints(c, points, function* () {
      const series =
        maxPoints === undefined ? db.getMetrics(runId, key) : db.getSeries([{ runId, key }], { maxPoints })[0];
      yield* pointsPieces(key, series);
    });
  });

  app.get("/api/runs/:id/metrics/all", (c) => {
    const runId = findRunId(c);
    const maxPoints = downsampleParam(c.req.query("downsample"));
    const plan = planAllMetrics(db, runId, maxPoints);
    if (plan.points > limits.maxPointsPerResponse) {
      throw tooManyPoints(
        plan.points,
        limits,
        "Add a smaller downsample (keys logged per rank are read in full to combine them), or read keys one at a time with GET /api/runs/{id}/metrics?key=...",
      );
    }
    return answerPoints(c, plan.points, () => allMetricsPieces(db, runId, plan, maxPoints));
  });

  app.post("/api/series", async (c) => {
    const body = parseWith(seriesBody, await readJsonBody(c));
    const runExists = new Map<string, boolean>();
    const plan = body.series.map(({ run_id: runId, key }) => {
      const tooLong = keyLengthError(key);
      if (tooLong !== null) return { runId, key, stored: 0, error: seriesError("key_too_long", tooLong) };
      let exists = runExists.get(runId);
      if (exists === undefined) {
        exists = db.hasRun(runId);
        runExists.set(runId, exists);
      }
      if (!exists) {
        return {
          runId,
          key,
          stored: 0,
          error: seriesError("run_not_found", `No run with id "${runId.slice(0, 200)}".`),
        };
      }
      const stored = db.seriesLength(runId, key);
      if (stored === null) {
        return { runId, key, stored: 0, error: seriesError("key_not_found", "This run has no metric with this key.") };
      }
      return { runId, key, stored, error: null };
    });
    const points = plan.reduce((sum, item) => sum + Math.min(item.stored, body.downsample), 0);
    if (points > limits.maxPointsPerResponse) {
      const fitting = Math.max(2, Math.floor(limits.maxPointsPerResponse / plan.length));
      throw tooManyPoints(
        points,
        limits,
        `Ask for fewer series or a smaller downsample: ${plan.length} series fit at downsample ${Math.min(fitting, MAX_DOWNSAMPLE)}.`,
      );
    }
    const options = { maxPoints: body.downsample, minStep: body.min_step, maxStep: body.max_step };
    return answerPoints(c, points, function* () {
      yield '{"series":[';
      for (const [i, item] of plan.entries()) {
        if (i > 0) yield ",";
        const series =
          item.error === null ? db.getSeries([{ runId: item.runId, key: item.key }], options)[0] : emptySeries(item);
        yield* seriesPieces(series, body.fields, item.error);
      }
      yield "]}";
    });
  });

  app.post("/api/groups/series", async (c) => {
    const body = parseWith(groupSeriesBody, await readJsonBody(c));
    const runIds = new Set(body.groups.flatMap((g) => g.run_ids));
    for (const runId of runIds) if (!db.hasRun(runId)) throw runNotFound(runId);
    const options = { buckets: body.buckets, minStep: body.min_step, maxStep: body.max_step };
    // Sized by the answer (seven numbers per bucket), not by the raw points read: a slot guards memory, and this stays small.
    const answered = body.groups.length * body.keys.length * body.buckets * 7;
    return answerPoints(c, answered, () => groupSeriesPieces(db, body.groups, body.keys, options));
  });

  app.get("/api/events", (c) => {
    const experimentParam = c.req.query("experiment_id");
    const only = c.req.query("only");
    if (only !== undefined && only !== "experiments") throw badRequest('only must be "experiments" when given.');
    // No experiment has an empty id: such a stream gets only what every stream gets (experiments_changed, resync).
    let experimentId: string | null = only === "experiments" ? "" : null;
    if (experimentParam !== undefined && only === undefined) {
      const experiment = db.getExperiment(identifier("experiment_id", experimentParam));
      if (experiment === null) throw notFound(`No experiment with id "${experimentParam.slice(0, 200)}".`);
      experimentId = experiment.id;
    }
    const from = startCursor(c);
    if (events.isFull) {
      throw new ApiError(503, "too_many_connections", "Too many live event streams are open; close some tabs.");
    }
    // nginx buffers proxied answers unless told not to; an event must reach the browser when it is written.
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      const client = events.attach({ write: (text) => stream.write(text) }, experimentId, from);
      stream.onAbort(() => client.close());
      await client.done;
    });
  });

  mountMlflowRoutes(app, { db, events });

  app.all("/api/*", () => {
    throw notFound("No such API route; see docs/rest-api.md.");
  });

  app.all("*", (c) => deps.dashboard.serve(new URL(c.req.url).pathname, c.req.method));

  app.onError((error, c) => {
    if (error instanceof BusyError) c.header("Retry-After", String(error.retryAfterSeconds));
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof NotFoundError) return errorResponse(c, notFound(error.message));
    if (error instanceof HTTPException) {
      return c.json(errorBody("bad_request", error.message || "Bad request."), error.status);
    }
    if (isDatabaseUnavailable(error)) {
      noteUnavailable(error as Error);
      c.header("Retry-After", String(DATABASE_RETRY_AFTER_S));
      return errorResponse(c, databaseUnavailable());
    }
    logger.error(`${c.req.method} ${c.req.path} failed: ${error.stack ?? error.message}`);
    return c.json(errorBody("internal", "The server failed to answer; see its log."), 500);
  });

  return app;
}
