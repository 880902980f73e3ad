"""The on-disk layout of points (docs/schema.md): chunks, rollups, series summary."""

from __future__ import annotations

import random
import re
import sqlite3
from functools import partial

import pytest
from conftest import REPO_ROOT, dump_points, query

import stonks
from stonks import _db, _store


def typescript_rollup_levels():
    source = (REPO_ROOT / "src" / "store" / "rollup.ts").read_text()
    found = re.search(r"ROLLUP_LEVELS = \[([0-9, ]+)\]", source)
    assert found, "ROLLUP_LEVELS not found in src/store/rollup.ts"
    return tuple(int(x) for x in found.group(1).split(","))


LEVELS = typescript_rollup_levels()


def test_rollup_levels_are_the_typescript_stores_levels() -> None:
    assert _store.ROLLUP_LEVELS == LEVELS


def expected_rollups(steps, values, times):
    """Rollup rows recomputed from scratch, straight from the schema's words."""
    rows = []
    for level in LEVELS:
        span = 1 << level
        for bucket in range((len(values) + span - 1) // span):
            lo, hi = bucket * span, min(len(values), (bucket + 1) * span)
            low = high = lo
            for i in range(lo + 1, hi):
                if values[i] < values[low]:
                    low = i
                if values[i] > values[high]:
                    high = i
            rows.append(
                (
                    level,
                    bucket,
                    hi - lo,
                    steps[lo],
                    steps[hi - 1],
                    values[low],
                    steps[low],
                    times[low],
                    values[high],
                    steps[high],
                    times[high],
                )
            )
    return rows


def check_series(path: str, steps, values, times) -> None:
    [entry] = dump_points(path).values()
    chunks = entry["chunks"]
    position = 0
    for start, count, first, last, chunk_steps, chunk_values, chunk_times in chunks:
        assert start == position and 0 < count <= 1024
        assert chunk_steps == [float(s) for s in steps[start : start + count]]
        assert chunk_values == values[start : start + count]
        assert chunk_times == times[start : start + count]
        assert (first, last) == (chunk_steps[0], chunk_steps[-1])
        position += count
    assert position == len(values)
    # Every chunk but the last is full: the tail is refilled, never left short.
    assert all(c[1] == 1024 for c in chunks[:-1])
    assert entry["rollups"] == expected_rollups(steps, values, times)
    count, monotonic, first_step, last_step, last_value, last_time, low, high = entry["summary"]
    assert (count, first_step, last_step, last_value, last_time) == (
        len(values),
        steps[0],
        steps[-1],
        values[-1],
        times[-1],
    )
    assert (low, high) == (min(values), max(values))
    assert monotonic == int(all(a <= b for a, b in zip(steps, steps[1:])))


def append_in_batches(path: str, steps, values, times, sizes) -> None:
    conn = _db.connect(path)
    try:

        def create():
            started = _store.insert_run(
                conn, _store.NewRun("fmt", None, {}, [], None, None, None, 1.0, {"sdk_language": "python"})
            )
            return _store.ensure_series(conn, started.seq, "loss")

        series_id = _db.run_immediate(conn, create)
        i = 0
        for size in sizes:
            batch = slice(i, i + size)
            _db.run_immediate(
                conn, partial(_store.append_points, conn, series_id, steps[batch], values[batch], times[batch])
            )
            i += size
        assert i == len(values)
    finally:
        conn.close()


def test_batches_of_any_size_give_the_layout_of_one_batch(tmp_path) -> None:
    rng = random.Random(7)
    n = 40_000
    steps = list(range(n))
    # Few distinct values: many ties, which must keep the earlier point; -0.0 against 0.0 too.
    values = [rng.choice([0.0, -0.0, 1.0, -1.0, 2.5, rng.random()]) for _ in range(n)]
    times = [1_700_000_000 + i * 0.001 for i in range(n)]
    sizes = []
    left = n
    while left:
        size = min(left, rng.choice([1, 3, 63, 64, 65, 1000, 1023, 1024, 1025, 5000]))
        sizes.append(size)
        left -= size
    one = str(tmp_path / "one.db")
    many = str(tmp_path / "many.db")
    append_in_batches(one, steps, values, times, [n])
    append_in_batches(many, steps, values, times, sizes)
    check_series(one, steps, values, times)
    check_series(many, steps, values, times)


def test_non_monotonic_steps_clear_the_flag_and_read_sorted(tmp_path) -> None:
    path = str(tmp_path / "s.db")
    steps = [0, 1, 2, 10, 5, 5, 6]
    values = [0.0, 1.0, 2.0, 10.0, 5.0, 5.5, 6.0]
    times = [float(i) for i in range(7)]
    append_in_batches(path, steps, values, times, [3, 4])
    check_series(path, steps, values, times)
    assert query(path, "SELECT monotonic FROM series") == [(0,)]


def test_chunk_ids_only_grow_as_the_tail_is_refilled(db_path: str) -> None:
    run = stonks.start_run("fmt", db=db_path).start()
    seen = []
    for _round in range(5):
        for _ in range(300):
            run.log({"loss": 1.0})
        run.flush()
        seen.append(query(db_path, "SELECT max(id) FROM chunks")[0][0])
    run.finish()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert query(db_path, "SELECT start_index, count FROM chunks ORDER BY start_index") == [(0, 1024), (1024, 476)]


def test_sdk_writes_points_of_many_flushes_in_the_documented_layout(db_path: str) -> None:
    rng = random.Random(3)
    with stonks.start_run("fmt", db=db_path) as run:
        for step in range(5000):
            run.log({"loss": rng.choice([1.0, 2.0, rng.random()])}, step=step)
            if rng.random() < 0.01:
                run.flush()
    with stonks.open(db_path) as db:
        series = db.get_metrics(run.id, "loss")
    check_series(db_path, series.steps, series.values, series.timestamps)


def test_series_summary_and_keys_are_shared_across_runs(db_path: str) -> None:
    for _ in range(2):
        with stonks.start_run("fmt", db=db_path) as run:
            run.log({"loss": 3.0})
            run.log({"loss": 1.0})
            run.log({"loss": 2.0})
    assert query(db_path, "SELECT count(*) FROM metric_keys") == [(1,)]
    with stonks.open(db_path) as db:
        [summary] = db.get_summaries(run.id)
    assert (summary.key, summary.count, summary.last, summary.min, summary.max, summary.last_step) == (
        "loss",
        3,
        2.0,
        1.0,
        3.0,
        2.0,
    )


def test_revision_grows_on_every_run_row_change(db_path: str) -> None:
    def revision(run_id):
        return query(db_path, "SELECT revision FROM runs WHERE id = ?", (run_id,))[0][0]

    first = stonks.start_run("fmt", db=db_path).start()
    r1 = revision(first.id)
    second = stonks.start_run("fmt", db=db_path).start()
    assert revision(second.id) == r1 + 1
    first.log_config({"a": 1})
    first.flush()
    r2 = revision(first.id)
    assert r2 > revision(second.id)
    first.finish()
    assert revision(first.id) > r2
    second.finish()
    assert revision(second.id) == query(db_path, "SELECT max(revision) FROM runs")[0][0]


def test_deleting_a_run_cascades_to_its_points(db_path: str) -> None:
    with stonks.start_run("fmt", db=db_path) as run:
        for _ in range(200):
            run.log({"loss": 1.0})
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM runs")
    conn.commit()
    conn.close()
    assert query(
        db_path, "SELECT (SELECT count(*) FROM series) + (SELECT count(*) FROM chunks) + (SELECT count(*) FROM rollups)"
    ) == [(0,)]


def test_resume_continues_steps_and_merges_config(db_path: str) -> None:
    with stonks.start_run("res", config={"lr": 0.1}, db=db_path, tags=["a"]) as first:
        for _ in range(10):
            first.log({"loss": 1.0})
    with stonks.start_run("res", config={"epochs": 5}, db=db_path, tags=["b"], resume="latest") as again:
        assert again.id == first.id
        again.log({"loss": 2.0})
    with stonks.start_run("res", db=db_path, resume=first.id) as third:
        third.log({"loss": 3.0}, step=50)
        third.log({"loss": 4.0})
    with stonks.open(db_path) as db:
        [info] = db.list_runs()
        series = db.get_metrics(first.id, "loss")
    assert info.status == "completed"
    assert info.config == {"lr": 0.1, "epochs": 5}
    assert info.tags == ["a", "b"]
    assert series.steps == [*range(10), 10, 50, 51]


def test_resume_errors_and_latest_without_runs(db_path: str) -> None:
    with stonks.start_run("new-exp", db=db_path, resume="latest") as run:
        run.log({"loss": 1.0})
    with stonks.open(db_path) as db:
        assert [r.id for r in db.list_runs()] == [run.id]
    with pytest.raises(stonks.NotFoundError):
        stonks.start_run("new-exp", db=db_path, resume="no-such-run", strict=True).start()
    with pytest.raises(stonks.StonksError, match="another experiment"):
        stonks.start_run("other-exp", db=db_path, resume=run.id, strict=True).start()


def test_runs_get_palette_indexes_the_experiments_newest_runs_do_not_use_and_keep_them(db_path: str) -> None:
    def create(experiment: str) -> str:
        with stonks.start_run(experiment, db=db_path, strict=True) as run:
            pass
        return run.id

    def indexes(experiment: str):
        return [
            row[0]
            for row in query(
                db_path,
                "SELECT r.color_index FROM runs r JOIN experiments e "
                "ON e.id = r.experiment_id WHERE e.name = ? ORDER BY r.seq",
                (experiment,),
            )
        ]

    ids = []
    for _i in range(14):
        ids.append(create("a"))
        create("b")
    assert indexes("a") == list(range(14))
    assert indexes("b") == list(range(14))
    conn = _db.connect(db_path)
    try:
        conn.execute("DELETE FROM runs WHERE id IN (?, ?)", (ids[3], ids[13]))
    finally:
        conn.close()
    assert indexes("a") == [i for i in range(14) if i not in (3, 13)]
    # The 13 newest now use 0..12 but 3: the new run takes 3.
    create("a")
    assert indexes("a")[-1] == 3


def test_the_palette_index_expression_is_the_typescript_stores_expression() -> None:
    source = (REPO_ROOT / "src" / "store" / "writes.ts").read_text()
    found = re.search(r"const COLOR_INDEX_SQL = `([^`]+)`;", source)
    assert found, "COLOR_INDEX_SQL not found in src/store/writes.ts"
    assert _store._COLOR_INDEX_SQL == found.group(1)
