import type { JsonValue } from "../api/types";

type JsonObject = { [key: string]: JsonValue };

export function isObject(value: JsonValue): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Dotted keys of a config: nested objects flattened, arrays kept as leaves (as the server does). */
function flattenConfig(config: JsonObject, prefix = "", out = new Map<string, JsonValue>()): Map<string, JsonValue> {
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isObject(value) && Object.keys(value).length > 0) flattenConfig(value, path, out);
    else out.set(path, value);
  }
  return out;
}

const flatCache = new WeakMap<JsonObject, Map<string, JsonValue>>();

/** A run's flattened config, computed once per config object. */
export function flatConfig(run: { config: JsonObject }): Map<string, JsonValue> {
  let flat = flatCache.get(run.config);
  if (!flat) {
    flat = flattenConfig(run.config);
    flatCache.set(run.config, flat);
  }
  return flat;
}

export function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
