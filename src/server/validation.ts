/** Input schemas of the API. Everything a client sends passes through one of these. */
import { z } from "zod";
import {
  DEFAULT_DOWNSAMPLE,
  MAX_CONDITIONS,
  MAX_DOWNSAMPLE,
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_META_TEXT_LENGTH,
  MAX_NOTES_LENGTH,
  MAX_PAGE_SIZE,
  MAX_QUERY_TEXT_LENGTH,
  MAX_RUN_NAME_LENGTH,
  MAX_SERIES_PER_REQUEST,
  MAX_SERIES_PER_WRITE,
  MAX_TAG_FILTER_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  MAX_WORKSPACE_BYTES,
  MAX_WORKSPACE_NAME,
} from "../contract/limits.js";
import type { Condition, DisplayStatus } from "../contract/run-table.js";
import { StonksError } from "../errors.js";
import { parseCondition, parseDisplayStatuses, parseRunField, type RunListQuery } from "../query/run-filter.js";
import { badRequest, describeIssues } from "./errors.js";

export {
  MAX_BODY_BYTES,
  MAX_DOWNSAMPLE,
  MAX_ID_LENGTH,
  MAX_POINTS_BODY_BYTES,
  MAX_POINTS_PER_WRITE,
} from "../contract/limits.js";

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
  let where: Condition[];
  let sort: RunListQuery["sort"];
  try {
    statuses = parseDisplayStatuses("status", repeated("status"));
    where = whereTexts.map((text) => parseCondition(textParam("where", text, MAX_QUERY_TEXT_LENGTH) ?? ""));
    sort = sortText === undefined ? undefined : parseRunField(sortText);
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

const finiteTime = z.number().finite().min(0);
const metaText = z.string().min(1).max(MAX_META_TEXT_LENGTH);
const nullableText = z.string().nullable();

/**
 * PUT /api/runs/{id}: a sender's run metadata. Names, notes and tags are as
 * long as the SDKs let them be (the body limit bounds them); fields a newer
 * sender adds are ignored, so it can still write to this server.
 */
export const runUpsertBody = z.object({
  experiment: metaText,
  project: metaText.nullable(),
  name: nullableText,
  config: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  group: nullableText,
  jobType: nullableText,
  notes: nullableText,
  color: z.string().max(64).nullable(),
  createdAt: finiteTime,
  provenance: z.object({
    host: nullableText,
    pid: z.number().int().nullable(),
    command: nullableText,
    cwd: nullableText,
    gitCommit: nullableText,
    gitDirty: z.boolean().nullable(),
    sdkLanguage: nullableText,
    sdkVersion: nullableText,
  }),
  status: z.enum(["running", "completed", "failed", "interrupted"]),
  endedAt: finiteTime.nullable(),
  lastHeartbeat: finiteTime.nullable(),
});

/** POST /api/runs/{id}/points: columns are checked after this (decoded, same lengths, finite, within the limit). */
export const pointsBatchBody = z.object({
  series: z
    .array(
      z.object({
        // A key's length is counted in code points (keyLengthError) after this.
        key: z.string().min(1),
        start: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        steps: z.string(),
        values: z.string(),
        times: z.string(),
      }),
    )
    .max(MAX_SERIES_PER_WRITE),
});

/** POST /api/runs/{id}/heartbeat. */
export const heartbeatBody = z.object({ at: finiteTime });
