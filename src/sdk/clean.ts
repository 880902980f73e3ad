/**
 * What the SDK stores of the text and config values it is given: every string
 * well-formed Unicode (a lone UTF-16 surrogate becomes U+FFFD, so the file is
 * valid UTF-8 for every reader) and every config the closest faithful JSON.
 */
import type { Config, JsonValue } from "../types.js";

/** Containers nested deeper than this (the config object is level 1) are stored as "[Too deep]", as in Python. */
export const MAX_CONFIG_DEPTH = 64;

/** Something a value had to be changed for; `kind` groups warnings (one per kind). */
export interface Repair {
  kind: string;
  message: string;
}

export type ReportRepair = (repair: Repair) => void;

/** Number of Unicode code points (a surrogate pair counts once). */
export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** `text` with every lone surrogate replaced by U+FFFD; reports the repair under `what` (e.g. "the run name"). */
export function wellFormed(text: string, what: string, report: ReportRepair): string {
  if (text.isWellFormed()) return text;
  const repaired = text.toWellFormed();
  report({
    kind: `text:${what}:${text}`,
    message: `${what} ${JSON.stringify(repaired)} is not valid Unicode text (it holds a lone UTF-16 surrogate, shown as U+FFFD); it is stored with U+FFFD in its place.`,
  });
  return repaired;
}

function nonFinite(value: number): string {
  if (Number.isNaN(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

/**
 * The config as JSON: JSON.stringify's rules (toJSON, undefined and functions
 * left out), plus BigInt as a number when exact (else its decimal string), Map
 * as an object, Set as an array, a cycle's repeated reference as "[Circular]",
 * nesting past MAX_CONFIG_DEPTH as "[Too deep]", non-finite numbers as "nan",
 * "inf", "-inf" (as the Python SDK stores them), text made well-formed.
 */
export function toConfigJson(config: Record<string, unknown>, report: ReportRepair): Config {
  const ancestors: object[] = [];

  const convert = (value: unknown, key: string, depth: number): JsonValue | undefined => {
    let current = value;
    if (
      typeof current === "object" &&
      current !== null &&
      typeof (current as { toJSON?: unknown }).toJSON === "function"
    ) {
      current = (current as { toJSON: (key: string) => unknown }).toJSON(key);
    }
    switch (typeof current) {
      case "string":
        return wellFormed(current, "a config value", report);
      case "number":
        if (Number.isFinite(current)) return current;
        report({
          kind: "config:non-finite",
          message: `config value ${current} is not a finite number; it is stored as the string "${nonFinite(current)}".`,
        });
        return nonFinite(current);
      case "boolean":
        return current;
      case "bigint": {
        const asNumber = Number(current);
        const exact = BigInt(asNumber) === current;
        report({
          kind: "config:bigint",
          message: `config holds a BigInt (${current}); JSON has no BigInt, so it is stored as ${exact ? "a number" : "a decimal string"}.`,
        });
        return exact ? asNumber : current.toString();
      }
      case "object":
        break;
      default:
        return undefined;
    }
    if (current === null) return null;
    if (current instanceof Number || current instanceof String || current instanceof Boolean) {
      return convert(current.valueOf(), key, depth);
    }
    if (ancestors.includes(current)) {
      report({
        kind: "config:cycle",
        message: 'config refers to itself (a cycle); the repeated reference is stored as "[Circular]".',
      });
      return "[Circular]";
    }
    if (depth > MAX_CONFIG_DEPTH) {
      report({
        kind: "config:depth",
        message: `config is nested deeper than ${MAX_CONFIG_DEPTH} levels; the deeper values are stored as "[Too deep]".`,
      });
      return "[Too deep]";
    }
    ancestors.push(current);
    try {
      if (Array.isArray(current)) return current.map((item, i) => convert(item, String(i), depth + 1) ?? null);
      if (current instanceof Set) {
        report({ kind: "config:set", message: "config holds a Set; it is stored as an array." });
        return [...current].map((item, i) => convert(item, String(i), depth + 1) ?? null);
      }
      const out: Config = {};
      const entries: [string, unknown][] =
        current instanceof Map
          ? [...current].map(([k, v]) => [String(k), v])
          : Object.keys(current).map((k) => [k, (current as Record<string, unknown>)[k]]);
      if (current instanceof Map)
        report({ kind: "config:map", message: "config holds a Map; it is stored as an object with string keys." });
      for (const [entryKey, entryValue] of entries) {
        const converted = convert(entryValue, entryKey, depth + 1);
        if (converted !== undefined) out[wellFormed(entryKey, "a config key", report)] = converted;
      }
      return out;
    } finally {
      ancestors.pop();
    }
  };

  return convert(config, "", 1) as Config;
}
