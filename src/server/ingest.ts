/** The write API's points batches: from the wire columns to checked float64 arrays. */
import type { z } from "zod";
import { MAX_POINTS_PER_WRITE } from "../contract/limits.js";
import type { RemoteSeriesBatch } from "../query/service.js";
import { decodeB64F64 } from "../util/b64f64.js";
import { ApiError, badRequest } from "./errors.js";
import { keyLengthError, type pointsBatchBody } from "./validation.js";

const COLUMNS = ["steps", "values", "times"] as const;

function shortKey(key: string): string {
  return JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);
}

/**
 * Decodes every series of a batch, refusing the whole batch (400 naming the
 * series, or 413 past MAX_POINTS_PER_WRITE) when any column is not base64 of
 * float64 values, the three columns differ in length, or a value is not finite.
 */
export function decodePointsBatch(body: z.infer<typeof pointsBatchBody>): RemoteSeriesBatch[] {
  let total = 0;
  for (const series of body.series) {
    // A base64 column holds 8 bytes per 32/3 characters: count before decoding anything.
    total += Math.floor((series.values.length * 3) / 4 / 8);
  }
  if (total > MAX_POINTS_PER_WRITE) {
    throw new ApiError(
      413,
      "too_many_points",
      `One request carries at most ${MAX_POINTS_PER_WRITE} points; this one has ${total}. Send them in several requests.`,
    );
  }
  return body.series.map((series) => {
    const name = `series ${shortKey(series.key)}`;
    const tooLong = keyLengthError(series.key);
    if (tooLong !== null) throw badRequest(`${name}: ${tooLong}`);
    const [steps, values, times] = COLUMNS.map((column) => {
      const decoded = decodeB64F64(series[column]);
      if (decoded === null) {
        throw badRequest(`${name}: ${column} is not base64 of little-endian float64 values (8 bytes each).`);
      }
      return decoded;
    });
    if (steps.length !== values.length || times.length !== values.length) {
      throw badRequest(
        `${name}: steps, values and times must hold as many values; they hold ${steps.length}, ${values.length} and ${times.length}.`,
      );
    }
    for (const [column, array] of [
      ["steps", steps],
      ["values", values],
      ["times", times],
    ] as const) {
      const at = array.findIndex((value) => !Number.isFinite(value));
      if (at >= 0) {
        throw badRequest(`${name}: ${column}[${at}] is ${array[at]}; only finite numbers can be stored.`);
      }
    }
    return { key: series.key, start: series.start, steps, values, times };
  });
}
