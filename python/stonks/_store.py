"""Every SQL statement the Python SDK writes with: the same rows as src/store/writes.ts.

Call these inside a write transaction (``_db.run_immediate``).
"""

from __future__ import annotations

import math
import os
import sys
from array import array
from functools import reduce
from operator import add

from ._errors import NotFoundError, RunError, RunNotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence
    from typing import Any

    # A rollup row: [bucket, count, first_step, last_step, min_value, min_step, min_time, max_value, max_step, max_time,
    # value_sum, step_sum]
    RollupRow = list[Any]
    # (id, count, monotonic) of a run's series.
    SeriesRef = tuple[int, int, int]

CHUNK_POINTS = 1024
ROLLUP_LEVELS = (6, 8, 10, 12, 14)  # spans 64..16384, x4 apart (docs/schema.md)
_LITTLE_ENDIAN = sys.byteorder == "little"


def new_uuid() -> str:
    """A random (version 4) UUID, without importing uuid."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode_text(raw: bytes) -> str:
    """The connections' text factory: TEXT that is not valid UTF-8 (an older stonks could write
    some) reads with U+FFFD in place of the bad bytes instead of failing the whole query."""
    return raw.decode("utf-8", "replace")


def from_json(text: str) -> Any:
    import json

    return json.loads(text)


class NewRun:
    """What a new (or resumed) run row is made of."""

    __slots__ = (
        "config",
        "experiment",
        "group",
        "job_type",
        "name",
        "notes",
        "now",
        "project",
        "provenance",
        "run_id",
        "tags",
    )

    def __init__(
        self,
        experiment: str,
        name: str | None,
        config: dict[str, Any],
        tags: list[str],
        group: str | None,
        job_type: str | None,
        notes: str | None,
        now: float,
        provenance: dict[str, Any],
        run_id: str | None = None,
        project: str | None = None,
    ) -> None:
        #: The id a new run gets; None: a random UUID.
        self.run_id = run_id
        #: The project a new experiment is linked to (created by name on first use).
        self.project = project
        self.experiment = experiment
        self.name = name
        self.config = config
        self.tags = tags
        self.group = group
        self.job_type = job_type
        self.notes = notes
        self.now = now
        self.provenance = provenance


class Resume:
    """Which run start() opens. ``target`` None: a new run (with id ``run_id`` when given);
    "latest": the experiment's newest run; else the run of that id, which must belong to the
    experiment unless ``any_experiment``. A missing run is created (a new run with id
    ``run_id`` for an id target), except with ``must``, which raises RunNotFoundError."""

    __slots__ = ("any_experiment", "must", "run_id", "target")

    def __init__(self, run_id: str | None, target: str | None, *, any_experiment: bool, must: bool) -> None:
        self.run_id = run_id
        self.target = target
        self.any_experiment = any_experiment
        self.must = must


class StartedRun:
    __slots__ = (
        "config",
        "created",
        "experiment_id",
        "group",
        "id",
        "job_type",
        "last_step",
        "name",
        "notes",
        "project",
        "seq",
        "tags",
    )

    def __init__(
        self,
        id: str,
        seq: int,
        experiment_id: str,
        last_step: float | None,
        config: dict[str, Any],
        created: bool,
        row: NewRun,
        project: str | None,
    ) -> None:
        self.created = created
        self.id = id
        self.seq = seq
        self.experiment_id = experiment_id
        self.last_step = last_step
        self.config = config
        self.name = row.name
        self.tags = row.tags
        self.group = row.group
        self.job_type = row.job_type
        self.notes = row.notes
        self.project = project


def next_revision(conn: sqlite3.Connection) -> int:
    revision: int = conn.execute("SELECT COALESCE(MAX(revision), 0) + 1 FROM runs").fetchone()[0]
    return revision


def ensure_project(conn: sqlite3.Connection, name: str, now: float) -> str:
    """The id of the project called ``name``, created on first use."""
    found = conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
    if found is not None:
        existing: str = found[0]
        return existing
    project_id = new_uuid()
    conn.execute("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)", (project_id, name, now))
    return project_id


def ensure_experiment(conn: sqlite3.Connection, name: str, now: float, project: str | None = None) -> str:
    """The id of the experiment called ``name``. One created here is linked to ``project``;
    an existing one keeps the project it has (none included)."""
    found = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    if found is not None:
        existing: str = found[0]
        return existing
    experiment_id = new_uuid()
    project_id = None if project is None else ensure_project(conn, project, now)
    conn.execute(
        "INSERT INTO experiments (id, name, description, created_at, project_id) VALUES (?, ?, NULL, ?, ?)",
        (experiment_id, name, now, project_id),
    )
    return experiment_id


def project_of(conn: sqlite3.Connection, experiment_id: str) -> str | None:
    """The name of the experiment's project, or None."""
    row = conn.execute(
        "SELECT p.name FROM experiments e JOIN projects p ON p.id = e.project_id WHERE e.id = ?", (experiment_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def start_run(conn: sqlite3.Connection, resume: Resume, run: NewRun) -> StartedRun:
    """Creates the run, or reopens the one ``resume`` names."""
    if resume.target is None:
        return insert_run(conn, run)
    return resume_run(conn, resume, run)


#: A new run's palette index (docs/schema.md, runs.color_index): the lowest of
#: 0..13 that none of the experiment's 13 newest runs uses, so any 14 runs
#: created one after another in an experiment get 14 different colours. Runs
#: from before the column count with their old colour, seq mod 14. The
#: TypeScript insertRun has the same expression: both SDKs must choose alike.
_COLOR_INDEX_SQL = """(WITH RECURSIVE palette(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM palette WHERE i < 13)
  SELECT min(i) FROM palette WHERE i NOT IN (
    SELECT coalesce(color_index, seq % 14) FROM runs WHERE experiment_id = ? ORDER BY seq DESC LIMIT 13))"""


def insert_run(conn: sqlite3.Connection, run: NewRun) -> StartedRun:
    """Creates a run in status running."""
    if run.run_id is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run.run_id,)).fetchone():
        raise RunError(f"A run with id {run.run_id!r} already exists; pass resume=True to continue it, or another id.")
    experiment_id = ensure_experiment(conn, run.experiment, run.now, run.project)
    run_id = new_uuid() if run.run_id is None else run.run_id
    p = run.provenance
    git_dirty = p.get("git_dirty")
    cursor = conn.execute(
        f"""INSERT INTO runs (id, experiment_id, name, status, config, tags, group_name, job_type, notes,
             created_at, last_heartbeat, host, pid, command, cwd, git_commit, git_dirty, sdk_language, sdk_version,
             revision, color_index)
           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_COLOR_INDEX_SQL})""",
        (
            run_id,
            experiment_id,
            run.name,
            to_json(run.config) if run.config else "{}",
            to_json(run.tags) if run.tags else "[]",
            run.group,
            run.job_type,
            run.notes,
            run.now,
            run.now,
            p.get("host"),
            p.get("pid"),
            p.get("command"),
            p.get("cwd"),
            p.get("git_commit"),
            None if git_dirty is None else int(bool(git_dirty)),
            p.get("sdk_language"),
            p.get("sdk_version"),
            next_revision(conn),
            experiment_id,
        ),
    )
    seq = cursor.lastrowid
    assert seq is not None
    return StartedRun(run_id, seq, experiment_id, None, dict(run.config), True, run, project_of(conn, experiment_id))


def resume_run(conn: sqlite3.Connection, resume: Resume, run: NewRun) -> StartedRun:
    """Reopens a run ("latest" of the experiment, or a run id): status back to running."""
    target = resume.target
    experiment = conn.execute("SELECT id FROM experiments WHERE name = ?", (run.experiment,)).fetchone()
    columns = "SELECT seq, id, experiment_id, config, tags, name, group_name, job_type, notes FROM runs"
    if target == "latest":
        row = None
        if experiment is not None:
            row = conn.execute(
                columns + " WHERE experiment_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1", (experiment[0],)
            ).fetchone()
        if row is None:
            if resume.must:
                raise RunNotFoundError(
                    f'Cannot resume the latest run of "{run.experiment}": not found (the experiment has no run) '
                    'and resume="must".'
                )
            return insert_run(conn, run)
    else:
        row = conn.execute(columns + " WHERE id = ?", (target,)).fetchone()
        if row is None:
            if resume.any_experiment and not resume.must:
                return insert_run(conn, run)
            if resume.must:
                raise RunNotFoundError(f'Cannot resume run {target}: not found and resume="must".')
            raise RunNotFoundError(f'Cannot resume run {target}: no such run. Pass an existing run id or "latest".')
        if not resume.any_experiment and (experiment is None or row[2] != experiment[0]):
            raise RunError(f'Cannot resume run {target}: it belongs to another experiment than "{run.experiment}".')
    seq, run_id, experiment_id, old_config, old_tags, old_name, old_group, old_job_type, old_notes = row
    config = {**from_json(old_config), **run.config}
    tags = list(dict.fromkeys([*from_json(old_tags), *run.tags]))
    p = run.provenance
    conn.execute(
        """UPDATE runs SET status = 'running', ended_at = NULL, last_heartbeat = ?, config = ?, tags = ?,
             name = COALESCE(?, name), group_name = COALESCE(?, group_name), job_type = COALESCE(?, job_type),
             notes = COALESCE(?, notes), pid = ?, host = ?, command = ?, revision = ? WHERE seq = ?""",
        (
            run.now,
            to_json(config),
            to_json(tags),
            run.name,
            run.group,
            run.job_type,
            run.notes,
            p.get("pid"),
            p.get("host"),
            p.get("command"),
            next_revision(conn),
            seq,
        ),
    )
    last = conn.execute("SELECT MAX(last_step) FROM series WHERE run_seq = ?", (seq,)).fetchone()[0]
    stored = NewRun(
        run.experiment,
        old_name if run.name is None else run.name,
        config,
        tags,
        old_group if run.group is None else run.group,
        old_job_type if run.job_type is None else run.job_type,
        old_notes if run.notes is None else run.notes,
        run.now,
        run.provenance,
    )
    return StartedRun(run_id, seq, experiment_id, last, config, False, stored, project_of(conn, experiment_id))


def finish_run(conn: sqlite3.Connection, run_seq: int, status: str, now: float) -> None:
    conn.execute(
        "UPDATE runs SET status = ?, ended_at = ?, last_heartbeat = ?, revision = ? WHERE seq = ?",
        (status, now, now, next_revision(conn), run_seq),
    )


def merge_run_config(conn: sqlite3.Connection, run_seq: int, patch: dict[str, Any]) -> None:
    row = conn.execute("SELECT config FROM runs WHERE seq = ?", (run_seq,)).fetchone()
    if row is None:
        return
    merged = {**from_json(row[0]), **patch}
    conn.execute(
        "UPDATE runs SET config = ?, revision = ? WHERE seq = ?", (to_json(merged), next_revision(conn), run_seq)
    )


def set_run_field(conn: sqlite3.Connection, run_seq: int, field: str, value: Any) -> None:
    """Replaces the run's tags (a list) or notes (text or None)."""
    if field == "tags":
        conn.execute(
            "UPDATE runs SET tags = ?, revision = ? WHERE seq = ?", (to_json(value), next_revision(conn), run_seq)
        )
    elif field == "notes":
        conn.execute("UPDATE runs SET notes = ?, revision = ? WHERE seq = ?", (value, next_revision(conn), run_seq))
    else:
        raise ValueError(f"set_run_field cannot set {field!r}")


def set_git(conn: sqlite3.Connection, run_seq: int, commit: str | None, dirty: bool | None) -> None:
    conn.execute(
        "UPDATE runs SET git_commit = ?, git_dirty = ?, revision = ? WHERE seq = ?",
        (commit, None if dirty is None else int(dirty), next_revision(conn), run_seq),
    )


def touch_heartbeat(conn: sqlite3.Connection, run_seq: int, now: float) -> None:
    conn.execute("UPDATE runs SET last_heartbeat = ? WHERE seq = ? AND status = 'running'", (now, run_seq))


def run_exists(conn: sqlite3.Connection, run_seq: int) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE seq = ?", (run_seq,)).fetchone() is not None


def ensure_series(conn: sqlite3.Connection, run_seq: int, key: str) -> int:
    """The series id of (run, key), creating the key and the series on first use."""
    conn.execute("INSERT OR IGNORE INTO metric_keys (key) VALUES (?)", (key,))
    key_id = conn.execute("SELECT id FROM metric_keys WHERE key = ?", (key,)).fetchone()[0]
    conn.execute("INSERT OR IGNORE INTO series (run_seq, key_id) VALUES (?, ?)", (run_seq, key_id))
    series_id: int = conn.execute(
        "SELECT id FROM series WHERE run_seq = ? AND key_id = ?", (run_seq, key_id)
    ).fetchone()[0]
    return series_id


def to_blob(values: array[float]) -> bytes:
    """Little-endian float64s, as docs/schema.md fixes."""
    if _LITTLE_ENDIAN:
        return values.tobytes()
    swapped = array("d", values)
    swapped.byteswap()
    return swapped.tobytes()


def from_blob(blob: bytes) -> array[float]:
    values = array("d")
    values.frombytes(blob[: len(blob) - len(blob) % 8])
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values


def _finite_or_none(total: float) -> float | None:
    return total if math.isfinite(total) else None


def _add_sums(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else _finite_or_none(a + b)


def _plain_sum(values: Sequence[float]) -> float:
    """Left-to-right double additions, as the TypeScript store's loop (sum() compensates since 3.12)."""
    return reduce(add, values, 0.0)


def merge_rollup(a: RollupRow, b: RollupRow) -> RollupRow:
    """Merges row b (later points) into row a (earlier points). Ties keep the earlier point; a sum
    unknown (None) on either side stays unknown."""
    row = [a[0], a[1] + b[1], a[2], b[3]]
    row += b[4:7] if b[4] < a[4] else a[4:7]
    row += b[7:10] if b[7] > a[7] else a[7:10]
    row += [_add_sums(a[10], b[10]), _add_sums(a[11], b[11])]
    return row


def rollup_points(
    level: int, start_index: int, steps: array[float], values: Sequence[float], times: Sequence[float]
) -> list[RollupRow]:
    """Rows of the finest level for new points starting at series index start_index."""
    rows = []
    n = len(values)
    i = 0
    while i < n:
        bucket = (start_index + i) >> level
        end = min(n, ((bucket + 1) << level) - start_index)
        part = values[i:end]
        low = min(part)
        low_at = part.index(low) + i
        high = max(part)
        high_at = part.index(high) + i
        rows.append(
            [
                bucket,
                end - i,
                steps[i],
                steps[end - 1],
                low,
                steps[low_at],
                times[low_at],
                high,
                steps[high_at],
                times[high_at],
                _finite_or_none(_plain_sum(part)),
                _finite_or_none(_plain_sum(steps[i:end])),
            ]
        )
        i = end
    return rows


def coarsen(rows: list[RollupRow], shift: int) -> list[RollupRow]:
    """Groups rows of a finer level into the buckets of a level ``shift`` coarser."""
    out: list[RollupRow] = []
    for row in rows:
        bucket = row[0] >> shift
        if out and out[-1][0] == bucket:
            out[-1] = merge_rollup(out[-1], row)
        else:
            out.append([bucket, *row[1:]])
    return out


_TAIL_CHUNK = (
    "SELECT id, start_index, count, steps, vals, times FROM chunks WHERE series_id = ? "
    "ORDER BY start_index DESC LIMIT 1"
)
_INSERT_CHUNK = (
    "INSERT INTO chunks (series_id, start_index, count, first_step, last_step, steps, vals, times) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_GET_ROLLUP = (
    "SELECT bucket, count, first_step, last_step, min_value, min_step, min_time, max_value, max_step, max_time, "
    "value_sum, step_sum "
    "FROM rollups WHERE series_id = ? AND level = ? AND bucket = ?"
)
_PUT_ROLLUP = "INSERT OR REPLACE INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def append_points(
    conn: sqlite3.Connection,
    series_id: int,
    steps: Sequence[float],
    values: Sequence[float],
    times: Sequence[float],
) -> None:
    """Appends points to a series: chunks (tail chunk refilled), rollups of every level, series summary."""
    n = len(values)
    if n == 0:
        return
    state = conn.execute(
        "SELECT count, monotonic, last_step, min_value, max_value FROM series WHERE id = ?", (series_id,)
    ).fetchone()
    if state is None:
        raise NotFoundError(f"series {series_id} does not exist")
    start_index, monotonic, last_step, min_value, max_value = state
    new_steps = array("d", steps)
    new_values = array("d", values)
    new_times = array("d", times)
    values = new_values.tolist()

    chunk_start = start_index
    all_steps, all_values, all_times = new_steps, new_values, new_times
    tail = conn.execute(_TAIL_CHUNK, (series_id,)).fetchone()
    if tail is not None and tail[2] < CHUNK_POINTS:
        chunk_start = tail[1]
        all_steps = from_blob(tail[3]) + new_steps
        all_values = from_blob(tail[4]) + new_values
        all_times = from_blob(tail[5]) + new_times
        conn.execute("DELETE FROM chunks WHERE id = ?", (tail[0],))
    total = len(all_values)
    conn.executemany(
        _INSERT_CHUNK,
        [
            (
                series_id,
                chunk_start + offset,
                min(total, offset + CHUNK_POINTS) - offset,
                all_steps[offset],
                all_steps[min(total, offset + CHUNK_POINTS) - 1],
                to_blob(all_steps[offset : offset + CHUNK_POINTS]),
                to_blob(all_values[offset : offset + CHUNK_POINTS]),
                to_blob(all_times[offset : offset + CHUNK_POINTS]),
            )
            for offset in range(0, total, CHUNK_POINTS)
        ],
    )

    rows: list[RollupRow] = []
    previous_level = 0
    writes = []
    for level in ROLLUP_LEVELS:
        if previous_level == 0:
            rows = rollup_points(level, start_index, new_steps, values, new_times)
        else:
            rows = coarsen(rows, level - previous_level)
        previous_level = level
        for i, row in enumerate(rows):
            if i == 0 and start_index % (1 << level) != 0:
                old = conn.execute(_GET_ROLLUP, (series_id, level, row[0])).fetchone()
                if old is not None:
                    row = merge_rollup(list(old), row)
            writes.append((series_id, level, *row))
    conn.executemany(_PUT_ROLLUP, writes)

    first_new = new_steps[0]
    still_monotonic = monotonic == 1 and (last_step is None or first_new >= last_step)
    if still_monotonic and n > 1:
        ordered = new_steps.tolist()
        still_monotonic = ordered == sorted(ordered)
    low = min(values)
    high = max(values)
    if min_value is not None and not low < min_value:
        low = min_value
    if max_value is not None and not high > max_value:
        high = max_value
    conn.execute(
        """UPDATE series SET count = ?, monotonic = ?, first_step = COALESCE(first_step, ?), last_step = ?,
             last_value = ?, last_time = ?, min_value = ?, max_value = ? WHERE id = ?""",
        (
            start_index + n,
            1 if still_monotonic else 0,
            first_new,
            new_steps[n - 1],
            values[n - 1],
            new_times[n - 1],
            low,
            high,
            series_id,
        ),
    )


# Reads of the downsampled query (stonks.Database.get_metrics with max_points, get_series,
# get_group_series): the same statements as src/store/reads.ts.


def find_series(conn: sqlite3.Connection, run_id: str, key: str) -> SeriesRef | None:
    """The series of ``key`` in run ``run_id``, or None when the run never logged that key."""
    row = conn.execute(
        """SELECT s.id, s.count, s.monotonic FROM series s JOIN metric_keys k ON k.id = s.key_id
           JOIN runs r ON r.seq = s.run_seq WHERE r.id = ? AND k.key = ?""",
        (run_id, key),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def run_id_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None


def read_index_range(
    conn: sqlite3.Connection, series_id: int, start: int, end: int
) -> tuple[list[float], list[float], list[float]]:
    """(steps, values, times) of the points with series index in [start, end), in logging order."""
    if end <= start:
        return [], [], []
    steps = array("d")
    values = array("d")
    times = array("d")
    first = None
    for chunk_start, chunk_steps, chunk_values, chunk_times in conn.execute(
        """SELECT start_index, steps, vals, times FROM chunks WHERE series_id = :series
             AND start_index >= COALESCE((SELECT MAX(start_index) FROM chunks
                                          WHERE series_id = :series AND start_index <= :start), 0)
             AND start_index < :end ORDER BY start_index""",
        {"series": series_id, "start": start, "end": end},
    ):
        if first is None:
            first = chunk_start
        steps += from_blob(chunk_steps)
        values += from_blob(chunk_values)
        times += from_blob(chunk_times)
    skip = start - (first or 0)
    take = slice(skip, skip + end - start)
    return steps[take].tolist(), values[take].tolist(), times[take].tolist()


def _chunk_steps(row: tuple[int, bytes] | None) -> tuple[int, list[float]] | None:
    return None if row is None else (row[0], from_blob(row[1]).tolist())


def lower_index(conn: sqlite3.Connection, series_id: int, count: int, min_step: float) -> int:
    """First series index whose step is >= min_step (monotonic series only)."""
    chunk = _chunk_steps(
        conn.execute(
            "SELECT start_index, steps FROM chunks WHERE series_id = ? AND last_step >= ? "
            "ORDER BY last_step, start_index LIMIT 1",
            (series_id, min_step),
        ).fetchone()
    )
    if chunk is None:
        return count
    start, steps = chunk
    i = 0
    while i < len(steps) and steps[i] < min_step:
        i += 1
    return start + i


def upper_index(conn: sqlite3.Connection, series_id: int, max_step: float) -> int:
    """One past the last series index whose step is <= max_step (monotonic series only)."""
    chunk = _chunk_steps(
        conn.execute(
            "SELECT start_index, steps FROM chunks WHERE series_id = ? AND first_step <= ? "
            "ORDER BY start_index DESC LIMIT 1",
            (series_id, max_step),
        ).fetchone()
    )
    if chunk is None:
        return 0
    start, steps = chunk
    i = len(steps)
    while i > 0 and steps[i - 1] > max_step:
        i -= 1
    return start + i


def read_rollups(
    conn: sqlite3.Connection, series_id: int, level: int, first_bucket: int, end_bucket: int
) -> list[tuple[int, float, float, float, float, float, float]]:
    """Rollup rows of buckets [first_bucket, end_bucket) of one level: bucket, min value/step/time,
    max value/step/time."""
    return conn.execute(
        """SELECT bucket, min_value, min_step, min_time, max_value, max_step, max_time FROM rollups
           WHERE series_id = ? AND level = ? AND bucket >= ? AND bucket < ? ORDER BY bucket""",
        (series_id, level, first_bucket, end_bucket),
    ).fetchall()


def read_rollup_sums(
    conn: sqlite3.Connection, series_id: int, level: int, first_bucket: int, end_bucket: int
) -> list[tuple[int, int, float, float, float | None, float | None]]:
    """Rollup rows of buckets [first_bucket, end_bucket) of one level for a grouped aggregate: bucket,
    count, first step, last step, sum of values, sum of steps (None: unknown)."""
    return conn.execute(
        """SELECT bucket, count, first_step, last_step, value_sum, step_sum FROM rollups
           WHERE series_id = ? AND level = ? AND bucket >= ? AND bucket < ? ORDER BY bucket""",
        (series_id, level, first_bucket, end_bucket),
    ).fetchall()


# ------------------------------------------------------------------ spool (remote mode, _ship.py)

_SPOOL_RUNS = """SELECT r.seq, r.id, r.revision, r.status, r.host, r.pid, r.last_heartbeat, e.name, p.name,
    r.name, r.config, r.tags, r.group_name, r.job_type, r.notes, r.color, r.created_at, r.ended_at,
    r.command, r.cwd, r.git_commit, r.git_dirty, r.sdk_language, r.sdk_version
  FROM runs r JOIN experiments e ON e.id = r.experiment_id LEFT JOIN projects p ON p.id = e.project_id
  ORDER BY r.seq"""


def spool_runs(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every run of a spool file with what PUT /api/runs/{id} sends (columns as in _SPOOL_RUNS)."""
    return conn.execute(_SPOOL_RUNS).fetchall()


def spool_series(conn: sqlite3.Connection) -> list[tuple[int, str, int, int]]:
    """(run seq, key, series id, point count) of every series of a spool file."""
    return conn.execute(
        "SELECT s.run_seq, k.key, s.id, s.count FROM series s JOIN metric_keys k ON k.id = s.key_id"
    ).fetchall()


def chunks_from(conn: sqlite3.Connection, series_id: int, index: int) -> list[tuple[int, int, bytes, bytes, bytes]]:
    """(start_index, count, steps, vals, times) of the chunks holding the series' points from ``index`` on."""
    return conn.execute(
        "SELECT start_index, count, steps, vals, times FROM chunks WHERE series_id = ? AND start_index + count > ? "
        "ORDER BY start_index",
        (series_id, index),
    ).fetchall()


def delete_spooled_run(conn: sqlite3.Connection, run_seq: int, revision: int) -> bool:
    """Deletes a run the server holds entirely, unless it changed (another revision) since it was shipped."""
    return conn.execute("DELETE FROM runs WHERE seq = ? AND revision = ?", (run_seq, revision)).rowcount > 0


def find_run_id(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None


def has_runs_of(conn: sqlite3.Connection, experiment: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = ? LIMIT 1",
            (experiment,),
        ).fetchone()
        is not None
    )


def seed_series(conn: sqlite3.Connection, run_seq: int, key: str, count: int, last_step: float | None) -> None:
    """A series that continues at index ``count`` (its first points are on the server, not in this file)."""
    series_id = ensure_series(conn, run_seq, key)
    conn.execute("UPDATE series SET count = ?, last_step = ? WHERE id = ?", (count, last_step, series_id))


def set_run_times(conn: sqlite3.Connection, run_seq: int, created_at: float, color: str | None) -> None:
    conn.execute("UPDATE runs SET created_at = ?, color = ? WHERE seq = ?", (created_at, color, run_seq))
