/** The HTTP application: JSON API under /api, live events, and the dashboard. */
import { timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { NotFoundError } from "../errors.js";
import type { StonksDatabase } from "../query/database.js";
import { RunTables, runView } from "../query/run-list.js";
import { deleteExperiment, deleteRuns, editRun } from "../store/admin.js";
import { getRunRow } from "../store/reads.js";
import { logger } from "../util/logger.js";
import { ApiError, badRequest, errorBody, errorResponse, notFound } from "./errors.js";
import { type Cursor, type EventHub, parseCursor } from "./events.js";
import { experimentJson, pointsJson, runJson, runListText, seriesJson } from "./json.js";
import type { StaticFiles } from "./static.js";
import {
  downsampleParam,
  MAX_BODY_BYTES,
  MAX_ID_LENGTH,
  parseWith,
  runListQuery,
  runPatchBody,
  seriesBody,
} from "./validation.js";

export interface AppDeps {
  db: StonksDatabase;
  events: EventHub;
  dashboard: StaticFiles;
  /** When set, every /api route requires it. */
  token: string | null;
  /** Host names the server answers to; null accepts any (bound to a non-loopback address). */
  allowedHosts: ReadonlySet<string> | null;
  staleAfterSeconds?: number;
}

function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Bearer header, or ?token= for EventSource (which cannot send headers). */
function requireToken(token: string): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const given = header?.match(/^Bearer\s+(.+)$/i)?.[1] ?? c.req.query("token");
    if (given === undefined || !tokensEqual(given, token)) {
      throw new ApiError(401, "unauthorized", "This server needs a token: send Authorization: Bearer <token>.");
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

export function createApp(deps: AppDeps): Hono {
  const { db, events } = deps;
  const staleOptions = { staleAfterSeconds: deps.staleAfterSeconds };
  const runTables = new RunTables(db.connection, staleOptions);
  const app = new Hono();

  const findExperiment = (c: Context) => {
    const idOrName = param(c, "id");
    const experiment = db.getExperiment(idOrName);
    if (experiment === null) throw notFound(`No experiment with id or name "${idOrName.slice(0, 200)}".`);
    return experiment;
  };
  const findRunRow = (c: Context) => {
    const id = param(c, "id");
    const row = getRunRow(db.connection, id);
    if (row === null) throw notFound(`No run with id "${id.slice(0, 200)}".`);
    return row;
  };

  if (deps.allowedHosts !== null) app.use("*", requireAllowedHost(deps.allowedHosts));
  if (deps.token !== null) app.use("/api/*", requireToken(deps.token));
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(errorBody("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`), 413),
    }),
  );
  app.use("/api/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });

  app.get("/api/experiments", (c) => c.json(db.listExperiments().map(experimentJson)));

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
    const deleted = deleteExperiment(db.connection, experiment.id);
    if (deleted === null) throw notFound(`No experiment with id "${experiment.id}".`);
    events.poke();
    return c.json({ deleted_runs: deleted });
  });

  app.get("/api/runs/:id", (c) => c.json(runJson(runView(db.connection, findRunRow(c), staleOptions))));

  app.patch("/api/runs/:id", async (c) => {
    const row = findRunRow(c);
    const edit = parseWith(runPatchBody, await readJsonBody(c));
    if (!editRun(db.connection, row.id, edit)) throw notFound(`No run with id "${row.id}".`);
    events.poke();
    return c.json(runJson(runView(db.connection, findRunRow(c), staleOptions)));
  });

  app.delete("/api/runs/:id", (c) => {
    const row = findRunRow(c);
    const deleted = deleteRuns(db.connection, [row.id]);
    events.poke();
    return c.json({ deleted_runs: deleted });
  });

  app.get("/api/runs/:id/metric-keys", (c) => c.json(db.getMetricKeys(findRunRow(c).id)));

  app.get("/api/runs/:id/metrics", (c) => {
    const runId = findRunRow(c).id;
    const key = c.req.query("key");
    if (key === undefined || key === "") throw badRequest("key is required: /api/runs/{id}/metrics?key=train/loss");
    if (key.length > 1000) throw badRequest("key is longer than 1000 characters.");
    const maxPoints = downsampleParam(c.req.query("downsample"));
    const series =
      maxPoints === undefined ? db.getMetrics(runId, key) : db.getSeries([{ runId, key }], { maxPoints })[0];
    return c.json({ key, ...pointsJson(series) });
  });

  app.post("/api/series", async (c) => {
    const body = parseWith(seriesBody, await readJsonBody(c));
    const series = db.getSeries(
      body.series.map((s) => ({ runId: s.run_id, key: s.key })),
      { maxPoints: body.downsample, minStep: body.min_step, maxStep: body.max_step },
    );
    return c.json({ series: series.map((s) => seriesJson(s, body.fields)) });
  });

  app.get("/api/events", (c) => {
    const experimentParam = c.req.query("experiment_id");
    let experimentId: string | null = null;
    if (experimentParam !== undefined) {
      const experiment = db.getExperiment(identifier("experiment_id", experimentParam));
      if (experiment === null) throw notFound(`No experiment with id "${experimentParam.slice(0, 200)}".`);
      experimentId = experiment.id;
    }
    const from = startCursor(c);
    if (events.isFull) {
      throw new ApiError(503, "too_many_connections", "Too many live event streams are open; close some tabs.");
    }
    return streamSSE(c, async (stream) => {
      const client = events.attach({ write: (text) => stream.write(text) }, experimentId, from);
      stream.onAbort(() => client.close());
      await client.done;
    });
  });

  app.all("/api/*", () => {
    throw notFound("No such API route; see docs/rest-api.md.");
  });

  app.all("*", (c) => deps.dashboard.serve(new URL(c.req.url).pathname, c.req.method));

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof NotFoundError) return errorResponse(c, notFound(error.message));
    if (error instanceof HTTPException) {
      return c.json(errorBody("bad_request", error.message || "Bad request."), error.status);
    }
    logger.error(`${c.req.method} ${c.req.path} failed: ${error.stack ?? error.message}`);
    return c.json(errorBody("internal", "The server failed to answer; see its log."), 500);
  });

  return app;
}
