"""Downsampled reads (get_metrics with max_points / step_range, get_series) and grouped aggregates
(get_group_series) of stonks.Database, against the golden vectors that TypeScript's getSeries is
checked against too (tests/vectors/reads/downsample-reads.json, group-aggregates.json)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import python_env

import stonks
from stonks._downsample import GROUP_SPANS_PER_BUCKET
from stonks._store import ROLLUP_LEVELS
from stonks.models import DownsampledSeries, GroupSeries, MetricSeries

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "reads"
READS = json.loads((VECTORS / "downsample-reads.json").read_text(encoding="utf-8"))
GROUPS = json.loads((VECTORS / "group-aggregates.json").read_text(encoding="utf-8"))
FIXTURE = VECTORS / READS["file"]
WRITE = os.environ.get("STONKS_WRITE_VECTORS") == "1"
GROUP_FIELDS = ("steps", "mean", "std", "stderr", "min", "max", "count", "first_step", "last_step")


@pytest.fixture(scope="module")
def fixture_copy(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the committed file: opening migrates a file forward, and the committed one must stay as written."""
    path = tmp_path_factory.mktemp("downsample") / "fixture.db"
    shutil.copyfile(FIXTURE, path)
    return str(path)


@pytest.fixture(scope="module")
def db(fixture_copy: str) -> Any:
    with stonks.open(fixture_copy) as database:
        yield database


def step_range(vector: dict[str, Any]) -> tuple[float | None, float | None]:
    return vector["min_step"], vector["max_step"]


def as_expected(series: DownsampledSeries) -> dict[str, Any]:
    return {
        "steps": series.steps,
        "values": series.values,
        "timestamps": series.timestamps,
        "total_points": series.total_points,
        "downsampled": series.downsampled,
    }


@pytest.mark.parametrize("vector", READS["reads"], ids=lambda v: f"{v['run']} {v['key']}: {v['why']}")
def test_get_series_returns_the_points_typescript_returns(db: Any, vector: dict[str, Any]) -> None:
    [series] = db.get_series(
        [(vector["run"], vector["key"])], max_points=vector["max_points"], step_range=step_range(vector)
    )
    assert as_expected(series) == vector["expect"]
    assert (series.run_id, series.key) == (vector["run"], vector["key"])


def test_the_golden_reads_cover_every_rollup_level_and_the_edges() -> None:
    expects = [vector["expect"] for vector in READS["reads"]]
    assert sum(e["downsampled"] for e in expects) >= 15
    assert sum(e["total_points"] == 0 for e in expects) >= 3
    whole_loss = [v for v in READS["reads"] if v["key"] == "loss" and v["min_step"] is None and v["max_step"] is None]
    chosen = set()
    for vector in whole_loss:
        per_bucket = 16_500 / max(1, vector["max_points"] // 2)
        chosen.add(max((level for level in (6, 8, 10, 12, 14) if 2**level <= per_bucket), default=None))
    assert chosen == {None, 6, 8, 10, 12, 14}


def test_get_series_reads_several_series_in_one_call(db: Any) -> None:
    requests = [("ds-a", "loss"), ("ds-b", "loss"), ("ds-a", "short"), ("nope", "loss")]
    together = db.get_series(requests, max_points=64, step_range=(100, 9000))
    alone = [db.get_series([request], max_points=64, step_range=(100, 9000))[0] for request in requests]
    assert together == alone
    assert [s.total_points for s in together] == [4451, 446, 0, 0]
    assert together[3] == DownsampledSeries("nope", "loss", [], [], [], 0, False)


def test_get_metrics_with_max_points_is_the_downsampled_read(db: Any) -> None:
    down = db.get_metrics("ds-a", "loss", max_points=100, step_range=(1000, 9000))
    assert isinstance(down, DownsampledSeries)
    assert down == db.get_series([("ds-a", "loss")], max_points=100, step_range=(1000, 9000))[0]
    assert down.downsampled and len(down.steps) <= 102
    # The spike at index 777 (step 1564) survives the downsampling.
    assert max(down.values) == 50.0 and down.steps[down.values.index(50.0)] == 1564


def test_get_metrics_with_only_a_step_range_returns_every_point_inside_with_the_edges(db: Any) -> None:
    window = db.get_metrics("ds-a", "loss", step_range=(20, 30))
    full = db.get_metrics("ds-a", "loss")
    assert isinstance(full, MetricSeries) and not isinstance(full, DownsampledSeries)
    assert window.steps == [18, 20, 22, 24, 26, 28, 30, 32]
    assert window.values == full.values[4:12]
    assert window.total_points == 6 and not window.downsampled


def test_an_open_side_of_step_range_is_none(db: Any) -> None:
    open_below = db.get_metrics("ds-a", "short", max_points=10, step_range=(None, 2))
    assert open_below.steps == [0, 1, 2, 3]
    assert open_below.total_points == 3


def test_steps_are_ints_when_whole_and_floats_otherwise(db: Any) -> None:
    whole = db.get_metrics("ds-a", "loss", max_points=10)
    half = db.get_metrics("ds-a", "half_steps", max_points=10)
    assert all(type(step) is int for step in whole.steps)
    assert any(type(step) is float for step in half.steps)


def test_the_read_uses_the_rollups_of_the_level_typescript_picks(fixture_copy: str, tmp_path: Path) -> None:
    # 50 buckets over 16,500 points: 330 points per bucket, so level 8 (spans of 256). A level-8 row
    # changed behind the SDK's back shows up in the result; raw points alone would not give it.
    tampered = str(tmp_path / "tampered.db")
    shutil.copyfile(fixture_copy, tampered)
    conn = sqlite3.connect(tampered)
    conn.execute(
        """UPDATE rollups SET max_value = 1234.5 WHERE level = 8 AND bucket = 20 AND series_id =
             (SELECT s.id FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r ON r.seq = s.run_seq
              WHERE r.id = 'ds-a' AND k.key = 'loss')"""
    )
    conn.commit()
    conn.close()
    with stonks.open(tampered) as database:
        assert 1234.5 in database.get_metrics("ds-a", "loss", max_points=100).values
        assert 1234.5 not in database.get_metrics("ds-a", "loss", max_points=1000).values


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_points": 0}, "max_points must be a whole number of at least 1"),
        ({"max_points": 2.5}, "max_points must be a whole number"),
        ({"max_points": True}, "max_points must be a whole number"),
        ({"max_points": 10, "step_range": (1, 2, 3)}, "step_range must be a (lowest step, highest step) pair"),
        ({"max_points": 10, "step_range": 5}, "step_range must be a (lowest step, highest step) pair"),
        ({"max_points": 10, "step_range": (float("nan"), 2)}, "step_range bounds must be numbers or None"),
        ({"max_points": 10, "step_range": ("0", 2)}, "step_range bounds must be numbers or None"),
    ],
)
def test_bad_arguments_raise_a_stonks_error_saying_what_is_expected(
    db: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(stonks.StonksError, match=message.replace("(", r"\(").replace(")", r"\)")):
        db.get_metrics("ds-a", "loss", **kwargs)
    with pytest.raises(stonks.StonksError):
        db.get_group_series(["ds-a"], "loss", **kwargs)


def test_get_metrics_downsampled_of_an_unknown_run_raises_not_found(db: Any) -> None:
    with pytest.raises(stonks.NotFoundError, match="No run with id 'nope'"):
        db.get_metrics("nope", "loss", max_points=10)
    assert db.get_metrics("ds-a", "never_logged", max_points=10) == DownsampledSeries("ds-a", "never_logged")


def test_the_committed_fixture_is_what_the_script_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.sqlite"
    subprocess.run(
        [sys.executable, str(VECTORS / "downsample-fixture.py"), str(fresh)],
        env=python_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )

    def rows(path: Path) -> list[Any]:
        conn = sqlite3.connect(path)
        try:
            of_run = (
                "JOIN series s ON s.id = t.series_id JOIN runs r ON r.seq = s.run_seq "
                "JOIN metric_keys k ON k.id = s.key_id"
            )
            return [
                conn.execute(
                    f"SELECT r.id, k.key, t.* FROM chunks t {of_run} ORDER BY r.id, k.key, t.start_index"
                ).fetchall(),
                conn.execute(
                    f"SELECT r.id, k.key, t.* FROM rollups t {of_run} ORDER BY r.id, k.key, t.level, t.bucket"
                ).fetchall(),
                conn.execute(
                    """SELECT r.id, k.key, s.count, s.monotonic, s.first_step, s.last_step, s.min_value, s.max_value
                       FROM series s JOIN runs r ON r.seq = s.run_seq JOIN metric_keys k ON k.id = s.key_id
                       ORDER BY r.id, k.key"""
                ).fetchall(),
            ]
        finally:
            conn.close()

    committed, written = rows(FIXTURE), rows(fresh)
    # Chunk and series ids depend on nothing but the order of writes, which the script fixes.
    assert written == committed
    assert len(committed[0]) > 20 and len(committed[1]) > 300


# Grouped aggregates.


def group_as_expected(group: GroupSeries) -> dict[str, Any]:
    return {name: getattr(group, name) for name in GROUP_FIELDS}


_written_groups: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def _write_group_vectors() -> Any:
    yield
    if WRITE and _written_groups:
        groups = [f" {json.dumps(vector)}" for vector in _written_groups]
        head = json.dumps({"description": GROUPS["description"], "file": GROUPS["file"]})
        text = head[:-1] + ',\n"groups": [\n' + ",\n".join(groups) + "\n]}\n"
        (VECTORS / "group-aggregates.json").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("vector", GROUPS["groups"], ids=lambda v: f"{'+'.join(v['runs'])} {v['key']}: {v['why']}")
def test_group_series_matches_the_golden_aggregates(db: Any, vector: dict[str, Any]) -> None:
    group = db.get_group_series(
        vector["runs"], vector["key"], max_points=vector["max_points"], step_range=step_range(vector)
    )
    assert group.run_ids == vector["runs"] and group.key == vector["key"]
    if WRITE:
        cases = {name: value for name, value in vector.items() if name != "expect"}
        _written_groups.append({**cases, "expect": group_as_expected(group)})
        return
    assert group_as_expected(group) == vector["expect"]


def bucketing_steps(steps: list[float], first: int, end: int, monotonic: bool, buckets: int) -> list[float]:
    """The step each point of a window [first, end) of a series's points (all of them, by step) is
    bucketed by, by the rule of docs/grouping.md: its own step, or, when the window is read through
    rollups of level L and the point's whole span of 2^L points lies inside the window, its span's
    mean step."""
    total = end - first
    levels = [level for level in ROLLUP_LEVELS if GROUP_SPANS_PER_BUCKET * 2**level * buckets <= total]
    if not monotonic or not levels:
        return steps[first:end]
    span = 2 ** levels[-1]
    out = []
    for i in range(first, end):
        start = i // span * span
        stop = min(start + span, len(steps))
        out.append(statistics.fmean(steps[start:stop]) if first <= start and stop <= end else steps[i])
    return out


def direct_aggregate(
    db: Any, path: str, runs: list[str], key: str, buckets: int, lo: float | None, hi: float | None
) -> dict[str, Any]:
    """The rule of docs/grouping.md computed the plain way: every point read, grouped with dicts,
    statistics module."""
    points = {}
    with sqlite3.connect(path) as conn:
        for run_id in runs:
            series = db.get_metrics(run_id, key)
            row = conn.execute(
                "SELECT s.monotonic FROM series s JOIN metric_keys k ON k.id = s.key_id JOIN runs r "
                "ON r.seq = s.run_seq WHERE r.id = ? AND k.key = ?",
                (run_id, key),
            ).fetchone()
            inside = [i for i, s in enumerate(series.steps) if (lo is None or s >= lo) and (hi is None or s <= hi)]
            if not inside:
                points[run_id] = []
                continue
            at = bucketing_steps(list(series.steps), inside[0], inside[-1] + 1, row[0] == 1, buckets)
            points[run_id] = [
                (series.steps[i], series.values[i], at[j])
                for j, i in enumerate(inside)
                if math.isfinite(series.values[i])
            ]
    every = [s for run in points.values() for s, _, _ in run]
    if not every:
        return {**{name: [] for name in GROUP_FIELDS}, "first_step": None, "last_step": None}
    low = lo if lo is not None else min(every)
    high = hi if hi is not None else max(every)
    width = (high - low) / buckets
    per_bucket: dict[int, list[tuple[float, float]]] = {}
    for run_id in runs:
        mine: dict[int, list[tuple[float, float]]] = {}
        for s, v, at in points[run_id]:
            b = 0 if width <= 0 else min(buckets - 1, math.floor((at - low) / width))
            mine.setdefault(b, []).append((s, v))
        for b, cell in mine.items():
            per_bucket.setdefault(b, []).append(
                (statistics.fmean(s for s, _ in cell), statistics.fmean(v for _, v in cell))
            )
    out: dict[str, Any] = {name: [] for name in GROUP_FIELDS}
    out["first_step"], out["last_step"] = min(every), max(every)
    for b in sorted(per_bucket):
        means = [v for _, v in per_bucket[b]]
        std = statistics.stdev(means) if len(means) > 1 else 0.0
        out["steps"].append(statistics.fmean(s for s, _ in per_bucket[b]))
        out["mean"].append(statistics.fmean(means))
        out["std"].append(std)
        out["stderr"].append(std / math.sqrt(len(means)))
        out["min"].append(min(means))
        out["max"].append(max(means))
        out["count"].append(len(means))
    return out


@pytest.mark.parametrize("vector", GROUPS["groups"], ids=lambda v: f"{'+'.join(v['runs'])} {v['key']}: {v['why']}")
def test_group_series_agrees_with_a_direct_computation(db: Any, fixture_copy: str, vector: dict[str, Any]) -> None:
    group = db.get_group_series(
        vector["runs"], vector["key"], max_points=vector["max_points"], step_range=step_range(vector)
    )
    direct = direct_aggregate(
        db, fixture_copy, vector["runs"], vector["key"], vector["max_points"], vector["min_step"], vector["max_step"]
    )
    assert group.count == direct["count"]
    assert (group.first_step, group.last_step) == (direct["first_step"], direct["last_step"])
    for name in ("steps", "mean", "std", "stderr", "min", "max"):
        assert getattr(group, name) == pytest.approx(direct[name], rel=1e-9, abs=1e-12), name


def test_the_golden_aggregates_cover_partial_buckets_and_single_runs() -> None:
    expects = [vector["expect"] for vector in GROUPS["groups"]]
    counts = {count for e in expects for count in e["count"]}
    assert {1, 2, 3} <= counts
    assert any(e["steps"] == [] for e in expects)
    assert any(0.0 < std for e in expects for std in e["std"])


def test_group_series_leaves_out_values_that_are_not_numbers(tmp_path: Path) -> None:
    path = str(tmp_path / "nan.db")
    ids = []
    for values in ([1.0, float("nan"), 3.0], [5.0, 7.0, float("inf")]):
        with stonks.start_run("nan", db=path) as run:
            for step, value in enumerate(values):
                run.log({"x": value}, step=step)
            ids.append(run.id)
    with stonks.open(path) as database:
        group = database.get_group_series(ids, "x", max_points=3)
    assert group.steps == [0, 1, 2]
    assert group.mean == [3.0, 7.0, 3.0]
    assert group.count == [2, 1, 1]
    assert group.std == [pytest.approx(math.sqrt(8.0)), 0.0, 0.0]
    assert group.stderr[0] == pytest.approx(2.0)


def test_group_series_of_an_unknown_run_raises_not_found(db: Any) -> None:
    with pytest.raises(stonks.NotFoundError, match="No run with id 'nope'"):
        db.get_group_series(["ds-a", "nope"], "loss", max_points=10)
    with pytest.raises(stonks.StonksError, match="max_points must be a whole number"):
        db.get_group_series(["ds-a"], "loss", max_points=None)
