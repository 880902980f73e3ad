"""stonks: local-first experiment tracking. Log metrics to one SQLite file.

    import stonks

    with stonks.start_run("resnet-cifar10", config={"lr": 0.1}) as run:
        run.log({"train/loss": 0.4}, step=10)

Standard library only. Heavy modules load on first use, so ``import stonks`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Mapping, Optional

from ._errors import (
    InvalidConfigError,
    InvalidMetricError,
    NotAStonksFileError,
    NotFoundError,
    SchemaVersionError,
    StonksError,
    WriteError,
)

if TYPE_CHECKING:
    from ._query import Database, Experiment, MetricSeries, MetricSummary, RunInfo
    from ._run import Run

__version__ = "0.1.0"

#: A metric key is 1 to this many characters (code points); the REST API has the same limit.
MAX_KEY_LENGTH = 1000

__all__ = [
    "Database",
    "Experiment",
    "InvalidConfigError",
    "InvalidMetricError",
    "MAX_KEY_LENGTH",
    "MetricSeries",
    "MetricSummary",
    "NotAStonksFileError",
    "NotFoundError",
    "Run",
    "RunInfo",
    "SchemaVersionError",
    "StonksError",
    "WriteError",
    "__version__",
    "open",
    "start_run",
]


def start_run(
    experiment: str,
    config: Optional[Mapping[str, Any]] = None,
    db: Optional[str] = None,
    run_name: Optional[str] = None,
    strict: bool = False,
    *,
    tags: Optional[List[str]] = None,
    group: Optional[str] = None,
    job_type: Optional[str] = None,
    notes: Optional[str] = None,
    resume: Optional[str] = None,
) -> "Run":
    """A new run of ``experiment`` (created on first use). Use it as a context manager, or call start()/finish().

    ``db``: explicit path > ``STONKS_DB`` > ``./stonks.db``. ``strict=True`` raises on invalid
    metrics and failed writes instead of warning. ``resume``: ``"latest"`` or a run id to continue
    that run; steps continue after its last logged step.
    """
    from ._run import Run

    return Run(
        experiment,
        config,
        db,
        run_name,
        strict,
        tags=tags,
        group=group,
        job_type=job_type,
        notes=notes,
        resume=resume,
    )


def open(db: Optional[str] = None, *, stale_after_seconds: float = 60.0) -> "Database":  # noqa: A001
    """Opens a database for reading (explicit path > ``STONKS_DB`` > ``./stonks.db``)."""
    from ._query import Database

    return Database(db, stale_after_seconds)


_LAZY = {
    "Run": "._run",
    "Database": "._query",
    "Experiment": "._query",
    "RunInfo": "._query",
    "MetricSeries": "._query",
    "MetricSummary": "._query",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'stonks' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
