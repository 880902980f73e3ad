"""Downsampled reads and grouped aggregates of stonks.Database.

The downsampled read is src/store/reads.ts ``readDownsampled`` line for line, so that both
languages return the same points for the same file and arguments (tests/vectors/reads/downsample-reads.json).
"""

from __future__ import annotations

import math
from bisect import bisect_left

from . import _store
from .models import DownsampledSeries, GroupSeries

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    Points = tuple[list[float], list[float], list[float]]

_INF = math.inf


class _Units:
    """Consecutive stretches of a series, each summarised by its extremes, as parallel lists:
    a raw point is a stretch of one, a rollup row a longer one."""

    __slots__ = ("index", "max_step", "max_time", "max_value", "min_step", "min_time", "min_value")

    def __init__(self) -> None:
        self.index: list[float] = []
        self.min_value: list[float] = []
        self.min_step: list[float] = []
        self.min_time: list[float] = []
        self.max_value: list[float] = []
        self.max_step: list[float] = []
        self.max_time: list[float] = []

    def add_points(self, points: Points, first_index: int) -> None:
        steps, values, times = points
        self.index.extend(range(first_index, first_index + len(values)))
        self.min_value += values
        self.max_value += values
        self.min_step += steps
        self.max_step += steps
        self.min_time += times
        self.max_time += times

    def add_rollups(self, rows: Sequence[Sequence[float]], span: int) -> None:
        if not rows:
            return
        buckets, min_value, min_step, min_time, max_value, max_step, max_time = zip(*rows)
        self.index += [bucket * span for bucket in buckets]
        self.min_value += min_value
        self.min_step += min_step
        self.min_time += min_time
        self.max_value += max_value
        self.max_step += max_step
        self.max_time += max_time


def _bucketize(units: _Units, start: int, end: int, buckets: int) -> Points:
    """Min and max of each of ``buckets`` equal index spans over [start, end), in step order."""
    span = (end - start) / buckets
    index, min_value, max_value = units.index, units.min_value, units.max_value
    min_step, min_time, max_step, max_time = units.min_step, units.min_time, units.max_step, units.max_time
    steps: list[float] = []
    values: list[float] = []
    times: list[float] = []
    u = 0
    n = len(index)
    for b in range(buckets):
        if u >= n:
            break
        bucket_end = end if b == buckets - 1 else start + (b + 1) * span
        stop = bisect_left(index, bucket_end, u)
        if stop == u:
            continue
        # min()/max() with a key keep the first of equal values and compare with < and >, as the TS loop does.
        low = min(range(u, stop), key=min_value.__getitem__)
        high = max(range(u, stop), key=max_value.__getitem__)
        u = stop
        same_point = (
            min_step[low] == max_step[high] and min_time[low] == max_time[high] and min_value[low] == max_value[high]
        )
        if min_step[low] < max_step[high] or (min_step[low] == max_step[high] and low <= high):
            steps.append(min_step[low])
            values.append(min_value[low])
            times.append(min_time[low])
            if not same_point:
                steps.append(max_step[high])
                values.append(max_value[high])
                times.append(max_time[high])
        else:
            steps += (max_step[high], min_step[low])
            values += (max_value[high], min_value[low])
            times += (max_time[high], min_time[low])
    return steps, values, times


def _sort_by_step(points: Points) -> Points:
    """Reorders points by step (stable: equal steps stay in logging order)."""
    steps, values, times = points
    order = sorted(range(len(steps)), key=steps.__getitem__)
    return [steps[i] for i in order], [values[i] for i in order], [times[i] for i in order]


def _with_edges(before: Points | None, inside: Points, after: Points | None) -> Points:
    """The points of a step range with the nearest point outside it on each side, when there is one."""
    steps, values, times = list(inside[0]), list(inside[1]), list(inside[2])
    if before is not None:
        steps[:0], values[:0], times[:0] = before
    if after is not None:
        steps += after[0]
        values += after[1]
        times += after[2]
    return steps, values, times


def _slice(points: Points, start: int, end: int) -> Points:
    return points[0][start:end], points[1][start:end], points[2][start:end]


def _result(run_id: str, key: str, points: Points, total: int, downsampled: bool) -> DownsampledSeries:
    steps, values, times = points
    out_steps: list[int | float] = list(steps)
    if all(map(float.is_integer, steps)):
        out_steps = list(map(int, steps))
    return DownsampledSeries(run_id, key, out_steps, values, times, total, downsampled)


def empty_series(run_id: str, key: str) -> DownsampledSeries:
    return DownsampledSeries(run_id, key, [], [], [], 0, False)


def read_downsampled(
    conn: sqlite3.Connection, run_id: str, key: str, max_points: int, min_step: float, max_step: float
) -> DownsampledSeries | None:
    """About max_points points of a series over [min_step, max_step] (see readDownsampled in
    src/store/reads.ts): every point when they fit, else the min and max of max_points // 2 equal
    index buckets; monotonic series read the coarsest rollup level that still fills the buckets.
    A bounded range also brings the nearest point before and after it. None for an unknown series."""
    series = _store.find_series(conn, run_id, key)
    if series is None:
        return None
    series_id, count, monotonic = series
    buckets = max(1, max_points // 2)
    if not monotonic:
        ordered = _sort_by_step(_store.read_index_range(conn, series_id, 0, count))
        steps = ordered[0]
        lo = 0
        while lo < count and steps[lo] < min_step:
            lo += 1
        hi = lo
        while hi < count and steps[hi] <= max_step:
            hi += 1
        inside = _slice(ordered, lo, hi)
        before = _slice(ordered, lo - 1, lo) if lo > 0 else None
        after = _slice(ordered, hi, hi + 1) if hi < count else None
        total = hi - lo
        if total <= max_points:
            return _result(run_id, key, _with_edges(before, inside, after), total, False)
        units = _Units()
        units.add_points(inside, 0)
        return _result(run_id, key, _with_edges(before, _bucketize(units, 0, total, buckets), after), total, True)

    start = 0 if min_step == -_INF else _store.lower_index(conn, series_id, count, min_step)
    end = count if max_step == _INF else max(start, _store.upper_index(conn, series_id, max_step))
    before = _store.read_index_range(conn, series_id, start - 1, start) if start > 0 and min_step != -_INF else None
    after = _store.read_index_range(conn, series_id, end, end + 1) if end < count and max_step != _INF else None
    total = max(0, end - start)
    if total <= max_points:
        inside = _store.read_index_range(conn, series_id, start, end)
        return _result(run_id, key, _with_edges(before, inside, after), total, False)
    per_bucket = total / buckets
    level = next((level for level in reversed(_store.ROLLUP_LEVELS) if 2**level <= per_bucket), None)
    units = _Units()
    if level is None:
        units.add_points(_store.read_index_range(conn, series_id, start, end), start)
    else:
        span = 2**level
        first_bucket = -(-start // span)
        end_bucket = max(first_bucket, end // span)
        units.add_points(_store.read_index_range(conn, series_id, start, min(end, first_bucket * span)), start)
        units.add_rollups(_store.read_rollups(conn, series_id, level, first_bucket, end_bucket), span)
        tail_start = max(start, end_bucket * span)
        units.add_points(_store.read_index_range(conn, series_id, tail_start, end), tail_start)
    inside = _bucketize(units, start, end, buckets)
    return _result(run_id, key, _with_edges(before, inside, after), total, True)


# A window is read through rollups when it holds at least this many spans per step bucket on average
# (GROUP_SPANS_PER_BUCKET in src/store/reads.ts; docs/grouping.md).
GROUP_SPANS_PER_BUCKET = 3


def _finite_ends(steps: Sequence[float], values: Sequence[float]) -> tuple[float, float] | None:
    kept = [step for step, value in zip(steps, values) if math.isfinite(value)]
    return (kept[0], kept[-1]) if kept else None


_Entries = tuple[list[float], list[float], list[int], tuple[float, float] | None]


def _raw_entries(steps: list[float], values: list[float]) -> _Entries:
    return steps, values, [1] * len(steps), _finite_ends(steps, values)


def _group_window(
    conn: sqlite3.Connection, run_id: str, key: str, buckets: int, min_step: float, max_step: float
) -> _Entries | None:
    """A run's entries inside [min_step, max_step] for a grouped aggregate, as readGroupWindow in
    src/store/reads.ts: step sums, value sums and point counts (a raw point is an entry of count 1,
    a rollup span one of its count), and the smallest and largest step of the points with a finite
    value. None when the run has no such key."""
    series = _store.find_series(conn, run_id, key)
    if series is None:
        return None
    series_id, count, monotonic = series
    if not monotonic:
        ordered = _sort_by_step(_store.read_index_range(conn, series_id, 0, count))
        keep = [i for i, step in enumerate(ordered[0]) if min_step <= step <= max_step]
        return _raw_entries([ordered[0][i] for i in keep], [ordered[1][i] for i in keep])
    start = 0 if min_step == -_INF else _store.lower_index(conn, series_id, count, min_step)
    end = count if max_step == _INF else max(start, _store.upper_index(conn, series_id, max_step))
    total = end - start
    level = next(
        (level for level in reversed(_store.ROLLUP_LEVELS) if GROUP_SPANS_PER_BUCKET * 2**level * buckets <= total),
        None,
    )
    if level is not None:
        span = 2**level
        first_span = -(-start // span)
        # The series's last span may be partial: its row covers it when the window runs to the end.
        end_span = -(-end // span) if end == count else end // span
        rows = _store.read_rollup_sums(conn, series_id, level, first_span, end_span)
        value_sums = [r[4] for r in rows if r[4] is not None]
        step_sums = [r[5] for r in rows if r[5] is not None]
        if rows and len(rows) == end_span - first_span and len(value_sums) == len(step_sums) == len(rows):
            head_steps, head_values, _ = _store.read_index_range(conn, series_id, start, first_span * span)
            tail_steps, tail_values, _ = _store.read_index_range(conn, series_id, min(end, end_span * span), end)
            head = _finite_ends(head_steps, head_values)
            tail = _finite_ends(tail_steps, tail_values)
            return (
                [*head_steps, *step_sums, *tail_steps],
                [*head_values, *value_sums, *tail_values],
                [*([1] * len(head_steps)), *(r[1] for r in rows), *([1] * len(tail_steps))],
                (head[0] if head else rows[0][2], tail[1] if tail else rows[-1][3]),
            )
    steps, values, _ = _store.read_index_range(conn, series_id, start, end)
    return _raw_entries(steps, values)


def _plain_number(value: float) -> int | float:
    """A whole number as an int (as JSON writes it), any other as it is."""
    return int(value) if float(value).is_integer() else value


def _plain_sum(values: Sequence[float]) -> float:
    """Left-to-right double additions, as a JavaScript loop does (sum() and math.fsum round differently)."""
    total = 0.0
    for value in values:
        total += value
    return total


def group_series(
    conn: sqlite3.Connection,
    run_ids: Sequence[str],
    key: str,
    max_points: int,
    min_step: float,
    max_step: float,
) -> GroupSeries:
    """Per step bucket, statistics across runs of each run's mean in that bucket (the rule is in
    docs/python.md, "Grouped aggregates")."""
    entries = [_group_window(conn, run_id, key, max_points, min_step, max_step) for run_id in run_ids]
    per_run = [run for run in entries if run is not None]
    extents = [run[3] for run in per_run if run[3] is not None]
    if not extents:
        return GroupSeries(key, list(run_ids), [], [], [], [], [], [], [])
    lo = min_step if min_step != -_INF else min(extent[0] for extent in extents)
    hi = max_step if max_step != _INF else max(extent[1] for extent in extents)
    buckets = max_points
    width = (hi - lo) / buckets
    # Per bucket: each contributing run's (mean step, mean value), runs in the order given.
    cells: dict[int, list[tuple[float, float]]] = {}
    for steps, values, counts, _ in per_run:
        run_buckets: dict[int, tuple[list[float], list[float], list[int]]] = {}
        for step, value, points in zip(steps, values, counts):
            if not math.isfinite(value):
                continue
            # A span counts in the bucket of its mean step; a point (count 1) in its own step's.
            bucket = 0 if width <= 0 else min(buckets - 1, math.floor((step / points - lo) / width))
            run_steps, run_values, run_counts = run_buckets.setdefault(bucket, ([], [], []))
            run_steps.append(step)
            run_values.append(value)
            run_counts.append(points)
        for bucket, (run_steps, run_values, run_counts) in run_buckets.items():
            n = _plain_sum(run_counts)
            cells.setdefault(bucket, []).append((_plain_sum(run_steps) / n, _plain_sum(run_values) / n))
    first = min(extent[0] for extent in extents)
    last = max(extent[1] for extent in extents)
    out = GroupSeries(
        key, list(run_ids), [], [], [], [], [], [], [], first_step=_plain_number(first), last_step=_plain_number(last)
    )
    for bucket in sorted(cells):
        cell = cells[bucket]
        n = len(cell)
        means = [value for _, value in cell]
        mean = _plain_sum(means) / n
        std = math.sqrt(_plain_sum([(value - mean) * (value - mean) for value in means]) / (n - 1)) if n > 1 else 0.0
        step = _plain_sum([step for step, _ in cell]) / n
        out.steps.append(_plain_number(step))
        out.mean.append(mean)
        out.std.append(std)
        out.stderr.append(std / math.sqrt(n))
        out.min.append(min(means))
        out.max.append(max(means))
        out.count.append(n)
    return out
