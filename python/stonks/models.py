"""The records stonks reads back, importable as ``stonks.Experiment`` etc. (and from
``stonks.models``, the original stonks' module).

Each class takes the original stonks' arguments in the original's order, so code that built
them there builds them here; the fields stonks adds come after, each with a default.
Differences: ``config`` and ``tags`` default to an empty dict / list (never None), and the
records are frozen (read results, not something to edit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True)
class Project:
    """A named group of experiments."""

    id: str
    name: str
    created_at: float
    #: Not in the original: how many experiments the project holds (list_projects() fills it).
    experiment_count: int = 0


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    created_at: float
    description: str | None = None
    #: The original's free-form metadata; stonks stores none and reads None.
    metadata: dict[str, Any] | None = None
    project_id: str | None = None
    run_count: int = 0


@dataclass(frozen=True)
class RunInfo:
    id: str
    experiment_id: str
    status: str
    created_at: float
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    ended_at: float | None = None
    last_heartbeat: float | None = None
    group: str | None = None
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    #: The original's stored key prefix; stonks stores keys already prefixed and reads "".
    prefix: str = ""
    #: True when status is "running" but the heartbeat is older than the stale threshold.
    stale: bool = False
    color: str | None = None
    host: str | None = None
    pid: int | None = None
    command: str | None = None
    cwd: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    sdk_language: str | None = None
    sdk_version: str | None = None
    #: Increases whenever the run's row changes (status, name, config...), not on heartbeats.
    revision: int = 0


@dataclass(frozen=True)
class MetricPoint:
    """One logged value."""

    key: str
    value: float | None
    step: int
    timestamp: float


@dataclass(frozen=True)
class MetricSeries:
    """Every point of one metric, ordered by step (points of equal step in logging order)."""

    key: str
    steps: list[int | float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class MetricSummary:
    key: str
    count: int
    last_step: float | None
    last: float | None
    min: float | None
    max: float | None
    last_time: float | None


@dataclass(frozen=True)
class DownsampledSeries:
    """About ``max_points`` points of one metric over a step range (Database.get_metrics with
    max_points, Database.get_series): every point when they fit, else the min and max of each of
    max_points // 2 buckets, by step; with the nearest point outside a bounded range on each side."""

    run_id: str
    key: str
    steps: list[int | float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    #: Points of the series inside the step range (the edge points are not counted).
    total_points: int = 0
    #: True when the points are bucket minima and maxima rather than every point.
    downsampled: bool = False


@dataclass(frozen=True)
class GroupSeries:
    """One metric of several runs as statistics per step bucket (Database.get_group_series): for each
    bucket, the mean, sample standard deviation, standard error, min and max across runs of each
    run's mean value in it, and how many runs had a point there (docs/python.md). ``first_step`` and
    ``last_step`` are where the data begins and ends: the smallest and largest step (inside the
    window) at which any of the runs has a finite value, None when none has."""

    key: str
    run_ids: list[str]
    steps: list[int | float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    stderr: list[float] = field(default_factory=list)
    min: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    first_step: int | float | None = None
    last_step: int | float | None = None
