"""Cleaning and checking what users pass: metric values, text, configs, and the arguments of start_run().

Pure functions; nothing here touches the database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import _store
from ._errors import StonksError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # (kind, detail, problem, what default mode does): a config or text problem; strict mode raises.
    Report = Callable[[str, str, str, str], None]

MAX_STEP = 2**53 - 1
# Levels of dicts and lists a config keeps (the config itself is level 1).
MAX_CONFIG_DEPTH = 64
CIRCULAR = "[Circular]"
TOO_DEEP = "[Too deep]"


def well_formed(text: str) -> str:
    """``text`` with every lone surrogate (U+D800..U+DFFF) replaced by U+FFFD; ``text`` itself when it has none.

    A str holding a surrogate cannot be encoded as UTF-8 (SQLite would refuse it); one
    comes from os.fsdecode() of a file name that is not UTF-8, for example.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def repaired(text: str, what: str, report: Report) -> str:
    fixed = well_formed(text)
    if fixed is not text:
        report(
            "text",
            f"{what}:{text}",
            f"{what} {text!r} is not valid Unicode (a lone surrogate, e.g. a file name decoded with os.fsdecode)",
            "its invalid characters are stored as U+FFFD",
        )
    return fixed


def is_complex(value: Any) -> bool:
    """Python complex (and numpy.complex128, its subclass), or a numpy/torch value of a complex dtype."""
    if isinstance(value, complex):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and (getattr(dtype, "kind", None) == "c" or getattr(dtype, "is_complex", False) is True)


def to_float(value: Any) -> float | None:
    """The finite float a user meant, or None. Never imports numpy or torch."""
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None
    if isinstance(value, (str, bytes, bytearray)) or value is None or is_complex(value):
        # A complex number has no one float; its real part alone would be a silent lie.
        return None
    try:
        if hasattr(kind, "__float__") or hasattr(kind, "__index__"):
            # int, bool, numpy scalars, 0-d tensors, Decimal, Fraction...
            result = float(value)
        else:
            item = getattr(value, "item", None)
            if item is None:
                return None
            raw = item()
            if isinstance(raw, (str, bytes, bytearray, complex)) or raw is None:
                return None
            result = float(raw)
    except Exception:
        return None
    return result if result - result == 0.0 else None


def jsonable(value: Any, report: Report, depth: int = 1, inside: set[int] | None = None) -> Any:
    """A JSON value for a config entry: numbers stay numbers, arrays become lists, the rest strings.

    ``depth`` is the nesting level of ``value`` (the config itself is 1); ``inside`` holds the
    ids of the containers that enclose it, so a cycle is cut instead of recursing forever.
    """
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, str):
        return repaired(str(value), "config value", report)
    if isinstance(value, float):
        number = float(value)
        return number if number - number == 0.0 else repr(number)
    if isinstance(value, int):
        return int(value)
    is_mapping = isinstance(value, Mapping)
    if is_mapping or isinstance(value, (list, tuple, set, frozenset)):
        if depth > MAX_CONFIG_DEPTH:
            report(
                "too deep",
                "",
                f"the config nests dicts or lists more than {MAX_CONFIG_DEPTH} levels deep",
                f"the deeper value is stored as {TOO_DEEP!r}",
            )
            return TOO_DEEP
        enclosing: set[int] = set() if inside is None else inside
        if id(value) in enclosing:
            report(
                "circular",
                "",
                "the config contains itself (a cycle)",
                f"the repeated reference is stored as {CIRCULAR!r}",
            )
            return CIRCULAR
        enclosing.add(id(value))
        try:
            if is_mapping:
                return {
                    repaired(str(k), "config key", report): jsonable(v, report, depth + 1, enclosing)
                    for k, v in value.items()
                }
            return [jsonable(v, report, depth + 1, enclosing) for v in value]
        finally:
            enclosing.discard(id(value))
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays, tensors
    if callable(to_list):
        try:
            listed = to_list()
        except Exception:
            listed = value
        if listed is not value:
            # One level deeper: a tolist() that returns another such object cannot recurse forever.
            return jsonable(listed, report, depth + 1, inside)
    return repaired(str(value), "config value", report)


def config_dict(config: Any, report: Report) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise StonksError(f"config must be a dict of hyperparameters, not {type(config).__name__}.")
    converted: dict[str, Any] = jsonable(config, report)
    return converted


def env_seconds(name: str, default: float) -> float:
    try:
        seconds = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return seconds if 0 < seconds < float("inf") else default


def optional_str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise StonksError(f"{what} must be a string or None, not {type(value).__name__}.")


def is_tag_list(tags: Any) -> bool:
    return isinstance(tags, (list, tuple, set, frozenset)) and all(isinstance(tag, str) and tag for tag in tags)


def resume_target(resume: bool | str | None, run_id: str | None) -> _store.Resume:
    """What start() opens, from the seed's ``resume`` ("latest" | run id) and the original's
    (``resume=True | "must"`` with an optional ``id``)."""
    if resume is None or resume is False:
        return _store.Resume(run_id, None, any_experiment=False, must=False)
    if resume is True or resume == "must":
        return _store.Resume(run_id, run_id or "latest", any_experiment=run_id is not None, must=resume == "must")
    return _store.Resume(run_id, resume, any_experiment=False, must=False)
