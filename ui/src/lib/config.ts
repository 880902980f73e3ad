import type { JsonValue } from "../api/types";

type JsonObject = { [key: string]: JsonValue };

function isObject(value: JsonValue): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Dotted keys of a config: nested objects flattened, arrays kept as leaves (as the server does). */
export function flattenConfig(
  config: JsonObject,
  prefix = "",
  out = new Map<string, JsonValue>(),
): Map<string, JsonValue> {
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isObject(value) && Object.keys(value).length > 0) flattenConfig(value, path, out);
    else out.set(path, value);
  }
  return out;
}

export function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

export { isObject };
