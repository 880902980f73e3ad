"""The records stonks reads back, importable as ``stonks.Experiment`` etc. (and from
``stonks.models``, the original stonks' module).

Each class takes the original stonks' arguments in the original's order, so code that built
them there builds them here; the fields stonks adds come after, each with a default.
Differences: ``config`` and ``tags`` default to an empty dict / list (never None), and the
records are frozen (read results, not something to edit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union


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
    description: Optional[str] = None
    #: The original's free-form metadata; stonks stores none and reads None.
    metadata: Optional[Dict[str, Any]] = None
    project_id: Optional[str] = None
    run_count: int = 0


@dataclass(frozen=True)
class RunInfo:
    id: str
    experiment_id: str
    status: str
    created_at: float
    name: Optional[str] = None
    config: Dict[str, Any] = field(default_factory=dict)
    ended_at: Optional[float] = None
    last_heartbeat: Optional[float] = None
    group: Optional[str] = None
    job_type: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    notes: Optional[str] = None
    #: The original's stored key prefix; stonks stores keys already prefixed and reads "".
    prefix: str = ""
    #: True when status is "running" but the heartbeat is older than the stale threshold.
    stale: bool = False
    color: Optional[str] = None
    host: Optional[str] = None
    pid: Optional[int] = None
    command: Optional[str] = None
    cwd: Optional[str] = None
    git_commit: Optional[str] = None
    git_dirty: Optional[bool] = None
    sdk_language: Optional[str] = None
    sdk_version: Optional[str] = None
    #: Increases whenever the run's row changes (status, name, config...), not on heartbeats.
    revision: int = 0


@dataclass(frozen=True)
class MetricPoint:
    """One logged value."""

    key: str
    value: Optional[float]
    step: int
    timestamp: float


@dataclass(frozen=True)
class MetricSeries:
    """Every point of one metric, ordered by step (points of equal step in logging order)."""

    key: str
    steps: List[Union[int, float]] = field(default_factory=list)
    values: List[float] = field(default_factory=list)
    timestamps: List[float] = field(default_factory=list)


@dataclass(frozen=True)
class MetricSummary:
    key: str
    count: int
    last_step: Optional[float]
    last: Optional[float]
    min: Optional[float]
    max: Optional[float]
    last_time: Optional[float]
