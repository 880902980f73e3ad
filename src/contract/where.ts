/**
 * The query language of run tables (docs/query-language.md): one grammar and
 * one parser for the REST API's `?where=`, `stonks runs --where`,
 * `db.listRuns({ where })` and the dashboard's filter box. Pure and
 * browser-safe. python/stonks/_where.py is the same language for the Python
 * reader; tests/vectors/query/where-cases.json holds the cases both must agree on.
 *
 *   expr      := or
 *   or        := and ("OR" and)*
 *   and       := not ("AND" not)*
 *   not       := "NOT" not | "(" expr ")" | condition
 *   condition := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
 *              | field ["NOT"] "IN" "(" value ("," value)* ")"
 *              | field ["NOT"] "BETWEEN" value "AND" value
 *              | field ["NOT"] ("GLOB" | "LIKE" | "MATCHES" | "~") text
 *              | field "EXISTS"
 *              | value "IN" "tags"
 */
import { StonksError } from "../errors.js";
import type { JsonValue } from "../types.js";
import {
  type ComparisonOperator,
  compileConfigPath,
  currentDuration,
  DISPLAY_STATUSES,
  displayStatus,
  parseRunField,
  type RunField,
  resolveMetric,
  summaryStatReader,
  type TableRun,
} from "./run-table.js";

/** A mistake in a where expression, with the column (1-based, in characters) where it is. */
export class WhereSyntaxError extends StonksError {
  constructor(
    readonly column: number,
    readonly reason: string,
  ) {
    super(`at column ${column}: ${reason}`);
  }
}

export type WhereValue = string | number | boolean | null;
export type MatchMode = "glob" | "like" | "regex";

export type WhereExpression =
  | { kind: "and" | "or"; operands: WhereExpression[] }
  | { kind: "not"; operand: WhereExpression }
  | { kind: "compare"; field: RunField; operator: ComparisonOperator; value: WhereValue }
  | { kind: "in"; field: RunField; values: WhereValue[] }
  | { kind: "between"; field: RunField; low: number; high: number }
  | { kind: "match"; field: RunField; mode: MatchMode; pattern: string }
  | { kind: "exists"; field: RunField };

type TokenKind = "word" | "field" | "string" | "number" | "op" | "(" | ")" | "," | "end";

interface Token {
  kind: TokenKind;
  text: string;
  /** Index into the expression, in UTF-16 code units. */
  at: number;
  number?: number;
}

const KEYWORDS = new Set(["AND", "OR", "NOT", "IN", "BETWEEN", "GLOB", "LIKE", "MATCHES", "EXISTS"]);
const OPERATORS = ["<=", ">=", "!=", "<>", "==", "=", "<", ">", "~"];
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_/][A-Za-z0-9_./\-:@+]*/;
/** Text in a string that reads as a number equals that number (`config.seed = 42` finds "42"). */
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'" };

function columnOf(text: string, at: number): number {
  return [...text.slice(0, at)].length + 1;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (at: number, reason: string): never => {
    throw new WhereSyntaxError(columnOf(text, at), reason);
  };
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: c, text: c, at: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = "";
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\") {
          const escaped = ESCAPES[text[j + 1]];
          if (escaped === undefined) fail(j, `unknown escape "\\${text[j + 1] ?? ""}" (write \\\\ for a backslash)`);
          value += escaped;
          j += 2;
        } else value += text[j++];
      }
      if (j >= text.length) fail(i, `this string has no closing ${c}`);
      tokens.push({ kind: "string", text: value, at: i });
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end < 0) fail(i, "this field has no closing `");
      tokens.push({ kind: "field", text: text.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    const rest = text.slice(i);
    const number = NUMBER.exec(rest);
    if (number && (c !== "-" || /[\d.]/.test(rest[1] ?? ""))) {
      const after = rest[number[0].length];
      if (after !== undefined && /[A-Za-z_]/.test(after))
        fail(i, `"${rest.split(/[\s()<>=!~,]/)[0]}" is not a number: quote text`);
      tokens.push({ kind: "number", text: number[0], at: i, number: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const operator = OPERATORS.find((op) => rest.startsWith(op));
    if (operator !== undefined) {
      tokens.push({ kind: "op", text: operator === "==" ? "=" : operator === "<>" ? "!=" : operator, at: i });
      i += operator.length;
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      tokens.push({ kind: "word", text: word[0], at: i });
      i += word[0].length;
      continue;
    }
    fail(i, `unexpected "${c}"`);
  }
  tokens.push({ kind: "end", text: "", at: text.length });
  return tokens;
}

const TIME_FIELDS = new Set(["created_at", "ended_at"]);
const TEXT_FIELDS = new Set(["name", "status", "tags", "group", "job_type", "id"]);

/** Seconds since 1970 of an ISO date (`2026-01-31`, `2026-01-31T12:00`, with Z or ±hh:mm); UTC when no offset is given. */
export function isoDateSeconds(text: string): number | null {
  const m = ISO_DATE.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((p) => Number(p ?? 0));
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return null;
  }
  let offset = 0;
  if (m[8] !== undefined && m[8] !== "Z") {
    const sign = m[8][0] === "-" ? -1 : 1;
    offset = sign * (Number(m[8].slice(1, 3)) * 3600 + Number(m[8].slice(4, 6)) * 60);
  }
  return ms / 1000 + fraction - offset;
}

function fieldName(field: RunField): string {
  switch (field.kind) {
    case "config":
      return `config.${field.path}`;
    case "metric":
      return `metric.${field.key}`;
    default:
      return field.kind;
  }
}

/** Translates a GLOB (`*`, `?`, `[abc]`, `[!abc]`) or LIKE (`%`, `_`) pattern into a whole-text regular expression. */
export function patternSource(pattern: string, mode: "glob" | "like"): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (mode === "glob" && c === "*") out += "[\\s\\S]*";
    else if (mode === "glob" && c === "?") out += "[\\s\\S]";
    else if (mode === "like" && c === "%") out += "[\\s\\S]*";
    else if (mode === "like" && c === "_") out += "[\\s\\S]";
    else if (mode === "glob" && c === "[" && pattern.indexOf("]", i + 2) > 0) {
      const end = pattern.indexOf("]", i + 2);
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith("!") || body.startsWith("^");
      if (negated) body = body.slice(1);
      out += `[${negated ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  return `^(?:${out})$`;
}

class Parser {
  private index = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  parse(): WhereExpression {
    if (this.peek().kind === "end") this.fail(this.peek(), "the expression is empty");
    const expression = this.parseOr();
    const next = this.peek();
    if (next.kind !== "end") {
      this.fail(next, `expected AND, OR or the end of the expression, not ${this.describe(next)}`);
    }
    return expression;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index++;
    return token;
  }

  private isKeyword(token: Token, keyword: string): boolean {
    return token.kind === "word" && token.text.toUpperCase() === keyword;
  }

  private fail(token: Token, reason: string): never {
    throw new WhereSyntaxError(columnOf(this.text, token.at), reason);
  }

  private describe(token: Token): string {
    return token.kind === "end" ? "the end of the expression" : `"${token.text}"`;
  }

  private parseOr(): WhereExpression {
    const operands = [this.parseAnd()];
    while (this.isKeyword(this.peek(), "OR")) {
      this.next();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? operands[0] : { kind: "or", operands };
  }

  private parseAnd(): WhereExpression {
    const operands = [this.parseNot()];
    while (this.isKeyword(this.peek(), "AND")) {
      this.next();
      operands.push(this.parseNot());
    }
    return operands.length === 1 ? operands[0] : { kind: "and", operands };
  }

  private parseNot(): WhereExpression {
    const token = this.peek();
    if (this.isKeyword(token, "NOT")) {
      this.next();
      return { kind: "not", operand: this.parseNot() };
    }
    if (token.kind === "(") {
      this.next();
      const inner = this.parseOr();
      const close = this.peek();
      if (close.kind !== ")")
        this.fail(close, `expected ")" to close the "(" at column ${columnOf(this.text, token.at)}`);
      this.next();
      return inner;
    }
    return this.parseCondition();
  }

  private parseField(): { field: RunField; token: Token } {
    const token = this.peek();
    if (token.kind === "field" || (token.kind === "word" && !KEYWORDS.has(token.text.toUpperCase()))) {
      this.next();
      try {
        return { field: parseRunField(token.text), token };
      } catch (error) {
        if (error instanceof StonksError) this.fail(token, error.message);
        throw error;
      }
    }
    return this.fail(
      token,
      `expected a field (config.<key>, metric.<key>, name, status, tags…), not ${this.describe(token)}`,
    );
  }

  private parseCondition(): WhereExpression {
    const first = this.peek();
    if ((first.kind === "string" || first.kind === "number") && this.isKeyword(this.peek(1), "IN")) {
      const value = this.parseValue(undefined);
      this.next();
      const { field, token } = this.parseField();
      if (field.kind !== "tags")
        this.fail(
          token,
          `only tags holds several values: write ${fieldName(field)} = ${first.kind === "string" ? `"${value}"` : value}`,
        );
      this.requireText(field, first, value);
      return { kind: "compare", field, operator: "=", value };
    }
    const { field, token: fieldToken } = this.parseField();
    const operatorToken = this.peek();
    if (operatorToken.kind === "op") {
      this.next();
      if (operatorToken.text === "~") return this.parseMatch(field, "regex", operatorToken);
      const operator = operatorToken.text as ComparisonOperator;
      const valueToken = this.peek();
      const value = this.parseValue(operatorToken);
      if (operator === "=" || operator === "!=") {
        this.checkEquality(field, valueToken, value);
        return { kind: "compare", field, operator, value };
      }
      return { kind: "compare", field, operator, value: this.orderedValue(field, valueToken, value, operator) };
    }
    if (this.isKeyword(operatorToken, "EXISTS")) {
      this.next();
      return { kind: "exists", field };
    }
    let negated = false;
    if (this.isKeyword(operatorToken, "NOT")) {
      this.next();
      negated = true;
    }
    const condition = this.parseWordOperator(field, fieldToken);
    return negated ? { kind: "not", operand: condition } : condition;
  }

  private parseWordOperator(field: RunField, fieldToken: Token): WhereExpression {
    const token = this.peek();
    if (this.isKeyword(token, "IN")) {
      this.next();
      const open = this.peek();
      if (open.kind !== "(") this.fail(open, `expected "(" after IN, e.g. ${fieldName(field)} IN ("a", "b")`);
      this.next();
      const values: WhereValue[] = [];
      for (;;) {
        const valueToken = this.peek();
        const value = this.parseValue(values.length === 0 ? open : this.tokens[this.index - 1]);
        this.checkEquality(field, valueToken, value);
        values.push(value);
        const separator = this.next();
        if (separator.kind === ")") break;
        if (separator.kind !== ",")
          this.fail(separator, `expected "," or ")" in the IN list, not ${this.describe(separator)}`);
      }
      return { kind: "in", field, values };
    }
    if (this.isKeyword(token, "BETWEEN")) {
      this.next();
      const lowToken = this.peek();
      const low = this.orderedValue(field, lowToken, this.parseValue(token), "BETWEEN");
      const and = this.peek();
      if (!this.isKeyword(and, "AND"))
        this.fail(and, `expected AND in BETWEEN, e.g. ${fieldName(field)} BETWEEN 1 AND 10`);
      this.next();
      const highToken = this.peek();
      const high = this.orderedValue(field, highToken, this.parseValue(and), "BETWEEN");
      return { kind: "between", field, low, high };
    }
    if (this.isKeyword(token, "GLOB")) {
      this.next();
      return this.parseMatch(field, "glob", token);
    }
    if (this.isKeyword(token, "LIKE")) {
      this.next();
      return this.parseMatch(field, "like", token);
    }
    if (this.isKeyword(token, "MATCHES") || (token.kind === "op" && token.text === "~")) {
      this.next();
      return this.parseMatch(field, "regex", token);
    }
    return this.fail(
      token,
      `expected an operator after ${fieldToken.kind === "field" ? `\`${fieldToken.text}\`` : fieldToken.text} (=, !=, <, <=, >, >=, IN, BETWEEN, GLOB, LIKE, MATCHES, ~ or EXISTS), not ${this.describe(token)}`,
    );
  }

  private parseMatch(field: RunField, mode: MatchMode, operator: Token): WhereExpression {
    const token = this.peek();
    if (token.kind !== "string" && !(token.kind === "word" && !KEYWORDS.has(token.text.toUpperCase()))) {
      this.fail(token, `expected a quoted pattern after ${operator.text.toUpperCase()}`);
    }
    this.next();
    if (mode === "regex") {
      try {
        new RegExp(token.text);
      } catch (error) {
        this.fail(
          token,
          `not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}`,
        );
      }
    }
    return { kind: "match", field, mode, pattern: token.text };
  }

  /** A value token; `after` names what it follows, for the message when it is missing. */
  private parseValue(after: Token | undefined): WhereValue {
    const token = this.peek();
    if (token.kind === "number") {
      this.next();
      return token.number as number;
    }
    if (token.kind === "string") {
      this.next();
      return token.text;
    }
    if (token.kind === "word" && !KEYWORDS.has(token.text.toUpperCase())) {
      this.next();
      const lower = token.text.toLowerCase();
      if (lower === "true") return true;
      if (lower === "false") return false;
      if (lower === "null") return null;
      return token.text;
    }
    const where = after === undefined ? "" : ` after "${after.text.toUpperCase()}"`;
    return this.fail(token, `expected a value${where}, not ${this.describe(token)}`);
  }

  private requireText(field: RunField, token: Token, value: WhereValue): void {
    if (field.kind === "tags" && typeof value !== "string") {
      this.fail(token, `tags are text: quote the value, e.g. tags = "${value}"`);
    }
  }

  private checkEquality(field: RunField, token: Token, value: WhereValue): void {
    if (value === null) return;
    this.requireText(field, token, value);
    if (field.kind === "status" && !DISPLAY_STATUSES.includes(value as never)) {
      this.fail(token, `status is one of ${DISPLAY_STATUSES.join(", ")}; got ${JSON.stringify(value)}`);
    }
  }

  private orderedValue(field: RunField, token: Token, value: WhereValue, operator: string): number {
    if (TEXT_FIELDS.has(field.kind)) {
      this.fail(token, `${fieldName(field)} is text: compare it with =, !=, IN, GLOB, LIKE or MATCHES`);
    }
    if (typeof value === "number") return value;
    if (TIME_FIELDS.has(field.kind) && typeof value === "string") {
      const seconds = isoDateSeconds(value);
      if (seconds !== null) return seconds;
      this.fail(
        token,
        `${field.kind} compares with Unix seconds or a date like "2026-01-31" or "2026-01-31T12:00:00Z"`,
      );
    }
    return this.fail(
      token,
      `${operator} compares numbers only; got ${value === null ? "null" : JSON.stringify(value)}`,
    );
  }
}

/** Parses a where expression; WhereSyntaxError (with its column) when it cannot be read. */
export function parseWhere(text: string): WhereExpression {
  return new Parser(text, tokenize(text)).parse();
}

/** Every expression must hold: what `?where=a&where=b` means. */
export function allOf(expressions: readonly WhereExpression[]): WhereExpression | undefined {
  if (expressions.length <= 1) return expressions[0];
  return { kind: "and", operands: [...expressions] };
}

type Actual = JsonValue | undefined;

function isDecimal(text: string): boolean {
  return DECIMAL.test(text);
}

/** Whether a run's value equals a literal: numbers by value (also text that reads as one), booleans also as 1 and 0. */
export function valuesEqual(actual: Actual, expected: WhereValue): boolean {
  if (actual === undefined || actual === null || expected === null) return false;
  if (typeof expected === "boolean") {
    return actual === expected || (typeof actual === "number" && actual === (expected ? 1 : 0));
  }
  if (typeof expected === "number") {
    if (typeof actual === "number") return actual === expected;
    if (typeof actual === "boolean") return (actual ? 1 : 0) === expected;
    return typeof actual === "string" && isDecimal(actual) && Number(actual) === expected;
  }
  if (typeof actual === "string") return actual === expected;
  return typeof actual === "number" && isDecimal(expected) && Number(expected) === actual;
}

function numberOf(actual: Actual): number | undefined {
  if (typeof actual === "number") return actual;
  if (typeof actual === "boolean") return actual ? 1 : 0;
  return undefined;
}

function present(actual: Actual): boolean {
  return actual !== undefined && actual !== null;
}

type Reader<R> = (run: R) => Actual;

/** A field whose values do not move with the clock: what WhereColumns keeps (status and duration do move, for live runs). */
type ColumnField =
  | Extract<RunField, { kind: "config" | "metric" }>
  | { kind: "created_at" | "ended_at" | "name" | "id" | "group" | "job_type" };

const COLUMN_FIELDS = new Set<RunField["kind"]>([
  "config",
  "metric",
  "created_at",
  "ended_at",
  "name",
  "id",
  "group",
  "job_type",
]);

function isColumnField(field: RunField): field is ColumnField {
  return COLUMN_FIELDS.has(field.kind);
}

/** How to read a field from these runs, and a name for what it reads (the same name, the same values). */
function columnReader<R extends TableRun>(runs: readonly R[], field: ColumnField): { column: string; read: Reader<R> } {
  switch (field.kind) {
    case "config": {
      const read = compileConfigPath(field.path);
      return { column: `config ${field.path}`, read: (run) => read(run.config) };
    }
    case "metric": {
      const { key, stat } = resolveMetric(runs, field);
      return { column: `metric ${stat} ${key}`, read: summaryStatReader(key, stat) };
    }
    case "created_at":
      return { column: field.kind, read: (run) => run.createdAt };
    case "ended_at":
      return { column: field.kind, read: (run) => run.endedAt };
    case "name":
      return { column: field.kind, read: (run) => run.name };
    case "id":
      return { column: field.kind, read: (run) => run.id };
    case "group":
      return { column: field.kind, read: (run) => run.group };
    case "job_type":
      return { column: field.kind, read: (run) => run.jobType };
  }
}

/** Values a WhereColumns keeps, over all its columns, unless MIN_COLUMNS of its runs are more; beyond, it starts again. */
const MAX_KEPT_VALUES = 500_000;
const MIN_COLUMNS = 8;
/** How many runs per distinct value, at least, make testing distinct values first worth it. */
const MIN_REPEATS = 4;

/**
 * Values of one list of runs, read at the first condition on their field and
 * kept for the queries that follow, for as long as the holder keeps the list
 * the same: the same runs, unchanged, in the same order. Reading a key out of
 * each run's config or summaries is most of what a condition costs; kept per
 * field, not per expression, so a new threshold on a known field reads nothing.
 */
export class WhereColumns<R extends TableRun> {
  private readonly values = new Map<string, readonly Actual[]>();
  /** Each value as a number (booleans as 1 and 0), NaN where it is none: what <, <=, >, >= and BETWEEN compare. */
  private readonly numbers = new Map<string, Float64Array>();
  /** null: too many distinct values to be worth it. */
  private readonly distinct = new Map<string, { distinct: readonly Actual[]; codes: Uint32Array } | null>();

  private kept = 0;

  constructor(readonly runs: readonly R[]) {}

  /** Makes room for one more column: past the limit every column goes (a query holds on to the ones it has). */
  private makeRoom(): void {
    this.kept += this.runs.length;
    if (this.kept <= Math.max(MAX_KEPT_VALUES, MIN_COLUMNS * this.runs.length)) return;
    this.values.clear();
    this.numbers.clear();
    this.distinct.clear();
    this.kept = this.runs.length;
  }

  valuesOf(column: string, read: Reader<R>): readonly Actual[] {
    let values = this.values.get(column);
    if (values === undefined) {
      values = this.runs.map((run) => read(run));
      this.makeRoom();
      this.values.set(column, values);
    }
    return values;
  }

  /**
   * The column as its distinct values and each run's index into them, so a
   * test runs once per distinct value; undefined when most values differ
   * (then testing each run is as cheap).
   */
  distinctOf(column: string, read: Reader<R>): { distinct: readonly Actual[]; codes: Uint32Array } | undefined {
    let encoded = this.distinct.get(column);
    if (encoded === undefined) {
      const values = this.valuesOf(column, read);
      const codeOf = new Map<Actual, number>();
      const codes = new Uint32Array(values.length);
      for (let i = 0; i < values.length && codeOf.size <= values.length / MIN_REPEATS; i++) {
        let code = codeOf.get(values[i]);
        if (code === undefined) {
          code = codeOf.size;
          codeOf.set(values[i], code);
        }
        codes[i] = code;
      }
      encoded = codeOf.size > values.length / MIN_REPEATS ? null : { distinct: [...codeOf.keys()], codes };
      if (encoded !== null) this.makeRoom();
      this.distinct.set(column, encoded);
    }
    return encoded ?? undefined;
  }

  numbersOf(column: string, read: Reader<R>): Float64Array {
    let numbers = this.numbers.get(column);
    if (numbers === undefined) {
      numbers = Float64Array.from(this.valuesOf(column, read), (value) => numberOf(value) ?? Number.NaN);
      this.makeRoom();
      this.numbers.set(column, numbers);
    }
    return numbers;
  }
}

function compileMatch(mode: MatchMode, pattern: string): (text: string) => boolean {
  const regex =
    mode === "regex" ? new RegExp(pattern) : new RegExp(patternSource(pattern, mode), mode === "like" ? "i" : "");
  return (text) => regex.test(text);
}

/** Whether a run passes; `index` is its place in the runs the test was compiled for. */
type RunTest<R> = (run: R, index: number) => boolean;

function allHold<R>(parts: RunTest<R>[]): RunTest<R> {
  if (parts.length === 2) {
    const [first, second] = parts;
    return (run, index) => first(run, index) && second(run, index);
  }
  return (run, index) => {
    for (const part of parts) if (!part(run, index)) return false;
    return true;
  };
}

function anyHolds<R>(parts: RunTest<R>[]): RunTest<R> {
  if (parts.length === 2) {
    const [first, second] = parts;
    return (run, index) => first(run, index) || second(run, index);
  }
  return (run, index) => {
    for (const part of parts) if (part(run, index)) return true;
    return false;
  };
}

/**
 * The expression as a test of one run, its fields resolved against these runs
 * (a metric's `.min` suffix means the statistic unless no run logged the base key)
 * and durations as of `now`. A condition on a field a run lacks is false; NOT
 * turns it true. `tags` holds several values: a condition on it holds when it
 * holds for one of the run's tags (`!=`: for none of them). With `columns` of
 * these same runs, the test reads the values of fields that do not move with
 * the clock from them, so it must be given each run with its index in `runs`.
 */
export function compileWhere<R extends TableRun>(
  expression: WhereExpression,
  runs: readonly R[],
  now: number,
  columns?: WhereColumns<R>,
): RunTest<R> {
  const kept = columns?.runs === runs ? columns : undefined;
  switch (expression.kind) {
    case "and":
      return allHold(expression.operands.map((e) => compileWhere(e, runs, now, kept)));
    case "or":
      return anyHolds(expression.operands.map((e) => compileWhere(e, runs, now, kept)));
    case "not": {
      const inner = compileWhere(expression.operand, runs, now, kept);
      return (run, index) => !inner(run, index);
    }
    default:
      return compileCondition(expression, runs, now, kept);
  }
}

type Condition = Exclude<WhereExpression, { kind: "and" | "or" | "not" }>;

function compileCondition<R extends TableRun>(
  condition: Condition,
  runs: readonly R[],
  now: number,
  columns: WhereColumns<R> | undefined,
): RunTest<R> {
  const field = condition.field;
  if (isColumnField(field)) {
    const source = columnReader(runs, field);
    if (columns !== undefined) return columnTest(condition, source, columns);
    const test = valueTest(condition);
    const read = source.read;
    return (run) => test(read(run));
  }
  const test = valueTest(condition);
  if (field.kind === "status") return (run) => test(displayStatus(run));
  if (field.kind === "duration") return (run) => test(currentDuration(run, now));
  if (condition.kind === "exists") return (run) => run.tags.length > 0;
  if (condition.kind === "compare" && condition.value === null) {
    return condition.operator === "=" ? (run) => run.tags.length === 0 : (run) => run.tags.length > 0;
  }
  if (condition.kind === "compare" && condition.operator === "!=") {
    const value = condition.value;
    return (run) => {
      for (const tag of run.tags) if (valuesEqual(tag, value)) return false;
      return true;
    };
  }
  return (run) => {
    for (const tag of run.tags) if (test(tag)) return true;
    return false;
  };
}

/** A condition on a kept column; a missing value is NaN among numbers, which no comparison holds for. */
function columnTest<R extends TableRun>(
  condition: Condition,
  { column, read }: { column: string; read: Reader<R> },
  columns: WhereColumns<R>,
): RunTest<R> {
  if (condition.kind === "between") {
    const numbers = columns.numbersOf(column, read);
    const { low, high } = condition;
    return (_run, index) => numbers[index] >= low && numbers[index] <= high;
  }
  if (condition.kind === "compare" && condition.value !== null) {
    const limit = condition.value as number;
    switch (condition.operator) {
      case "<": {
        const numbers = columns.numbersOf(column, read);
        return (_run, index) => numbers[index] < limit;
      }
      case "<=": {
        const numbers = columns.numbersOf(column, read);
        return (_run, index) => numbers[index] <= limit;
      }
      case ">": {
        const numbers = columns.numbersOf(column, read);
        return (_run, index) => numbers[index] > limit;
      }
      case ">=": {
        const numbers = columns.numbersOf(column, read);
        return (_run, index) => numbers[index] >= limit;
      }
    }
  }
  const test = valueTest(condition);
  const encoded = columns.distinctOf(column, read);
  if (encoded !== undefined) {
    const holds = Uint8Array.from(encoded.distinct, (value) => (test(value) ? 1 : 0));
    const codes = encoded.codes;
    return (_run, index) => holds[codes[index]] === 1;
  }
  const values = columns.valuesOf(column, read);
  return (_run, index) => test(values[index]);
}

function valueTest(condition: Condition): (actual: Actual) => boolean {
  switch (condition.kind) {
    case "exists":
      return present;
    case "in": {
      const values = condition.values;
      return (actual) => {
        for (const value of values) if (value === null ? !present(actual) : valuesEqual(actual, value)) return true;
        return false;
      };
    }
    case "between": {
      const { low, high } = condition;
      return (actual) => {
        const n = numberOf(actual);
        return n !== undefined && n >= low && n <= high;
      };
    }
    case "match": {
      const matches = compileMatch(condition.mode, condition.pattern);
      return (actual) => typeof actual === "string" && matches(actual);
    }
    case "compare":
      return compareTest(condition.operator, condition.value);
  }
}

function compareTest(operator: ComparisonOperator, expected: WhereValue): (actual: Actual) => boolean {
  if (expected === null) {
    return operator === "=" ? (actual) => !present(actual) : present;
  }
  switch (operator) {
    case "=":
      return (actual) => valuesEqual(actual, expected);
    case "!=":
      return (actual) => present(actual) && !valuesEqual(actual, expected);
    default: {
      const limit = expected as number;
      const ordered = ORDERED[operator];
      return (actual) => {
        const n = numberOf(actual);
        return n !== undefined && ordered(n, limit);
      };
    }
  }
}

const ORDERED: Record<"<" | "<=" | ">" | ">=", (a: number, b: number) => boolean> = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
};

/** The runs an expression keeps, in the order given. */
export function filterWhere<R extends TableRun>(runs: readonly R[], expression: WhereExpression, now: number): R[] {
  const keep = compileWhere(expression, runs, now);
  return runs.filter(keep);
}
