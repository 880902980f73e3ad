/** Errors the API answers on purpose: `{"error": {"code", "message"}}` with a 4xx status. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** More fields of the error object, e.g. the column of a where expression's mistake. */
    readonly details: Readonly<Record<string, string | number>> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "bad_request", message);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, "not_found", message);
}

export function errorBody(code: string, message: string, details: Readonly<Record<string, string | number>> = {}) {
  return { error: { ...details, code, message } };
}

export function errorResponse(c: Context, error: ApiError): Response {
  return c.json(errorBody(error.code, error.message, error.details), error.status);
}

/** One readable line from zod issues: "tags[0]: Too small: …; color: …". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path
        .map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
        .join("");
      return path === "" ? issue.message : `${path}: ${issue.message}`;
    })
    .join("; ");
}

/** Seconds a client is told to wait (Retry-After) while the database is unavailable. */
export const DATABASE_RETRY_AFTER_S = 2;

/** The 503 of a request that met the database away (PostgreSQL down or restarting); the request may be sent again. */
export function databaseUnavailable(): ApiError {
  return new ApiError(
    503,
    "database_unavailable",
    "The database is unavailable (PostgreSQL is down or restarting); send the request again in a few seconds.",
  );
}
