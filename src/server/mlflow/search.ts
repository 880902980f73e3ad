/**
 * The part of MLflow's search syntax a script uses in runs/search and
 * experiments/search: clauses `entity.key OP value` joined by AND, and
 * `order_by` entries `entity.key [ASC|DESC]`. Entities: metrics (the latest
 * value), params, tags, attributes (run_id, run_name, status, start_time,
 * end_time; an experiment's name). Anything else is refused with a message.
 */
import { ApiError } from "../errors.js";

export type Entity = "metrics" | "params" | "tags" | "attributes";
export type Operator = "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE";

export interface Clause {
  entity: Entity;
  key: string;
  op: Operator;
  value: string | number;
}

export interface OrderBy {
  entity: Entity;
  key: string;
  descending: boolean;
}

/** A run or experiment as a search sees it: each entity's values by key. */
export type Lookup = (entity: Entity, key: string) => string | number | null;

const ENTITIES: Record<string, Entity> = {
  metric: "metrics",
  metrics: "metrics",
  param: "params",
  params: "params",
  parameter: "params",
  parameters: "params",
  tag: "tags",
  tags: "tags",
  attribute: "attributes",
  attributes: "attributes",
  attr: "attributes",
  run: "attributes",
};

function invalid(message: string): ApiError {
  return new ApiError(400, "INVALID_PARAMETER_VALUE", message);
}

const TOKEN =
  /\s*(?:(`[^`]*`|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(!=|<=|>=|=|<|>)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])|([A-Za-z_][\w.:/-]*))/y;

interface Token {
  kind: "quoted" | "op" | "number" | "word";
  text: string;
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (match === null) throw invalid(`Cannot read the filter at character ${at + 1}: ${text.slice(at, at + 40)}`);
    if (match[1] !== undefined) out.push({ kind: "quoted", text: match[1] });
    else if (match[2] !== undefined) out.push({ kind: "op", text: match[2] });
    else if (match[3] !== undefined) out.push({ kind: "number", text: match[3] });
    else out.push({ kind: "word", text: match[4] as string });
  }
  return out;
}

function unquote(text: string): string {
  const body = text.slice(1, -1);
  return text.startsWith("`") ? body : body.replace(/\\(.)/g, "$1");
}

/** `metrics.loss`, `tags."a b"`, `params.`lr``, `status` (an attribute). */
function identifier(parts: Token[], what: string): { entity: Entity; key: string } {
  const first = parts[0];
  if (first === undefined || first.kind !== "word") throw invalid(`Expected a key in ${what}.`);
  const dot = first.text.indexOf(".");
  const prefix = dot < 0 ? null : ENTITIES[first.text.slice(0, dot).toLowerCase()];
  if (prefix === undefined || prefix === null) {
    if (parts.length > 1) throw invalid(`Cannot read ${what}.`);
    return { entity: "attributes", key: first.text };
  }
  const rest = first.text.slice(dot + 1);
  if (rest !== "") return { entity: prefix, key: rest };
  const quoted = parts[1];
  if (quoted?.kind !== "quoted") throw invalid(`Expected a key after ${first.text} in ${what}.`);
  return { entity: prefix, key: unquote(quoted.text) };
}

export function parseFilter(filter: string | undefined): Clause[] {
  if (filter === undefined || filter.trim() === "") return [];
  const all = tokens(filter);
  const clauses: Clause[] = [];
  let i = 0;
  while (i < all.length) {
    const start = i;
    while (i < all.length && !(all[i]?.kind === "op" || /^(i?like)$/i.test(all[i]?.text ?? ""))) i++;
    const { entity, key } = identifier(all.slice(start, i), `the filter "${filter.slice(0, 200)}"`);
    const opToken = all[i++];
    const valueToken = all[i++];
    if (opToken === undefined || valueToken === undefined || valueToken.kind === "op" || valueToken.kind === "word") {
      throw invalid(
        `Each clause of a filter is key OP value, e.g. metrics.loss < 0.5 or params.optimizer = 'adam'; got "${filter.slice(0, 200)}".`,
      );
    }
    const value = valueToken.kind === "number" ? Number(valueToken.text) : unquote(valueToken.text);
    clauses.push({ entity, key, op: opToken.text.toUpperCase() as Operator, value });
    if (i < all.length) {
      if (all[i]?.text.toUpperCase() !== "AND") {
        throw invalid(`Filters join clauses with AND only; got "${all[i]?.text ?? ""}".`);
      }
      i++;
    }
  }
  return clauses;
}

function likePattern(pattern: string, flags: string): RegExp {
  const body = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    .replace(/%/g, ".*")
    .replace(/_/g, ".");
  return new RegExp(`^${body}$`, `s${flags}`);
}

function holds(clause: Clause, actual: string | number | null): boolean {
  if (actual === null) return false;
  const { op, value } = clause;
  if (op === "LIKE" || op === "ILIKE")
    return likePattern(String(value), op === "ILIKE" ? "i" : "").test(String(actual));
  const left = typeof value === "number" && typeof actual === "string" ? Number(actual) : actual;
  const right = typeof actual === "number" && typeof value === "string" ? Number(value) : value;
  if (op === "=") return left === right;
  if (op === "!=") return left !== right;
  if (op === "<") return left < right;
  if (op === "<=") return left <= right;
  if (op === ">") return left > right;
  return left >= right;
}

export function matches(clauses: readonly Clause[], lookup: Lookup): boolean {
  return clauses.every((clause) => holds(clause, lookup(clause.entity, clause.key)));
}

export function parseOrderBy(orderBy: readonly string[] | undefined): OrderBy[] {
  return (orderBy ?? []).map((text) => {
    const parts = tokens(text);
    const last = parts.at(-1)?.text.toUpperCase();
    const direction = last === "ASC" || last === "DESC" ? parts.pop()?.text.toUpperCase() : "ASC";
    const { entity, key } = identifier(parts, `order_by "${text.slice(0, 200)}"`);
    return { entity, key, descending: direction === "DESC" };
  });
}

/** Compares two rows by the order_by entries; missing values go last whatever the direction. */
export function compareBy(order: readonly OrderBy[], a: Lookup, b: Lookup): number {
  for (const { entity, key, descending } of order) {
    const x = a(entity, key);
    const y = b(entity, key);
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    const sign = x < y ? -1 : 1;
    return descending ? -sign : sign;
  }
  return 0;
}

/** page_token: the offset of the next page, as MLflow's clients pass it back untouched. */
export function pageStart(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  const offset = Number(Buffer.from(token, "base64url").toString("utf8"));
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalid("page_token is not one this server gave.");
  return offset;
}

export function nextPageToken(offset: number, taken: number, total: number): string | undefined {
  return offset + taken < total ? Buffer.from(String(offset + taken), "utf8").toString("base64url") : undefined;
}
