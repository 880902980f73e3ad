/** Input schemas of the API. Everything a client sends passes through one of these. */
import { z } from "zod";
import {
  DEFAULT_DOWNSAMPLE,
  DEFAULT_GROUP_BUCKETS,
  MAX_CONDITIONS,
  MAX_DOWNSAMPLE,
  MAX_GROUP_BUCKETS,
  MAX_GROUP_KEYS_PER_REQUEST,
  MAX_GROUPED_RUNS_PER_REQUEST,
  MAX_GROUPS_PER_REQUEST,
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_NOTES_LENGTH,
  MAX_PAGE_SIZE,
  MAX_QUERY_TEXT_LENGTH,
  MAX_RUN_NAME_LENGTH,
  MAX_SERIES_PER_REQUEST,
  MAX_TAG_FILTER_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  MAX_WORKSPACE_BYTES,
  MAX_WORKSPACE_NAME,
} from "../contract/limits.js";
import type { DisplayStatus } from "../contract/run-table.js";
import { allOf, parseWhere, type WhereExpression, WhereSyntaxError } from "../contract/where.js";
import { StonksError } from "../errors.js";
import { parseDisplayStatuses, parseRunField, type RunListQuery } from "../query/run-filter.js";
import { ApiError, badRequest, describeIssues } from "./errors.js";

export { MAX_BODY_BYTES, MAX_DOWNSAMPLE, MAX_ID_LENGTH } from "../contract/limits.js";

export function parseWith<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw badRequest(describeIssues(result.error));
  return result.data;
}

const step = z.number().finite();
const downsample = z.number().int().min(2).max(MAX_DOWNSAMPLE);

export const seriesBody = z
  .strictObject({
    series: z
      // A key's length is checked per series (keyLengthError), so one long key fails only its own series.
      .array(z.strictObject({ run_id: z.string().min(1).max(MAX_ID_LENGTH), key: z.string().min(1) }))
      .min(1)
      .max(MAX_SERIES_PER_REQUEST),
    downsample: downsample.default(DEFAULT_DOWNSAMPLE),
    min_step: step.optional(),
    max_step: step.optional(),
    fields: z
      .array(z.enum(["steps", "values", "timestamps"]))
      .min(1)
      .refine((fields) => new Set(fields).size === fields.length, { message: "fields must be distinct" })
      .default(["steps", "values", "timestamps"]),
  })
  .refine((b) => b.min_step === undefined || b.max_step === undefined || b.min_step <= b.max_step, {
    message: "min_step must not be greater than max_step",
  });

/** POST /api/groups/series (see docs/rest-api.md). */
export const groupSeriesBody = z
  .strictObject({
    groups: z
      .array(
        z.strictObject({
          label: z.string().max(MAX_QUERY_TEXT_LENGTH),
          run_ids: z.array(z.string().min(1).max(MAX_ID_LENGTH)).min(1),
        }),
      )
      .min(1)
      .max(MAX_GROUPS_PER_REQUEST),
    keys: z.array(z.string().min(1).max(MAX_KEY_LENGTH)).min(1).max(MAX_GROUP_KEYS_PER_REQUEST),
    buckets: z.number().int().min(1).max(MAX_GROUP_BUCKETS).default(DEFAULT_GROUP_BUCKETS),
    min_step: step.optional(),
    max_step: step.optional(),
  })
  .refine((b) => b.min_step === undefined || b.max_step === undefined || b.min_step <= b.max_step, {
    message: "min_step must not be greater than max_step",
  })
  .refine((b) => b.groups.reduce((n, g) => n + g.run_ids.length, 0) <= MAX_GROUPED_RUNS_PER_REQUEST, {
    message: `At most ${MAX_GROUPED_RUNS_PER_REQUEST} run ids over all groups of one request.`,
  });

/** Why a metric key is too long to exist (longer than MAX_KEY_LENGTH code points), or null. */
export function keyLengthError(key: string): string | null {
  // UTF-16 length is never below the code point count, so only long strings need counting.
  if (key.length <= MAX_KEY_LENGTH || [...key].length <= MAX_KEY_LENGTH) return null;
  return `Metric keys are at most ${MAX_KEY_LENGTH} characters (Unicode code points); this one is longer.`;
}

const tag = z
  .string()
  .min(1)
  .max(MAX_TAG_LENGTH)
  .refine((t) => t.trim() === t, { message: "tags must not start or end with spaces" });

/** PATCH /api/runs/{id}: only the fields sent change; `{}` changes nothing, `"tags": null` clears the tags. */
export const runPatchBody = z.strictObject({
  name: z.string().max(MAX_RUN_NAME_LENGTH).nullable().optional(),
  tags: z
    .array(tag)
    .max(MAX_TAGS)
    .refine((tags) => new Set(tags).size === tags.length, { message: "tags must be distinct" })
    .nullable()
    .optional()
    .transform((tags) => (tags === null ? [] : tags)),
  notes: z.string().max(MAX_NOTES_LENGTH).nullable().optional(),
  color: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, { message: "color must look like #1f77b4" })
    .nullable()
    .optional(),
});

/** A whole number from a query string: digits only, so "1e9", "0x10" and "-1" are refused. */
function integerParam(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw badRequest(`${name} must be a whole number from ${min} to ${max}.`);
  const value = Number(text);
  if (value < min || value > max) throw badRequest(`${name} must be a whole number from ${min} to ${max}.`);
  return value;
}

export function downsampleParam(text: string | undefined): number | undefined {
  return integerParam("downsample", text, 2, MAX_DOWNSAMPLE);
}

function textParam(name: string, text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  if (text.length > max) throw badRequest(`${name} is longer than ${max} characters.`);
  return text;
}

/** Every `where` of the query string; a mistake answers 400 with its column (and which `where` it is in). */
function whereParam(texts: readonly string[]): WhereExpression | undefined {
  return allOf(
    texts.map((text, i) => {
      try {
        return parseWhere(textParam("where", text, MAX_QUERY_TEXT_LENGTH) ?? "");
      } catch (error) {
        if (!(error instanceof WhereSyntaxError)) throw error;
        const which = texts.length > 1 ? ` #${i + 1}` : "";
        throw new ApiError(400, "bad_request", `where${which}: ${error.message}`, { column: error.column });
      }
    }),
  );
}

/** Reads the run-list query string (see docs/rest-api.md). */
export function runListQuery(
  single: (name: string) => string | undefined,
  repeated: (name: string) => string[],
): RunListQuery {
  const tags = repeated("tag");
  if (tags.some((t) => t.length > MAX_TAG_FILTER_LENGTH)) {
    throw badRequest(`tag is longer than ${MAX_TAG_FILTER_LENGTH} characters.`);
  }
  const whereTexts = repeated("where");
  if (whereTexts.length > MAX_CONDITIONS) throw badRequest(`At most ${MAX_CONDITIONS} where conditions.`);
  const order = single("order");
  if (order !== undefined && order !== "asc" && order !== "desc") throw badRequest('order must be "asc" or "desc".');
  const sortText = textParam("sort", single("sort"), MAX_QUERY_TEXT_LENGTH);
  let statuses: DisplayStatus[];
  let where: WhereExpression | undefined;
  let sort: RunListQuery["sort"];
  try {
    statuses = parseDisplayStatuses("status", repeated("status"));
    sort = sortText === undefined ? undefined : parseRunField(sortText);
    where = whereParam(whereTexts);
  } catch (error) {
    if (error instanceof StonksError) throw badRequest(error.message);
    throw error;
  }
  return {
    statuses,
    tags,
    group: textParam("group", single("group"), MAX_QUERY_TEXT_LENGTH),
    text: textParam("q", single("q"), MAX_QUERY_TEXT_LENGTH),
    where,
    sort,
    order,
    limit: integerParam("limit", single("limit"), 1, MAX_PAGE_SIZE),
    offset: integerParam("offset", single("offset"), 0, 1_000_000_000),
  };
}

export const workspaceName = z
  .string()
  .trim()
  .min(1, "A workspace name must not be empty.")
  .max(MAX_WORKSPACE_NAME, `A workspace name is at most ${MAX_WORKSPACE_NAME} characters.`);

/** PUT /api/experiments/{id}/workspaces/{name}: the arrangement is the dashboard's own object. */
export const workspaceBody = z
  .strictObject({ state: z.record(z.string(), z.unknown()) })
  .refine((b) => JSON.stringify(b.state).length <= MAX_WORKSPACE_BYTES, {
    message: `A workspace is at most ${MAX_WORKSPACE_BYTES} characters of JSON.`,
  });
