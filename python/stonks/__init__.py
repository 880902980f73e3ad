"""stonks: local-first experiment tracking. Log metrics to one SQLite file.

    import stonks

    with stonks.start_run("resnet-cifar10", config={"lr": 0.1}) as run:
        run.log({"train/loss": 0.4}, step=10)

Standard library only. Heavy modules load on first use, so ``import stonks`` stays cheap.
"""

from __future__ import annotations

from ._errors import (
    DatabaseError,
    InvalidConfigError,
    InvalidMetricError,
    NotAStonksFileError,
    NotFoundError,
    RunError,
    RunNotFoundError,
    SchemaVersionError,
    StonksError,
    WriteError,
)

# typing.TYPE_CHECKING without importing typing, which would cost more than the rest of `import stonks`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ._query import Database
    from ._run import Run
    from .models import (
        DownsampledSeries,
        Experiment,
        GroupSeries,
        MetricPoint,
        MetricSeries,
        MetricSummary,
        Project,
        RunInfo,
    )

__version__ = "0.1.0"

#: A metric key is 1 to this many characters (code points); the REST API has the same limit.
MAX_KEY_LENGTH = 1000

__all__ = [
    "MAX_KEY_LENGTH",
    "Database",
    "DatabaseError",
    "DownsampledSeries",
    "Experiment",
    "GroupSeries",
    "InvalidConfigError",
    "InvalidMetricError",
    "MetricPoint",
    "MetricSeries",
    "MetricSummary",
    "NotAStonksFileError",
    "NotFoundError",
    "Project",
    "Run",
    "RunError",
    "RunInfo",
    "RunNotFoundError",
    "SchemaVersionError",
    "StonksError",
    "WriteError",
    "__version__",
    "open",
    "start_run",
]


def start_run(
    experiment: str | None = None,
    config: Mapping[str, Any] | None = None,
    db: str | None = None,
    run_name: str | None = None,
    strict: bool = False,
    *,
    tags: list[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    notes: str | None = None,
    resume: bool | str | None = None,
    save_dir: str | None = None,
    name: str | None = None,
    id: str | None = None,
    project: str | None = None,
    prefix: str = "",
    hardware: bool = False,
    hardware_interval: float = 5.0,
    hardware_gpu: bool = True,
    token: str | None = None,
) -> Run:
    """A new run of ``experiment`` (default ``"default"``, created on first use). Use it as a
    context manager, or call start()/finish().

    ``db`` (or ``save_dir``): explicit path > ``STONKS_DB`` > ``./stonks.db``; a server URL
    (``http://host:port`` or ``https://...``) logs to a stonks server through a local spool file,
    with ``token`` (default ``STONKS_TOKEN``) as its access token (docs/python.md). ``run_name`` (or
    ``name``): the run's display name. ``strict=True`` raises on invalid metrics and failed writes
    instead of warning. ``resume``: ``"latest"`` or a run id (of this experiment) to continue that
    run; ``True`` continues the run ``id`` (in any experiment; a new run with that id when there is
    none) or, without ``id``, the latest run of the experiment; ``"must"`` is ``True`` but raises
    RunNotFoundError when there is no such run. Steps continue after the last logged one. ``id``
    without ``resume``: the id of the new run. ``project``: the project (created by name on first
    use) a new experiment is linked to. ``prefix``: every logged key is stored as ``prefix/key``.
    ``hardware=True``: a background thread logs system metrics (``sys/cpu_percent``, ``sys/ram_used_gb``,
    ``sys/gpu0_util``, ...) every ``hardware_interval`` seconds at its own steps; ``hardware_gpu=False``
    leaves GPUs out.
    """
    from ._run import Run

    return Run(
        "default" if experiment is None else experiment,
        config,
        _one_of(db, save_dir, "db", "save_dir"),
        _one_of(run_name, name, "run_name", "name"),
        strict,
        tags=tags,
        group=group,
        job_type=job_type,
        notes=notes,
        resume=resume,
        id=id,
        project=project,
        prefix=prefix,
        hardware=hardware,
        hardware_interval=hardware_interval,
        hardware_gpu=hardware_gpu,
        token=token,
    )


def _one_of(seed_value: str | None, original_value: str | None, seed: str, original: str) -> str | None:
    """The value of a parameter that has the seed's name and the original stonks' name."""
    if seed_value is not None and original_value is not None and seed_value != original_value:
        raise StonksError(
            f"{seed}={seed_value!r} and {original}={original_value!r} name the same thing; pass one of them."
        )
    return original_value if seed_value is None else seed_value


def open(db: str | None = None, *, stale_after_seconds: float = 60.0) -> Database:
    """Opens a database file for reading (explicit path > ``STONKS_DB`` > ``./stonks.db``); a server URL
    raises StonksError: read a server's runs with its REST API."""
    from ._query import Database

    return Database(db, stale_after_seconds)


_LAZY = {
    "Run": "._run",
    "Database": "._query",
    "Experiment": ".models",
    "MetricPoint": ".models",
    "MetricSeries": ".models",
    "DownsampledSeries": ".models",
    "GroupSeries": ".models",
    "MetricSummary": ".models",
    "Project": ".models",
    "RunInfo": ".models",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'stonks' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
