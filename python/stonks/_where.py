"""The where language of run queries (docs/query-language.md) for ``Database.list_runs(where=...)``.

The same grammar and meaning as the TypeScript parser (src/contract/where.ts); both check
tests/vectors/query/where-cases.json. Imported only when a query has a ``where``.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ._errors import StonksError

DISPLAY_STATUSES = ("running", "stale", "completed", "failed", "interrupted")
_KEYWORDS = frozenset(["AND", "OR", "NOT", "IN", "BETWEEN", "GLOB", "LIKE", "MATCHES", "EXISTS"])
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">", "~")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WORD = re.compile(r"[A-Za-z_/][A-Za-z0-9_./\-:@+]*")
_DECIMAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})?)?", re.ASCII
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
_SIMPLE_FIELDS = frozenset(["created_at", "ended_at", "name", "status", "duration", "tags", "group", "job_type", "id"])
_TIME_FIELDS = frozenset(["created_at", "ended_at"])
_TEXT_FIELDS = frozenset(["name", "status", "tags", "group", "job_type", "id"])
_STAT_SUFFIX = re.compile(r"\.(last|min|max)$")

Value = Union[str, float, bool, None]


class WhereSyntaxError(StonksError):
    """A where expression that cannot be read; ``column`` (1-based, in characters) is where the mistake is."""

    def __init__(self, column: int, reason: str) -> None:
        super().__init__(f"at column {column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Field:
    kind: str
    #: The config path or the metric key as written.
    key: str = ""
    #: For metrics ending in .last/.min/.max: that statistic.
    stat: str | None = None

    def label(self) -> str:
        if self.kind == "config":
            return f"config.{self.key}"
        if self.kind == "metric":
            return f"metric.{self.key}"
        return self.kind


@dataclass(frozen=True)
class Expression:
    """A node of a parsed expression; ``kind`` says which of the other fields it uses."""

    kind: str
    operands: tuple[Expression, ...] = ()
    field: Field | None = None
    operator: str = ""
    values: tuple[Value, ...] = ()
    mode: str = ""


@dataclass
class WhereRun:
    """What the language reads of a run (the run table's fields)."""

    id: str
    name: str | None
    status: str
    stale: bool
    created_at: float
    ended_at: float | None
    duration: float | None
    tags: Sequence[str]
    group: str | None
    job_type: str | None
    config: dict[str, Any]
    #: Metric key -> {"last", "min", "max"}.
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass
class _Token:
    kind: str
    text: str
    at: int
    number: float = 0.0


def parse_field(text: str) -> Field:
    if text in _SIMPLE_FIELDS:
        return Field(text)
    if text.startswith("config.") and len(text) > len("config."):
        return Field("config", text[len("config.") :])
    if text.startswith("metric.") and len(text) > len("metric."):
        rest = text[len("metric.") :]
        suffix = _STAT_SUFFIX.search(rest)
        if suffix and suffix.start() > 0:
            return Field("metric", rest, suffix.group(1))
        return Field("metric", rest)
    raise StonksError(
        f'Unknown field "{text}": use created_at, ended_at, name, id, status, duration, tags, group, job_type, '
        "config.<key> or metric.<key>[.last|.min|.max]."
    )


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "(),":
            tokens.append(_Token(c, c, i))
            i += 1
            continue
        if c in "\"'":
            value = []
            j = i + 1
            while j < len(text) and text[j] != c:
                if text[j] == "\\":
                    nxt = text[j + 1] if j + 1 < len(text) else ""
                    if nxt not in _ESCAPES:
                        raise WhereSyntaxError(j + 1, f'unknown escape "\\{nxt}" (write \\\\ for a backslash)')
                    value.append(_ESCAPES[nxt])
                    j += 2
                else:
                    value.append(text[j])
                    j += 1
            if j >= len(text):
                raise WhereSyntaxError(i + 1, f"this string has no closing {c}")
            tokens.append(_Token("string", "".join(value), i))
            i = j + 1
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise WhereSyntaxError(i + 1, "this field has no closing `")
            tokens.append(_Token("field", text[i + 1 : end], i))
            i = end + 1
            continue
        number = _NUMBER.match(text, i)
        if number and (c != "-" or (i + 1 < len(text) and text[i + 1] in "0123456789.")):
            after = number.end()
            if after < len(text) and (text[after].isascii() and (text[after].isalpha() or text[after] == "_")):
                word = re.split(r"[\s()<>=!~,]", text[i:])[0]
                raise WhereSyntaxError(i + 1, f'"{word}" is not a number: quote text')
            tokens.append(_Token("number", number.group(0), i, float(number.group(0))))
            i = after
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            canonical = "=" if operator == "==" else "!=" if operator == "<>" else operator
            tokens.append(_Token("op", canonical, i))
            i += len(operator)
            continue
        word_match = _WORD.match(text, i)
        if word_match:
            tokens.append(_Token("word", word_match.group(0), i))
            i = word_match.end()
            continue
        raise WhereSyntaxError(i + 1, f'unexpected "{c}"')
    tokens.append(_Token("end", "", len(text)))
    return tokens


def iso_date_seconds(text: str) -> float | None:
    """Seconds since 1970 of an ISO date; UTC unless it carries an offset."""
    m = _ISO_DATE.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour, minute, second = (int(m.group(g) or 0) for g in (4, 5, 6))
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = float(f"0.{m.group(7)}") if m.group(7) else 0.0
    zone = m.group(8)
    offset = 0
    if zone is not None and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds + fraction - offset


def pattern_source(pattern: str, mode: str) -> str:
    """A GLOB or LIKE pattern as a whole-text regular expression (as src/contract/where.ts writes it)."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if (mode == "glob" and c == "*") or (mode == "like" and c == "%"):
            out.append(r"[\s\S]*")
        elif (mode == "glob" and c == "?") or (mode == "like" and c == "_"):
            out.append(r"[\s\S]")
        elif mode == "glob" and c == "[" and pattern.find("]", i + 2) > 0:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            negated = body.startswith(("!", "^"))
            if negated:
                body = body[1:]
            out.append("[" + ("^" if negated else "") + re.sub(r"[\\\]^]", lambda m: "\\" + m.group(0), body) + "]")
            i = end
        else:
            out.append(re.sub(r"[.*+?^${}()|\[\]\\/-]", lambda m: "\\" + m.group(0), c))
        i += 1
    return "^(?:" + "".join(out) + ")$"


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def parse(self) -> Expression:
        if self.peek().kind == "end":
            self.fail(self.peek(), "the expression is empty")
        expression = self.parse_or()
        nxt = self.peek()
        if nxt.kind != "end":
            self.fail(nxt, f"expected AND, OR or the end of the expression, not {self.describe(nxt)}")
        return expression

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.peek()
        if token.kind != "end":
            self.index += 1
        return token

    @staticmethod
    def is_keyword(token: _Token, keyword: str) -> bool:
        return token.kind == "word" and token.text.upper() == keyword

    def fail(self, token: _Token, reason: str) -> Any:
        raise WhereSyntaxError(token.at + 1, reason)

    @staticmethod
    def describe(token: _Token) -> str:
        return "the end of the expression" if token.kind == "end" else f'"{token.text}"'

    def parse_or(self) -> Expression:
        operands = [self.parse_and()]
        while self.is_keyword(self.peek(), "OR"):
            self.next()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Expression("or", tuple(operands))

    def parse_and(self) -> Expression:
        operands = [self.parse_not()]
        while self.is_keyword(self.peek(), "AND"):
            self.next()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else Expression("and", tuple(operands))

    def parse_not(self) -> Expression:
        token = self.peek()
        if self.is_keyword(token, "NOT"):
            self.next()
            return Expression("not", (self.parse_not(),))
        if token.kind == "(":
            self.next()
            inner = self.parse_or()
            close = self.peek()
            if close.kind != ")":
                self.fail(close, f'expected ")" to close the "(" at column {token.at + 1}')
            self.next()
            return inner
        return self.parse_condition()

    def parse_field(self) -> tuple[Field, _Token]:
        token = self.peek()
        if token.kind == "field" or (token.kind == "word" and token.text.upper() not in _KEYWORDS):
            self.next()
            try:
                return parse_field(token.text), token
            except StonksError as error:
                self.fail(token, str(error))
        return self.fail(  # type: ignore[no-any-return]
            token, f"expected a field (config.<key>, metric.<key>, name, status, tags…), not {self.describe(token)}"
        )

    def parse_condition(self) -> Expression:
        first = self.peek()
        if first.kind in ("string", "number") and self.is_keyword(self.peek(1), "IN"):
            value = self.parse_value(None)
            self.next()
            fld, token = self.parse_field()
            if fld.kind != "tags":
                shown = f'"{value}"' if first.kind == "string" else first.text
                self.fail(token, f"only tags holds several values: write {fld.label()} = {shown}")
            self.require_text(fld, first, value)
            return Expression("compare", field=fld, operator="=", values=(value,))
        fld, field_token = self.parse_field()
        operator_token = self.peek()
        if operator_token.kind == "op":
            self.next()
            if operator_token.text == "~":
                return self.parse_match(fld, "regex", operator_token)
            value_token = self.peek()
            value = self.parse_value(operator_token)
            if operator_token.text in ("=", "!="):
                self.check_equality(fld, value_token, value)
                return Expression("compare", field=fld, operator=operator_token.text, values=(value,))
            limit = self.ordered_value(fld, value_token, value, operator_token.text)
            return Expression("compare", field=fld, operator=operator_token.text, values=(limit,))
        if self.is_keyword(operator_token, "EXISTS"):
            self.next()
            return Expression("exists", field=fld)
        negated = False
        if self.is_keyword(operator_token, "NOT"):
            self.next()
            negated = True
        condition = self.parse_word_operator(fld, field_token)
        return Expression("not", (condition,)) if negated else condition

    def parse_word_operator(self, fld: Field, field_token: _Token) -> Expression:
        token = self.peek()
        if self.is_keyword(token, "IN"):
            self.next()
            opening = self.peek()
            if opening.kind != "(":
                self.fail(opening, f'expected "(" after IN, e.g. {fld.label()} IN ("a", "b")')
            self.next()
            values: list[Value] = []
            while True:
                value_token = self.peek()
                value = self.parse_value(opening if not values else self.tokens[self.index - 1])
                self.check_equality(fld, value_token, value)
                values.append(value)
                separator = self.next()
                if separator.kind == ")":
                    break
                if separator.kind != ",":
                    self.fail(separator, f'expected "," or ")" in the IN list, not {self.describe(separator)}')
            return Expression("in", field=fld, values=tuple(values))
        if self.is_keyword(token, "BETWEEN"):
            self.next()
            low_token = self.peek()
            low = self.ordered_value(fld, low_token, self.parse_value(token), "BETWEEN")
            conjunction = self.peek()
            if not self.is_keyword(conjunction, "AND"):
                self.fail(conjunction, f"expected AND in BETWEEN, e.g. {fld.label()} BETWEEN 1 AND 10")
            self.next()
            high_token = self.peek()
            high = self.ordered_value(fld, high_token, self.parse_value(conjunction), "BETWEEN")
            return Expression("between", field=fld, values=(low, high))
        if self.is_keyword(token, "GLOB"):
            self.next()
            return self.parse_match(fld, "glob", token)
        if self.is_keyword(token, "LIKE"):
            self.next()
            return self.parse_match(fld, "like", token)
        if self.is_keyword(token, "MATCHES") or (token.kind == "op" and token.text == "~"):
            self.next()
            return self.parse_match(fld, "regex", token)
        name = f"`{field_token.text}`" if field_token.kind == "field" else field_token.text
        return self.fail(  # type: ignore[no-any-return]
            token,
            f"expected an operator after {name} (=, !=, <, <=, >, >=, IN, BETWEEN, GLOB, LIKE, MATCHES, ~ or EXISTS), "
            f"not {self.describe(token)}",
        )

    def parse_match(self, fld: Field, mode: str, operator: _Token) -> Expression:
        token = self.peek()
        if token.kind != "string" and not (token.kind == "word" and token.text.upper() not in _KEYWORDS):
            self.fail(token, f"expected a quoted pattern after {operator.text.upper()}")
        self.next()
        if mode == "regex":
            try:
                re.compile(token.text, re.ASCII)
            except re.error as error:
                self.fail(token, f"not a regular expression: {error}")
        return Expression("match", field=fld, mode=mode, values=(token.text,))

    def parse_value(self, after: _Token | None) -> Value:
        token = self.peek()
        if token.kind == "number":
            self.next()
            return token.number
        if token.kind == "string":
            self.next()
            return token.text
        if token.kind == "word" and token.text.upper() not in _KEYWORDS:
            self.next()
            lower = token.text.lower()
            if lower == "true":
                return True
            if lower == "false":
                return False
            if lower == "null":
                return None
            return token.text
        where = "" if after is None else f' after "{after.text.upper()}"'
        return self.fail(token, f"expected a value{where}, not {self.describe(token)}")  # type: ignore[no-any-return]

    def require_text(self, fld: Field, token: _Token, value: Value) -> None:
        if fld.kind == "tags" and not isinstance(value, str):
            shown = token.text if token.kind == "number" else str(value)
            self.fail(token, f'tags are text: quote the value, e.g. tags = "{shown}"')

    def check_equality(self, fld: Field, token: _Token, value: Value) -> None:
        if value is None:
            return
        self.require_text(fld, token, value)
        if fld.kind == "status" and value not in DISPLAY_STATUSES:
            self.fail(token, f"status is one of {', '.join(DISPLAY_STATUSES)}; got {json.dumps(value)}")

    def ordered_value(self, fld: Field, token: _Token, value: Value, operator: str) -> float:
        if fld.kind in _TEXT_FIELDS:
            self.fail(token, f"{fld.label()} is text: compare it with =, !=, IN, GLOB, LIKE or MATCHES")
        if isinstance(value, float):
            return value
        if fld.kind in _TIME_FIELDS and isinstance(value, str):
            seconds = iso_date_seconds(value)
            if seconds is not None:
                return seconds
            self.fail(
                token, f'{fld.kind} compares with Unix seconds or a date like "2026-01-31" or "2026-01-31T12:00:00Z"'
            )
        shown = json.dumps(value)
        return self.fail(token, f"{operator} compares numbers only; got {shown}")  # type: ignore[no-any-return]


def parse_where(text: str) -> Expression:
    """Parses a where expression; WhereSyntaxError (with its column) when it cannot be read."""
    return _Parser(text, _tokenize(text)).parse()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_equal(actual: Any, expected: Value) -> bool:
    """Numbers by value (also text that reads as one), booleans also as 1 and 0."""
    if actual is None or expected is None:
        return False
    if isinstance(expected, bool):
        return actual is expected or (_is_number(actual) and actual == (1 if expected else 0))
    if isinstance(expected, float):
        if _is_number(actual):
            return bool(actual == expected)
        if isinstance(actual, bool):
            return (1 if actual else 0) == expected
        return isinstance(actual, str) and _DECIMAL.fullmatch(actual) is not None and float(actual) == expected
    if isinstance(actual, str):
        return actual == expected
    return _is_number(actual) and _DECIMAL.fullmatch(expected) is not None and float(expected) == actual


def _number_of(actual: Any) -> float | None:
    if isinstance(actual, bool):
        return 1.0 if actual else 0.0
    if _is_number(actual):
        return float(actual)
    return None


def display_status(run: WhereRun) -> str:
    return "stale" if run.status == "running" and run.stale else run.status


def current_duration(run: WhereRun, now: float) -> float | None:
    if run.ended_at is not None:
        return max(0.0, run.ended_at - run.created_at)
    if run.status == "running" and not run.stale:
        return max(run.duration or 0.0, now - run.created_at)
    return run.duration


def config_value(config: dict[str, Any], path: str) -> Any:
    """A config value by dotted path, keys that contain dots included; ``_MISSING`` when absent."""
    if path in config:
        return config[path]
    dot = path.find(".")
    while dot > 0:
        inner = config.get(path[:dot], _MISSING)
        if isinstance(inner, dict):
            found = config_value(inner, path[dot + 1 :])
            if found is not _MISSING:
                return found
        dot = path.find(".", dot + 1)
    return _MISSING


_MISSING: Any = object()


def _present(actual: Any) -> bool:
    return actual is not None and actual is not _MISSING


Reader = Callable[[WhereRun], Any]


def _reader(runs: Sequence[WhereRun], fld: Field, now: float) -> Reader:
    simple: dict[str, Reader] = {
        "created_at": lambda run: run.created_at,
        "ended_at": lambda run: run.ended_at,
        "name": lambda run: run.name,
        "id": lambda run: run.id,
        "status": display_status,
        "duration": lambda run: current_duration(run, now),
        "group": lambda run: run.group,
        "job_type": lambda run: run.job_type,
        "tags": lambda run: list(run.tags),
    }
    if fld.kind in simple:
        return simple[fld.kind]
    if fld.kind == "config":
        return lambda run: config_value(run.config, fld.key)
    stat = fld.stat
    if stat is not None:
        base = fld.key[: -(len(stat) + 1)]
        if any(base in run.summary for run in runs):
            return lambda run: (run.summary.get(base) or {}).get(stat)
    return lambda run: (run.summary.get(fld.key) or {}).get("last")


Test = Callable[[Any], bool]


def _value_test(condition: Expression) -> Test:
    kind = condition.kind
    if kind == "exists":
        return _present
    if kind == "in":
        values = condition.values
        return lambda actual: any(
            not _present(actual) if value is None else values_equal(actual, value) for value in values
        )
    if kind == "between":
        low, high = condition.values

        def between(actual: Any) -> bool:
            n = _number_of(actual)
            return n is not None and low <= n <= high  # type: ignore[operator]

        return between
    if kind == "match":
        pattern = str(condition.values[0])
        if condition.mode == "regex":
            regex = re.compile(pattern, re.ASCII)
        else:
            regex = re.compile(
                pattern_source(pattern, condition.mode), re.IGNORECASE if condition.mode == "like" else 0
            )
        return lambda actual: isinstance(actual, str) and regex.search(actual) is not None
    return _compare_test(condition.operator, condition.values[0])


_ORDERED: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare_test(operator: str, expected: Value) -> Test:
    if expected is None:
        return (lambda actual: not _present(actual)) if operator == "=" else _present
    if operator == "=":
        return lambda actual: values_equal(actual, expected)
    if operator == "!=":
        return lambda actual: _present(actual) and not values_equal(actual, expected)
    ordered = _ORDERED[operator]
    limit = float(expected)

    def compare(actual: Any) -> bool:
        n = _number_of(actual)
        return n is not None and ordered(n, limit)

    return compare


Predicate = Callable[[WhereRun], bool]


def compile_where(expression: Expression, runs: Sequence[WhereRun], now: float) -> Predicate:
    """The expression as a test of one run; fields resolved against ``runs``, durations as of ``now``."""
    if expression.kind in ("and", "or"):
        parts = [compile_where(e, runs, now) for e in expression.operands]
        if expression.kind == "and":
            return lambda run: all(part(run) for part in parts)
        return lambda run: any(part(run) for part in parts)
    if expression.kind == "not":
        inner = compile_where(expression.operands[0], runs, now)
        return lambda run: not inner(run)
    fld = expression.field
    assert fld is not None
    test = _value_test(expression)
    if fld.kind == "tags":
        if expression.kind == "exists":
            return lambda run: len(run.tags) > 0
        if expression.kind == "compare" and expression.values[0] is None:
            if expression.operator == "=":
                return lambda run: len(run.tags) == 0
            return lambda run: len(run.tags) > 0
        if expression.kind == "compare" and expression.operator == "!=":
            value = expression.values[0]
            return lambda run: not any(values_equal(tag, value) for tag in run.tags)
        return lambda run: any(test(tag) for tag in run.tags)
    read = _reader(runs, fld, now)
    return lambda run: test(read(run))


def filter_where(runs: Sequence[WhereRun], where: str | Expression, now: float) -> list[WhereRun]:
    """The runs an expression keeps, in the order given."""
    expression = parse_where(where) if isinstance(where, str) else where
    keep = compile_where(expression, runs, now)
    return [run for run in runs if keep(run)]


def _reads_summaries(expression: Expression) -> bool:
    if expression.field is not None and expression.field.kind in ("metric", "duration"):
        return True
    return any(_reads_summaries(e) for e in expression.operands)


def filter_run_infos(
    runs: Sequence[Any], where: str, summaries_of: Callable[[str], Sequence[Any]], now: float
) -> list[Any]:
    """The RunInfos an expression keeps; ``summaries_of(run_id)`` gives a run's MetricSummary list when needed."""
    expression = parse_where(where)
    with_summaries = _reads_summaries(expression)
    table = []
    for info in runs:
        summaries = summaries_of(info.id) if with_summaries else ()
        summary = {s.key: {"last": s.last, "min": s.min, "max": s.max} for s in summaries}
        table.append(
            WhereRun(
                id=info.id,
                name=info.name,
                status=info.status,
                stale=info.stale,
                created_at=info.created_at,
                ended_at=info.ended_at,
                duration=_duration(info, summaries, now),
                tags=info.tags,
                group=info.group,
                job_type=info.job_type,
                config=info.config,
                summary=summary,
            )
        )
    # Metric suffixes resolve within each experiment, as each experiment's run table does.
    by_experiment: dict[str, list[WhereRun]] = {}
    for info, run in zip(runs, table):
        by_experiment.setdefault(info.experiment_id, []).append(run)
    tests = {experiment: compile_where(expression, members, now) for experiment, members in by_experiment.items()}
    return [info for info, run in zip(runs, table) if tests[info.experiment_id](run)]


def _duration(info: Any, summaries: Sequence[Any], now: float) -> float | None:
    """As the run table reckons it: to the end, to now while live, else to the last heartbeat or point."""
    if info.ended_at is not None:
        return float(max(0.0, info.ended_at - info.created_at))
    if not info.stale:
        return float(max(0.0, now - info.created_at))
    heartbeat = (
        info.last_heartbeat if info.last_heartbeat is not None and info.last_heartbeat > info.created_at else None
    )
    last_point = max((s.last_time for s in summaries if s.last_time is not None), default=None)
    end = heartbeat if heartbeat is not None else last_point
    return None if end is None else float(max(0.0, end - info.created_at))
