/** The OpenAPI 3.1 document of the API (GET /api/openapi.json), written from the route table and its zod schemas. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { MAX_BODY_BYTES, MAX_POINTS_BODY_BYTES } from "../contract/limits.js";
import { DATABASE_RETRY_AFTER_S } from "./errors.js";
import { HEAVY_READ_RETRY_AFTER_S } from "./heavy-reads.js";
import { errorReply, operationId, type ParameterSpec, type ResponseSpec, ROUTES, type RouteSpec } from "./routes.js";

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType | JsonObject): JsonObject {
  if (!(schema instanceof z.ZodType)) return schema;
  // Requests are described as they are sent (before defaults and transforms); OpenAPI 3.1 takes JSON Schema 2020-12.
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonObject;
  return rest;
}

function parameter(spec: ParameterSpec): JsonObject {
  const schema = jsonSchema(spec.schema);
  return {
    name: spec.name,
    in: spec.in,
    required: spec.required ?? false,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    schema: spec.repeated ? { type: "array", items: schema } : schema,
    ...(spec.repeated ? { style: "form", explode: true } : {}),
  };
}

function response(spec: ResponseSpec): JsonObject {
  if (spec.contentType !== undefined) {
    return { description: spec.description, content: { [spec.contentType]: { schema: { type: "string" } } } };
  }
  if (spec.schema === undefined) return { description: spec.description };
  return { description: spec.description, content: { "application/json": { schema: jsonSchema(spec.schema) } } };
}

const errorContent = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };

function errors(route: RouteSpec): JsonObject {
  const answers: JsonObject = {
    "400": { description: "Bad input (the message says what).", content: errorContent },
    "403": {
      description: "The token's role is below the one this route needs, or the request came from another host or page.",
      content: errorContent,
    },
  };
  if (route.access !== "none")
    answers["401"] = { description: "No token, or an unknown or revoked one.", content: errorContent };
  if (route.path.includes("{"))
    answers["404"] = { description: "No such run, experiment or workspace.", content: errorContent };
  if (route.body !== undefined) {
    answers["413"] = { description: "Body too large, or too many points.", content: errorContent };
    answers["415"] = { description: "The body is not sent as application/json.", content: errorContent };
  }
  const unavailable = serviceUnavailable(route);
  if (unavailable.length > 0) {
    answers["503"] = {
      description: `The server cannot answer now; the same request may succeed later. ${unavailable.join(" ")}`,
      headers: {
        "Retry-After": {
          description:
            "Seconds to wait before sending the request again (with database_unavailable and too_many_heavy_reads).",
          schema: { type: "integer", minimum: 1 },
        },
      },
      content: errorContent,
    };
  }
  return answers;
}

/**
 * The 503 answers a route can give, one sentence each with its error code.
 * Every route but this document's reads the database, if only to check the
 * token (the stored tokens decide whether one is needed).
 */
function serviceUnavailable(route: RouteSpec): string[] {
  const reasons: string[] = [];
  if (route.access !== "none") {
    reasons.push(
      `database_unavailable: a PostgreSQL-backed server cannot reach its database (down, restarting, or out of connections); Retry-After: ${DATABASE_RETRY_AFTER_S}.`,
    );
  }
  if (route.heavyRead) {
    reasons.push(
      `too_many_heavy_reads: every slot for large point reads stayed busy (docs/rest-api.md, "Limits on point reads"); Retry-After: ${HEAVY_READ_RETRY_AFTER_S}.`,
    );
  }
  if (route.streaming) reasons.push("too_many_connections: too many live event streams are open.");
  return reasons;
}

function links(route: RouteSpec): JsonObject {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const out: JsonObject = {};
  for (const [method, path] of route.linksTo ?? []) {
    const id = operationId(method, path);
    out[id] = {
      operationId: id,
      parameters: Object.fromEntries(names.map((name) => [name, `$request.path.${name}`])),
    };
  }
  return out;
}

function operation(route: RouteSpec): JsonObject {
  const responses: JsonObject = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const answer = response(spec);
    if (route.linksTo !== undefined && status.startsWith("2")) answer.links = links(route);
    responses[status] = answer;
  }
  return {
    operationId: operationId(route.method, route.path),
    summary: route.summary,
    tags: [route.tag],
    "x-stonks-role": route.access,
    ...(route.streaming ? { "x-stonks-streaming": true } : {}),
    security: route.access === "none" ? [] : [{ bearer: [] }, { queryToken: [] }],
    parameters: (route.parameters ?? []).map(parameter),
    ...(route.body === undefined
      ? {}
      : { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(route.body) } } } }),
    responses: { ...responses, ...errors(route) },
  };
}

let document: JsonObject | null = null;

function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

export function openApiDocument(): JsonObject {
  if (document !== null) return document;
  const paths: Record<string, JsonObject> = {};
  for (const route of ROUTES) {
    paths[route.path] ??= {};
    paths[route.path][route.method] = operation(route);
  }
  document = {
    openapi: "3.1.0",
    info: {
      title: "stonks",
      version: packageVersion(),
      description: `The stonks server's JSON API (docs/rest-api.md). Each operation's x-stonks-role names the token role it needs (read < write < admin; none: no token). Bodies up to ${MAX_BODY_BYTES} bytes, points batches up to ${MAX_POINTS_BODY_BYTES}.`,
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Error: jsonSchema(errorReply) },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer <token>" },
        queryToken: {
          type: "apiKey",
          in: "query",
          name: "token",
          description: "For EventSource, which cannot send headers.",
        },
      },
    },
  };
  return document;
}
