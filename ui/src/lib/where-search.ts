/**
 * The run table's search box reads either words to look for or a where
 * expression (src/contract/where.ts), and completes field names. Pure, so the
 * unit tests check what the box decides without a browser.
 */
import { parseWhere, type WhereExpression, WhereSyntaxError } from "../../../src/contract/where.js";

const RUN_FIELDS = ["name", "status", "tags", "group", "job_type", "created_at", "ended_at", "duration", "id"];

/**
 * Whether the box holds an expression rather than words: it has an operator
 * (= < > ~), starts with a field prefix, a parenthesis, NOT, a backquote or a
 * quoted value, or names a run field followed by a word operator.
 */
export function isWhereText(text: string): boolean {
  const trimmed = text.trim();
  if (/[=<>~]/.test(trimmed)) return true;
  if (/^(\(|`|"|'|not\s|config\.|metric\.)/i.test(trimmed)) return true;
  const field = RUN_FIELDS.join("|");
  return new RegExp(`^(${field})\\s+(in|not|between|glob|like|matches|exists)\\b`, "i").test(trimmed);
}

export type SearchQuery =
  | { kind: "text"; text: string }
  | { kind: "where"; where: WhereExpression }
  | { kind: "error"; column: number; message: string };

/** What the search box asks the table for. */
export function searchQuery(text: string): SearchQuery {
  if (!isWhereText(text)) return { kind: "text", text };
  try {
    return { kind: "where", where: parseWhere(text) };
  } catch (error) {
    if (error instanceof WhereSyntaxError) return { kind: "error", column: error.column, message: error.message };
    throw error;
  }
}

export interface Completion {
  /** Where the word being completed starts and ends in the text. */
  from: number;
  to: number;
  items: string[];
}

const WORD_CHAR = /[A-Za-z0-9_./\-:@+]/;
const MAX_COMPLETIONS = 8;

/**
 * Field names that complete the word at `caret` (prefix matches first, then
 * those containing it): the run fields, `config.<key>` and `metric.<key>` of
 * this experiment's keys. Null when the caret is not in a field position.
 */
export function completeField(
  text: string,
  caret: number,
  keys: { configKeys: readonly string[]; metricKeys: readonly string[] },
): Completion | null {
  let from = caret;
  while (from > 0 && WORD_CHAR.test(text[from - 1])) from--;
  let to = caret;
  while (to < text.length && WORD_CHAR.test(text[to])) to++;
  const word = text.slice(from, caret).toLowerCase();
  if (word === "" || /^[\d.-]/.test(word)) return null;
  // After an operator comes a value, not a field.
  if (/(=|<|>|~|\b(in|between|glob|like|matches)\s*\(?)\s*$/i.test(text.slice(0, from))) return null;
  const fields = [
    ...RUN_FIELDS,
    ...keys.configKeys.map((k) => `config.${k}`),
    ...keys.metricKeys.map((k) => `metric.${k}`),
  ];
  const starts = fields.filter((f) => f.toLowerCase().startsWith(word));
  const contains = fields.filter((f) => !f.toLowerCase().startsWith(word) && f.toLowerCase().includes(word));
  const items = [...starts, ...contains].filter((f) => f.toLowerCase() !== word).slice(0, MAX_COMPLETIONS);
  return items.length === 0 ? null : { from, to, items };
}
