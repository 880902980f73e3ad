"""Reading a stonks database: ``stonks.open()``."""

from __future__ import annotations

import math
import time
from array import array
from typing import overload

from . import _db, _downsample
from ._errors import NotFoundError, StonksError
from ._store import decode_text, from_blob, from_json
from .models import DownsampledSeries, Experiment, GroupSeries, MetricSeries, MetricSummary, Project, RunInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence
    from typing import Any

    #: (lowest step, highest step), both included; None leaves that side open.
    StepRange = tuple[float | None, float | None]

DEFAULT_STALE_AFTER_S = 60.0
#: get_series without max_points: every point fits.
_NO_LIMIT = 2**62


# In the order of Experiment's fields.
_EXPERIMENT_COLUMNS = (
    "e.id, e.name, e.created_at, e.description, NULL, e.project_id, "
    "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count"
)
_RUN_COLUMNS = (
    "id, experiment_id, name, status, config, tags, group_name, job_type, notes, color, created_at, ended_at, "
    "last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version, revision"
)


class Database:
    """Read access to one stonks database file. Use as a context manager or call close()."""

    def __init__(self, db: str | None = None, stale_after_seconds: float = DEFAULT_STALE_AFTER_S) -> None:
        self.path = _db.resolve_db_path(db)
        self.stale_after_seconds = stale_after_seconds
        self._conn: sqlite3.Connection | None = _db.connect(self.path)
        self._conn.text_factory = decode_text

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StonksError("This database was closed; open it again with stonks.open().")
        return self._conn

    def list_experiments(self, project_id: str | None = None) -> list[Experiment]:
        """Every experiment (only those of one project when ``project_id`` is given), by name, with its
        number of runs."""
        if project_id is None:
            rows = self._connection.execute(f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments e ORDER BY e.name")
        else:
            rows = self._connection.execute(
                f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments e WHERE e.project_id = ? ORDER BY e.name", (project_id,)
            )
        return [Experiment(*row) for row in rows]

    def list_projects(self) -> list[Project]:
        """Every project, by name, with its number of experiments."""
        rows = self._connection.execute(
            """SELECT p.id, p.name, p.created_at, (SELECT count(*) FROM experiments e WHERE e.project_id = p.id)
                 FROM projects p ORDER BY p.name"""
        )
        return [Project(*row) for row in rows]

    def get_experiment(self, id_or_name: str) -> Experiment:
        """One experiment by id or name; NotFoundError when there is none."""
        row = self._connection.execute(
            f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments e WHERE e.id = ? OR e.name = ? LIMIT 1",
            (id_or_name, id_or_name),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"No experiment with id or name {id_or_name!r}. See db.list_experiments().")
        return Experiment(*row)

    def list_runs(self, experiment_id: str | None = None, where: str | None = None) -> list[RunInfo]:
        """Runs newest first, of one experiment or of all; with ``where``, only those the expression keeps.

        ``where`` is the query language of docs/query-language.md, e.g. ``config.lr < 0.01 AND
        metric.val/acc.max > 0.9``; a mistake raises ``WhereSyntaxError`` with its ``column``.
        """
        conn = self._connection
        if experiment_id is None:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC, seq DESC").fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC",
                (experiment_id,),
            ).fetchall()
        now = time.time()
        runs = [self._run_info(row, now) for row in rows]
        if where is None:
            return runs
        from . import _where

        return _where.filter_run_infos(runs, where, self.get_summaries, now)

    def get_run(self, run_id: str) -> RunInfo:
        """One run; NotFoundError for an unknown id."""
        row = self._connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise self._unknown_run(run_id)
        return self._run_info(row, time.time())

    def get_metric_keys(self, run_id: str) -> list[str]:
        """The metric keys a run has points for, sorted."""
        self._require_run(run_id)
        rows = self._connection.execute(
            """SELECT k.key FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
               WHERE r.id = ? AND s.count > 0 ORDER BY k.key""",
            (run_id,),
        )
        return [row[0] for row in rows]

    @overload
    def get_metrics(self, run_id: str, key: str) -> MetricSeries: ...

    @overload
    def get_metrics(
        self, run_id: str, key: str, *, max_points: int, step_range: StepRange | None = None
    ) -> DownsampledSeries: ...

    @overload
    def get_metrics(
        self, run_id: str, key: str, *, max_points: int | None = None, step_range: StepRange
    ) -> DownsampledSeries: ...

    def get_metrics(
        self, run_id: str, key: str, *, max_points: int | None = None, step_range: StepRange | None = None
    ) -> MetricSeries | DownsampledSeries:
        """Every point of one metric, ordered by step; empty lists for a key never logged.

        With ``max_points`` and/or ``step_range``: a DownsampledSeries of about max_points points
        over the steps in the range (the same points as TypeScript's getSeries, see docs/python.md).
        """
        if max_points is not None or step_range is not None:
            self._require_run(run_id)
            return self.get_series([(run_id, key)], max_points=max_points, step_range=step_range)[0]
        conn = self._connection

        def read() -> MetricSeries:
            self._require_run(run_id)
            series = conn.execute(
                """SELECT s.id, s.monotonic FROM series s JOIN metric_keys k ON k.id = s.key_id
                   JOIN runs r ON r.seq = s.run_seq WHERE r.id = ? AND k.key = ?""",
                (run_id, key),
            ).fetchone()
            if series is None:
                return MetricSeries(key, [], [], [])
            steps = array("d")
            values = array("d")
            times = array("d")
            for chunk_steps, chunk_values, chunk_times in conn.execute(
                "SELECT steps, vals, times FROM chunks WHERE series_id = ? ORDER BY start_index", (series[0],)
            ):
                steps += from_blob(chunk_steps)
                values += from_blob(chunk_values)
                times += from_blob(chunk_times)
            step_list = steps.tolist()
            value_list = values.tolist()
            time_list = times.tolist()
            if not series[1]:
                order = sorted(range(len(step_list)), key=step_list.__getitem__)
                step_list = [step_list[i] for i in order]
                value_list = [value_list[i] for i in order]
                time_list = [time_list[i] for i in order]
            if all(map(float.is_integer, step_list)):
                return MetricSeries(key, list(map(int, step_list)), value_list, time_list)
            return MetricSeries(key, step_list, value_list, time_list)

        return _db.read_snapshot(conn, read)

    def get_series(
        self,
        requests: Sequence[tuple[str, str]],
        *,
        max_points: int | None = None,
        step_range: StepRange | None = None,
    ) -> list[DownsampledSeries]:
        """Several series at once, as (run id, key) pairs, each reduced to about ``max_points`` points
        (min and max of max_points // 2 buckets; every point when max_points is None) over the steps of
        ``step_range``. A run or key that does not exist gives an empty series, as in TypeScript."""
        limit = _max_points(max_points, none_means_all=True)
        min_step, max_step = _step_range(step_range)
        conn = self._connection

        def read() -> list[DownsampledSeries]:
            return [
                _downsample.read_downsampled(conn, run_id, key, limit, min_step, max_step)
                or _downsample.empty_series(run_id, key)
                for run_id, key in requests
            ]

        return _db.read_snapshot(conn, read)

    def get_group_series(
        self, run_ids: Sequence[str], key: str, *, max_points: int, step_range: StepRange | None = None
    ) -> GroupSeries:
        """One metric of several runs as mean, std, stderr, min, max and count across the runs per step
        bucket (``max_points`` buckets over ``step_range`` or the steps the runs logged). The rule is in
        docs/python.md, "Grouped aggregates"; NotFoundError for an unknown run id."""
        buckets = _max_points(max_points, none_means_all=False)
        min_step, max_step = _step_range(step_range)
        conn = self._connection

        def read() -> GroupSeries:
            for run_id in run_ids:
                self._require_run(run_id)
            return _downsample.group_series(conn, run_ids, key, buckets, min_step, max_step)

        return _db.read_snapshot(conn, read)

    def get_summaries(self, run_id: str) -> list[MetricSummary]:
        """Count, last, min and max of every metric of a run."""
        self._require_run(run_id)
        rows = self._connection.execute(
            """SELECT k.key, s.count, s.last_step, s.last_value, s.min_value, s.max_value, s.last_time
               FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
               WHERE r.id = ? AND s.count > 0 ORDER BY k.key""",
            (run_id,),
        )
        return [MetricSummary(*row) for row in rows]

    def _require_run(self, run_id: str) -> None:
        if self._connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise self._unknown_run(run_id)

    @staticmethod
    def _unknown_run(run_id: str) -> NotFoundError:
        return NotFoundError(f"No run with id {run_id!r}. List runs with db.list_runs() to find its id.")

    def _run_info(self, row: Any, now: float) -> RunInfo:
        (
            run_id,
            experiment_id,
            name,
            status,
            config,
            tags,
            group,
            job_type,
            notes,
            color,
            created_at,
            ended_at,
            heartbeat,
            host,
            pid,
            command,
            cwd,
            git_commit,
            git_dirty,
            sdk_language,
            sdk_version,
            revision,
        ) = row
        last_seen = heartbeat if heartbeat is not None else created_at
        return RunInfo(
            id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=status,
            stale=status == "running" and now - last_seen > self.stale_after_seconds,
            config=from_json(config),
            tags=from_json(tags),
            group=group,
            job_type=job_type,
            notes=notes,
            color=color,
            created_at=created_at,
            ended_at=ended_at,
            last_heartbeat=heartbeat,
            host=host,
            pid=pid,
            command=command,
            cwd=cwd,
            git_commit=git_commit,
            git_dirty=None if git_dirty is None else git_dirty == 1,
            sdk_language=sdk_language,
            sdk_version=sdk_version,
            revision=revision,
        )


def _max_points(max_points: int | None, *, none_means_all: bool) -> int:
    """max_points as given, checked; None (only where ``none_means_all``) stands for no limit."""
    if max_points is None and none_means_all:
        return _NO_LIMIT
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise StonksError(f"max_points must be a whole number of at least 1, not {max_points!r}.")
    return max_points


def _step_range(step_range: StepRange | None) -> tuple[float, float]:
    """(lowest, highest) step of a step_range argument; None on either side is open."""
    if step_range is None:
        return -math.inf, math.inf
    if not isinstance(step_range, (tuple, list)) or len(step_range) != 2:
        raise StonksError(f"step_range must be a (lowest step, highest step) pair, not {step_range!r}.")
    bounds = []
    for bound, open_side in zip(step_range, (-math.inf, math.inf)):
        if bound is None:
            bounds.append(open_side)
        elif isinstance(bound, bool) or not isinstance(bound, (int, float)) or math.isnan(bound):
            raise StonksError(f"step_range bounds must be numbers or None, not {bound!r}.")
        else:
            bounds.append(float(bound))
    return bounds[0], bounds[1]
